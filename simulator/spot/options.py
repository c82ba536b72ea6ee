"""Options of the spot-fleet simulation."""

from __future__ import annotations

from dataclasses import dataclass

from alpaserve.errors import SimulationError


@dataclass(frozen=True, kw_only=True)
class SpotOptions:
    """Simulation options. ``slo`` (seconds) overrides the workload's ``slo`` column;
    ``max_queue_time`` drops requests that waited longer (never, by default);
    ``end_time`` defaults to the last arrival or trace event plus ``drain``."""

    grace_period: float = 30.0
    slo: float | None = None
    rate_window: float = 300.0
    rate_check_interval: float = 60.0
    rate_change: float = 0.25
    initial_rate: float | None = None
    end_time: float | None = None
    drain: float = 600.0
    max_queue_time: float | None = None

    def __post_init__(self) -> None:
        for name in ("grace_period", "drain", "rate_change"):
            if not getattr(self, name) >= 0:
                raise SimulationError(f"SpotOptions.{name} must be >= 0, got "
                                      f"{getattr(self, name)!r}")
        for name in ("rate_window", "rate_check_interval"):
            if not getattr(self, name) > 0:
                raise SimulationError(f"SpotOptions.{name} must be > 0, got "
                                      f"{getattr(self, name)!r}")
        for name in ("slo", "initial_rate", "max_queue_time"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise SimulationError(f"SpotOptions.{name} must be > 0, got {value!r}")
