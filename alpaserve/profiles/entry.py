"""One profile entry: a model's stage latencies and memory under one config at one batch size.

Entries come from the analytic cost model (``source="analytic"``), from the parallel-config
search (``"analytic-dp-ilp"``) or from real devices (``"measured"``); :data:`SOURCES` lists
them. :class:`~alpaserve.profiles.ProfileDB` keys them by :data:`ProfileKey`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from alpaserve._validation import non_empty_name, non_negative_float, positive_int
from alpaserve.errors import SpecError
from alpaserve.parallel_config import ParallelConfig

SOURCES = ("analytic", "analytic-dp-ilp", "measured")

ProfileKey = tuple[str, ParallelConfig, int]


@dataclass(frozen=True, kw_only=True)
class ProfileEntry:
    """Measured or estimated behaviour of one model under one config at one batch size.

    ``stage_weight_bytes`` and ``stage_peak_memory_bytes`` are per device of each stage.

    Parameters
    ----------
    model : str
        Model name; non-empty.
    config : ParallelConfig
        The parallel config profiled.
    batch_size : int
        Requests per batch; positive.
    stage_latencies : tuple of float
        Seconds per batch in each stage (one per stage); positive and finite.
    stage_weight_bytes : tuple of int
        Weight bytes per device of each stage; non-negative.
    stage_peak_memory_bytes : tuple of int
        Peak memory bytes per device of each stage (weights and activations).
    source : {"analytic", "analytic-dp-ilp", "measured"}
        Where the numbers come from.
    latency_std : float, default 0.0
        Standard deviation of the total latency in seconds (measured profiles).
    tflops : float, default 0.0
        Achieved TFLOP/s, when known.

    Raises
    ------
    SpecError
        If a value is out of range or a per-stage tuple's length differs from the number
        of stages.

    Examples
    --------
    >>> cfg = ParallelConfig.uniform(num_layers=4, pipeline_degree=2)
    >>> e = ProfileEntry(model="m", config=cfg, batch_size=1, stage_latencies=(0.1, 0.2),
    ...                  stage_weight_bytes=(10, 10), stage_peak_memory_bytes=(12, 12),
    ...                  source="analytic")
    >>> round(e.total_latency, 3), e.max_stage_latency
    (0.3, 0.2)
    """

    model: str
    config: ParallelConfig
    batch_size: int
    stage_latencies: tuple[float, ...]
    stage_weight_bytes: tuple[int, ...]
    stage_peak_memory_bytes: tuple[int, ...]
    source: str
    latency_std: float = 0.0
    tflops: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.config, ParallelConfig):
            raise SpecError(f"ProfileEntry.config must be a ParallelConfig, got {self.config!r}")
        owner = f"ProfileEntry({self.model!r}, {self.config.key}, bs={self.batch_size})"
        non_empty_name("ProfileEntry", "model", self.model)
        positive_int(owner, "batch_size", self.batch_size)
        if self.source not in SOURCES:
            raise SpecError(f"{owner}.source must be one of {SOURCES}, got {self.source!r}")
        p = self.config.pipeline_degree
        for name in ("stage_latencies", "stage_weight_bytes", "stage_peak_memory_bytes"):
            values = tuple(getattr(self, name))
            object.__setattr__(self, name, values)
            if len(values) != p:
                raise SpecError(f"{owner}.{name} has {len(values)} values for {p} stages")
        lats = self.stage_latencies
        if any(isinstance(x, bool) or not isinstance(x, Real) or not (math.isfinite(x) and x > 0)
               for x in lats):
            raise SpecError(f"{owner}.stage_latencies must be positive and finite, got {lats}")
        object.__setattr__(self, "stage_latencies", tuple(float(x) for x in lats))
        for name in ("stage_weight_bytes", "stage_peak_memory_bytes"):
            values = getattr(self, name)
            if any(isinstance(b, bool) or not isinstance(b, Integral) or b < 0 for b in values):
                raise SpecError(f"{owner}.{name} must be non-negative ints, got {values}")
            object.__setattr__(self, name, tuple(int(b) for b in values))
        non_negative_float(owner, "latency_std", self.latency_std)
        non_negative_float(owner, "tflops", self.tflops)

    @property
    def key(self) -> ProfileKey:
        return (self.model, self.config, self.batch_size)

    @property
    def total_latency(self) -> float:
        """Latency of one batch through every stage (no queueing)."""
        return float(sum(self.stage_latencies))

    @property
    def max_stage_latency(self) -> float:
        """The slowest stage: the pipeline's steady-state time between batches."""
        return float(max(self.stage_latencies))

    def to_dict(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict.

        Returns
        -------
        dict of str to Any
            Every field by name (the config as a dict); :meth:`from_dict` inverts it.

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=4)
        >>> e = ProfileEntry(model="m", config=cfg, batch_size=1, stage_latencies=(0.1,),
        ...                  stage_weight_bytes=(8,), stage_peak_memory_bytes=(8,),
        ...                  source="measured")
        >>> e.to_dict()["config"]
        {'stages': [{'layers': [0, 4], 'mesh_shape': [1, 1]}]}
        """
        return {
            "model": self.model,
            "config": self.config.to_dict(),
            "batch_size": self.batch_size,
            "stage_latencies": list(self.stage_latencies),
            "stage_weight_bytes": list(self.stage_weight_bytes),
            "stage_peak_memory_bytes": list(self.stage_peak_memory_bytes),
            "source": self.source,
            "latency_std": self.latency_std,
            "tflops": self.tflops,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProfileEntry:
        """Build an entry from :meth:`to_dict`'s output.

        Parameters
        ----------
        data : Mapping[str, Any]
            The fields by name, ``config`` as a dict.

        Returns
        -------
        ProfileEntry
            The validated entry.

        Raises
        ------
        SpecError
            If a field is missing, unknown or out of range.

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=4)
        >>> e = ProfileEntry(model="m", config=cfg, batch_size=1, stage_latencies=(0.1,),
        ...                  stage_weight_bytes=(8,), stage_peak_memory_bytes=(8,),
        ...                  source="measured")
        >>> ProfileEntry.from_dict(e.to_dict()) == e
        True
        """
        try:
            fields = dict(data)
            fields["config"] = ParallelConfig.from_dict(fields["config"])
            for name in ("stage_latencies", "stage_weight_bytes", "stage_peak_memory_bytes"):
                fields[name] = tuple(fields[name])
            return cls(**fields)
        except (TypeError, KeyError) as exc:
            raise SpecError(f"cannot build a ProfileEntry from {data!r}: {exc}") from exc
