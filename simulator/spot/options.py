"""Options of the spot-fleet simulation."""

from __future__ import annotations

from dataclasses import dataclass

from alpaserve.errors import SimulationError


@dataclass(frozen=True, kw_only=True)
class SpotOptions:
    """Simulation options.

    Parameters
    ----------
    grace_period : float
        Seconds between a preemption notice and the removal (30 on AWS), >= 0.
    slo : float, optional
        Latency SLO in seconds for every request; overrides the workload's ``slo`` column.
    rate_window : float
        Seconds over which the arrival rate is measured (> 0).
    rate_check_interval : float
        Seconds between checks of the rate and the queue (> 0).
    rate_change : float
        Relative change of the throughput target that triggers a re-plan (>= 0; 0 turns
        rate and queue checks off).
    initial_rate : float, optional
        Requests/s assumed before a full ``rate_window`` has passed (default: the rate of
        the first window's arrivals).
    end_time : float, optional
        End of the measurement window, seconds. Default: the trace's ``DONE``, else the last
        arrival or trace event plus ``drain``.
    drain : float
        Seconds after the last arrival or event when the trace has no ``DONE`` (>= 0).
    max_queue_time : float, optional
        Requests that waited longer are dropped (never, by default).
    required_tpt : float, optional
        A fixed throughput target, requests/s, for the optimizer; overrides the trace's
        ``required_tpt`` events and the measured rate.
    headroom : float
        Without a ``required_tpt``, the optimizer targets the measured rate times
        ``1 + headroom`` (>= 0), so that a fleet sized for the rate is not at saturation.
    backlog_horizon : float
        Seconds in which the optimizer plans to drain the queue: ``queued / horizon`` is
        added to the target (> 0).
    queue_growth : int
        A re-plan is requested when the queue has grown by at least this many requests
        since the previous check and holds more than the current deployment serves in one
        round of batches (>= 1).
    warm_start : bool
        The first deployment serves from the moment it is chosen, as when the trace is a
        segment of a service already running (SpotServe's ``trace_seg``); by default it
        first loads its weights from storage.
    """

    grace_period: float = 30.0
    slo: float | None = None
    rate_window: float = 300.0
    rate_check_interval: float = 60.0
    rate_change: float = 0.25
    initial_rate: float | None = None
    end_time: float | None = None
    drain: float = 600.0
    max_queue_time: float | None = None
    required_tpt: float | None = None
    headroom: float = 0.1
    backlog_horizon: float = 300.0
    queue_growth: int = 8
    warm_start: bool = False

    def __post_init__(self) -> None:
        for name in ("grace_period", "drain", "rate_change", "headroom"):
            if not getattr(self, name) >= 0:
                raise SimulationError(f"SpotOptions.{name} must be >= 0, got "
                                      f"{getattr(self, name)!r}")
        for name in ("rate_window", "rate_check_interval", "backlog_horizon"):
            if not getattr(self, name) > 0:
                raise SimulationError(f"SpotOptions.{name} must be > 0, got "
                                      f"{getattr(self, name)!r}")
        for name in ("slo", "initial_rate", "max_queue_time", "required_tpt"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise SimulationError(f"SpotOptions.{name} must be > 0, got {value!r}")
        if isinstance(self.queue_growth, bool) or not isinstance(self.queue_growth, int) \
                or self.queue_growth < 1:
            raise SimulationError(f"SpotOptions.queue_growth must be an int >= 1, got "
                                  f"{self.queue_growth!r}")
