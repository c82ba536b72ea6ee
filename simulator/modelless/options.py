"""Options of the model-less serving simulation (:mod:`simulator.modelless.simulate`): the
monitoring interval, horizon and limits, and noisy-neighbour interference."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from alpaserve.errors import SimulationError


@dataclass(frozen=True, kw_only=True)
class Interference:
    """A noisy neighbour: batches on ``worker`` run ``factor`` times slower in [start, end).

    Parameters
    ----------
    worker : int
        Id of the slowed worker.
    start : float
        Start, seconds.
    end : float
        End, seconds (> start).
    factor : float
        Slowdown (>= 1).

    Raises
    ------
    SimulationError
        If the factor is below 1 or the window is empty.
    """

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

    Parameters
    ----------
    monitor_interval : float
        Seconds between autoscaling ticks (> 0).
    horizon : float or None
        End of billing, seconds; None: the last arrival.
    drain_limit : float
        Seconds after the horizon queued queries may still finish (>= 0).
    max_workers : int
        Most live workers (>= 1); a policy asking for more is an error.
    interference : tuple of Interference
        Noisy-neighbour windows.
    colocation_slowdown : float
        Models GPU sharing: a batch that starts while another replica on its worker has
        queries waiting runs this many times slower, the two models' kernels contending for
        the device (>= 1; 1, the default, turns it off).

    Raises
    ------
    SimulationError
        If a value is out of range.
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
