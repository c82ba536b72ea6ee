"""Options of the model-less serving simulation (:mod:`simulator.modelless.simulate`): the
monitoring interval, horizon and limits, and noisy-neighbour interference."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from alpaserve.errors import SimulationError


@dataclass(frozen=True, kw_only=True)
class Interference:
    """A noisy neighbour: batches on ``worker`` run ``factor`` times slower in [start, end)."""

    worker: int
    start: float
    end: float
    factor: float

    def __post_init__(self) -> None:
        if not (self.factor >= 1 and math.isfinite(self.factor)):
            raise SimulationError(f"interference factor must be >= 1, got {self.factor!r}")
        if not self.end > self.start:
            raise SimulationError(f"interference end {self.end!r} must exceed start "
                                  f"{self.start!r}")


@dataclass(frozen=True, kw_only=True)
class ModellessSimConfig:
    """Simulation options.

    ``horizon`` is the billing window's end (default: the last arrival); ``drain_limit`` is
    how long after the horizon queued queries may still finish before they count as dropped;
    ``max_workers`` guards against a runaway policy. ``colocation_slowdown`` models GPU
    sharing: a batch that starts while another replica on the same worker has queries
    waiting runs this many times slower (the two models' kernels contend for the device);
    1 (the default) turns it off.
    """

    monitor_interval: float = 2.0
    horizon: float | None = None
    drain_limit: float = 600.0
    max_workers: int = 1000
    interference: tuple[Interference, ...] = field(default_factory=tuple)
    colocation_slowdown: float = 1.0

    def __post_init__(self) -> None:
        if not (self.monitor_interval > 0 and math.isfinite(self.monitor_interval)):
            raise SimulationError(f"monitor_interval must be positive, got "
                                  f"{self.monitor_interval!r}")
        if self.horizon is not None and not self.horizon > 0:
            raise SimulationError(f"horizon must be positive, got {self.horizon!r}")
        if not self.drain_limit >= 0:
            raise SimulationError(f"drain_limit must be >= 0, got {self.drain_limit!r}")
        if not (self.colocation_slowdown >= 1 and math.isfinite(self.colocation_slowdown)):
            raise SimulationError(f"colocation_slowdown must be >= 1, got "
                                  f"{self.colocation_slowdown!r}")
        if self.max_workers < 1:
            raise SimulationError(f"max_workers must be >= 1, got {self.max_workers!r}")
