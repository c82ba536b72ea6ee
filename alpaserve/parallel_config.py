"""Parallel configurations: pipeline stages, each a layer range on a tensor-parallel sub-mesh.

A :class:`ParallelConfig` belongs to one model. Stage ``k`` runs layers
``[layer_start, layer_end)`` sharded over a logical mesh of shape ``mesh_shape``
(``tensor_degree = rows * cols`` devices). Stages are contiguous and cover the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from typing import Any

from alpaserve._validation import non_negative_int, positive_int
from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec


@dataclass(frozen=True, kw_only=True)
class StageConfig:
    """One pipeline stage.

    Parameters
    ----------
    layer_start, layer_end : int
        The stage's layers ``[layer_start, layer_end)``; non-empty, ``layer_start >= 0``.
    mesh_shape : tuple of (int, int), default (1, 1)
        Logical ``(rows, cols)`` device mesh; its product is the tensor degree.

    Raises
    ------
    SpecError
        If the layer range is empty or negative, or the shape is not two positive ints.

    Examples
    --------
    >>> StageConfig(layer_start=0, layer_end=12, mesh_shape=(1, 2)).tensor_degree
    2
    """

    layer_start: int
    layer_end: int
    mesh_shape: tuple[int, int] = (1, 1)

    def __post_init__(self) -> None:
        non_negative_int("StageConfig", "layer_start", self.layer_start)
        positive_int("StageConfig", "layer_end", self.layer_end)
        if self.layer_end <= self.layer_start:
            raise SpecError(f"StageConfig layer range [{self.layer_start}, {self.layer_end}) "
                            "is empty")
        shape = tuple(self.mesh_shape)
        if len(shape) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s <= 0
                                  for s in shape):
            raise SpecError(f"StageConfig.mesh_shape must be two positive ints, "
                            f"got {self.mesh_shape!r}")
        object.__setattr__(self, "mesh_shape", shape)

    @property
    def tensor_degree(self) -> int:
        return self.mesh_shape[0] * self.mesh_shape[1]

    @property
    def num_layers(self) -> int:
        return self.layer_end - self.layer_start

    def to_dict(self) -> dict[str, Any]:
        """The stage as a JSON-ready dict.

        Returns
        -------
        dict of str to Any
            ``layers`` as ``[start, end]`` and ``mesh_shape`` as a list.

        Examples
        --------
        >>> StageConfig(layer_start=0, layer_end=4, mesh_shape=(1, 2)).to_dict()
        {'layers': [0, 4], 'mesh_shape': [1, 2]}
        """
        return {"layers": [self.layer_start, self.layer_end], "mesh_shape": list(self.mesh_shape)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageConfig:
        """Build a stage from :meth:`to_dict`'s output.

        Parameters
        ----------
        data : dict of str to Any
            ``layers`` (``[start, end]``) and ``mesh_shape``.

        Returns
        -------
        StageConfig
            The validated stage.

        Raises
        ------
        SpecError
            If a key is missing or a value is invalid.

        Examples
        --------
        >>> StageConfig.from_dict({"layers": [0, 4], "mesh_shape": [1, 2]}).num_layers
        4
        """
        try:
            start, end = data["layers"]
            return cls(layer_start=start, layer_end=end, mesh_shape=tuple(data["mesh_shape"]))
        except (TypeError, KeyError, ValueError) as exc:
            raise SpecError(f"cannot build a StageConfig from {data!r}: {exc}") from exc


@dataclass(frozen=True, kw_only=True)
class ParallelConfig:
    """A model's pipeline of stages.

    Parameters
    ----------
    stages : tuple of StageConfig
        Non-empty, contiguous stages starting at layer 0.

    Raises
    ------
    SpecError
        If the stages are empty, not ``StageConfig``, or not contiguous from layer 0.

    Examples
    --------
    >>> cfg = ParallelConfig.uniform(num_layers=24, pipeline_degree=2, tensor_degree=2)
    >>> cfg.key, cfg.num_devices, [s.layer_end for s in cfg.stages]
    ('pp2-tp2', 4, [12, 24])
    """

    stages: tuple[StageConfig, ...]

    def __post_init__(self) -> None:
        stages = tuple(self.stages)
        object.__setattr__(self, "stages", stages)
        if not stages:
            raise SpecError("ParallelConfig.stages must not be empty")
        for stage in stages:
            if not isinstance(stage, StageConfig):
                raise SpecError(f"ParallelConfig.stages must hold StageConfig, got {stage!r}")
        if stages[0].layer_start != 0:
            raise SpecError(f"ParallelConfig must start at layer 0, starts at "
                            f"{stages[0].layer_start}")
        for prev, nxt in pairwise(stages):
            if prev.layer_end != nxt.layer_start:
                raise SpecError(f"ParallelConfig stages are not contiguous: "
                                f"[{prev.layer_start}, {prev.layer_end}) then "
                                f"[{nxt.layer_start}, {nxt.layer_end})")

    @classmethod
    def uniform(cls, *, num_layers: int, pipeline_degree: int = 1, tensor_degree: int = 1,
                mesh_rows: int = 1) -> ParallelConfig:
        """Split ``num_layers`` as evenly as possible into ``pipeline_degree`` stages.

        Earlier stages get the extra layer when the split is uneven; each stage uses a
        ``(mesh_rows, tensor_degree // mesh_rows)`` logical mesh.

        Parameters
        ----------
        num_layers : int
            Layers of the model; positive.
        pipeline_degree : int, default 1
            Number of stages; positive, at most ``num_layers``.
        tensor_degree : int, default 1
            Devices per stage; positive.
        mesh_rows : int, default 1
            Rows of each stage's mesh; must divide ``tensor_degree``.

        Returns
        -------
        ParallelConfig
            The config, keyed ``pp{pipeline_degree}-tp{tensor_degree}`` (``x{mesh_rows}``
            appended when ``mesh_rows > 1``).

        Raises
        ------
        SpecError
            If a degree is not positive, ``pipeline_degree > num_layers``, or ``mesh_rows``
            does not divide ``tensor_degree``.

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=5, pipeline_degree=2)
        >>> [(s.layer_start, s.layer_end) for s in cfg.stages]
        [(0, 3), (3, 5)]
        >>> ParallelConfig.uniform(num_layers=4, tensor_degree=4, mesh_rows=2).key
        'pp1-tp4x2\'
        """
        positive_int("ParallelConfig.uniform", "num_layers", num_layers)
        positive_int("ParallelConfig.uniform", "pipeline_degree", pipeline_degree)
        positive_int("ParallelConfig.uniform", "tensor_degree", tensor_degree)
        positive_int("ParallelConfig.uniform", "mesh_rows", mesh_rows)
        if pipeline_degree > num_layers:
            raise SpecError(f"pipeline_degree={pipeline_degree} exceeds num_layers={num_layers}")
        if tensor_degree % mesh_rows:
            raise SpecError(f"mesh_rows={mesh_rows} does not divide tensor_degree={tensor_degree}")
        base, extra = divmod(num_layers, pipeline_degree)
        stages, start = [], 0
        for k in range(pipeline_degree):
            end = start + base + (1 if k < extra else 0)
            stages.append(StageConfig(layer_start=start, layer_end=end,
                                      mesh_shape=(mesh_rows, tensor_degree // mesh_rows)))
            start = end
        return cls(stages=tuple(stages))

    @property
    def pipeline_degree(self) -> int:
        return len(self.stages)

    @property
    def num_layers(self) -> int:
        return self.stages[-1].layer_end

    # derived once per config: planners ask for these thousands of times per plan
    @cached_property
    def tensor_degrees(self) -> tuple[int, ...]:
        return tuple(s.tensor_degree for s in self.stages)

    @cached_property
    def num_devices(self) -> int:
        return sum(self.tensor_degrees)

    def __hash__(self) -> int:
        # configs key the profile index: hash the stages once (the instance is frozen)
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.stages,))  # the value dataclass would compute
            object.__setattr__(self, "_hash", h)
        return h

    @property
    def is_uniform(self) -> bool:
        """Same mesh on every stage and the even layer split of :meth:`uniform`."""
        first = self.stages[0]
        try:
            even = ParallelConfig.uniform(num_layers=self.num_layers,
                                          pipeline_degree=self.pipeline_degree,
                                          tensor_degree=first.tensor_degree,
                                          mesh_rows=first.mesh_shape[0])
        except SpecError:
            return False
        return even == self

    @property
    def key(self) -> str:
        """A short readable name; uniform configs read ``pp{p}-tp{t}``."""
        first = self.stages[0]
        if self.is_uniform:
            rows = f"x{first.mesh_shape[0]}" if first.mesh_shape[0] > 1 else ""
            return f"pp{self.pipeline_degree}-tp{first.tensor_degree}{rows}"
        parts = [f"{s.layer_start}:{s.layer_end}@{s.mesh_shape[0]}x{s.mesh_shape[1]}"
                 for s in self.stages]
        return "stages[" + ",".join(parts) + "]"

    def validate_for(self, model: ModelSpec) -> None:
        """Raise ``SpecError`` unless this config can run ``model``.

        Parameters
        ----------
        model : ModelSpec
            The model to check against.

        Raises
        ------
        SpecError
            If the config covers another number of layers, or a stage's tensor degree does
            not divide the model's ``num_heads`` or ``ffn_size``.

        Examples
        --------
        >>> from alpaserve.model_presets import model_preset
        >>> ParallelConfig.uniform(num_layers=4).validate_for(model_preset("bert-1.3b"))
        Traceback (most recent call last):
        ...
        alpaserve.errors.SpecError: config pp1-tp1 covers 4 layers but model 'bert-1.3b' has 24
        """
        if self.num_layers != model.num_layers:
            raise SpecError(f"config {self.key} covers {self.num_layers} layers but model "
                            f"{model.name!r} has {model.num_layers}")
        for k, stage in enumerate(self.stages):
            t = stage.tensor_degree
            if model.num_heads % t:
                raise SpecError(f"tensor degree {t} of stage {k} in config {self.key} does "
                                f"not divide num_heads={model.num_heads} of {model.name!r}")
            if model.ffn_size % t:
                raise SpecError(f"tensor degree {t} of stage {k} in config {self.key} does "
                                f"not divide ffn_size={model.ffn_size} of {model.name!r}")

    def stage_weight_bytes(self, model: ModelSpec) -> tuple[int, ...]:
        """Weight bytes each device of each stage holds (the stage's weights / its degree).

        Parameters
        ----------
        model : ModelSpec
            The model; checked with :meth:`validate_for`.

        Returns
        -------
        tuple of int
            Bytes per device of each stage, rounded up; the first includes the embeddings.

        Raises
        ------
        SpecError
            If the config cannot run ``model``.

        Examples
        --------
        >>> from alpaserve.model_presets import model_preset
        >>> bert = model_preset("bert-1.3b")
        >>> one = ParallelConfig.uniform(num_layers=24).stage_weight_bytes(bert)
        >>> one == (bert.weight_bytes,)
        True
        """
        self.validate_for(model)
        return tuple(-(-model.layer_range_weight_bytes(s.layer_start, s.layer_end)
                       // s.tensor_degree) for s in self.stages)

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-ready dict.

        Returns
        -------
        dict of str to Any
            ``stages``: a list of :meth:`StageConfig.to_dict` dicts.

        Examples
        --------
        >>> ParallelConfig.uniform(num_layers=2).to_dict()
        {'stages': [{'layers': [0, 2], 'mesh_shape': [1, 1]}]}
        """
        return {"stages": [s.to_dict() for s in self.stages]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParallelConfig:
        """Build a config from :meth:`to_dict`'s output.

        Parameters
        ----------
        data : dict of str to Any
            ``stages``: a list of stage dicts.

        Returns
        -------
        ParallelConfig
            The validated config.

        Raises
        ------
        SpecError
            If a key is missing or the stages are invalid.

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=4, pipeline_degree=2)
        >>> ParallelConfig.from_dict(cfg.to_dict()) == cfg
        True
        """
        try:
            return cls(stages=tuple(StageConfig.from_dict(s) for s in data["stages"]))
        except (TypeError, KeyError) as exc:
            raise SpecError(f"cannot build a ParallelConfig from {data!r}: {exc}") from exc
