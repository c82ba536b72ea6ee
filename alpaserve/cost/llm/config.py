"""The parallel config of one LLM deployment: data replicas of ``pipeline × tensor`` devices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alpaserve._validation import positive_int
from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig


@dataclass(frozen=True, kw_only=True)
class LLMConfig:
    """``data`` replicas, each ``pipeline`` stages of ``tensor`` devices, serving static
    batches of up to ``batch`` requests split into ``micro_batches``.

    Parameters
    ----------
    data : int
        Replicas; positive.
    pipeline : int
        Pipeline stages per replica; positive.
    tensor : int
        Devices per stage (tensor parallelism); positive.
    batch : int
        Largest static batch, in requests; positive.
    micro_batches : int, default 1
        Micro-batches a batch is split into in the pipeline; at most ``batch``.

    Raises
    ------
    SpecError
        If a value is not positive or ``micro_batches > batch``.

    Examples
    --------
    >>> c = LLMConfig(data=2, pipeline=2, tensor=4, batch=8, micro_batches=2)
    >>> c.key, c.num_devices, c.replica_devices
    ('d2-p2-t4-b8-m2', 16, 8)
    """

    data: int
    pipeline: int
    tensor: int
    batch: int
    micro_batches: int = 1

    def __post_init__(self) -> None:
        for name in ("data", "pipeline", "tensor", "batch", "micro_batches"):
            positive_int("LLMConfig", name, getattr(self, name))
        if self.micro_batches > self.batch:
            raise SpecError(f"LLMConfig.micro_batches={self.micro_batches} exceeds "
                            f"batch={self.batch}")

    @property
    def replica_devices(self) -> int:
        return self.pipeline * self.tensor

    @property
    def num_devices(self) -> int:
        return self.data * self.replica_devices

    @property
    def key(self) -> str:
        return (f"d{self.data}-p{self.pipeline}-t{self.tensor}-b{self.batch}"
                f"-m{self.micro_batches}")

    def with_data(self, data: int) -> LLMConfig:
        """The same replica shape with another number of replicas.

        Parameters
        ----------
        data : int
            Replicas; positive.

        Returns
        -------
        LLMConfig
            The config with ``data`` replicas.

        Examples
        --------
        >>> cfg = LLMConfig(data=1, pipeline=2, tensor=2, batch=4)
        >>> cfg.with_data(3).key
        'd3-p2-t2-b4-m1\'
        """
        return LLMConfig(data=data, pipeline=self.pipeline, tensor=self.tensor,
                         batch=self.batch, micro_batches=self.micro_batches)

    def parallel_config(self, model: ModelSpec) -> ParallelConfig:
        """The per-replica pipeline (uniform layer split).

        Parameters
        ----------
        model : ModelSpec
            The model to split.

        Returns
        -------
        ParallelConfig
            ``pipeline`` stages of ``tensor`` devices.

        Raises
        ------
        SpecError
            If the config cannot run ``model``.

        Examples
        --------
        >>> cfg = LLMConfig(data=1, pipeline=2, tensor=2, batch=4)
        >>> from alpaserve.model_presets import model_preset
        >>> cfg.parallel_config(model_preset("gpt-1.3b")).key
        'pp2-tp2\'
        """
        cfg = ParallelConfig.uniform(num_layers=model.num_layers, pipeline_degree=self.pipeline,
                                     tensor_degree=self.tensor)
        cfg.validate_for(model)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-ready dict.

        Returns
        -------
        dict of str to Any
            ``data``, ``pipeline``, ``tensor``, ``batch`` and ``micro_batches``.

        Examples
        --------
        >>> cfg = LLMConfig(data=1, pipeline=2, tensor=2, batch=4)
        >>> cfg.to_dict()
        {'data': 1, 'pipeline': 2, 'tensor': 2, 'batch': 4, 'micro_batches': 1}
        """
        return {"data": self.data, "pipeline": self.pipeline, "tensor": self.tensor,
                "batch": self.batch, "micro_batches": self.micro_batches}
