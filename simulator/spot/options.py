"""Options of the spot-fleet simulation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SimulationError

if TYPE_CHECKING:
    from workloads.availability import AvailabilityTrace
    from workloads.workload import Workload


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

    def run_end(self, workload: Workload, trace: AvailabilityTrace) -> float:
        """When the run ends: ``end_time``, else the trace's ``DONE``, else ``drain`` after
        the last arrival or trace event.

        Parameters
        ----------
        workload : Workload
            The requests.
        trace : AvailabilityTrace
            The fleet's nodes over time.

        Returns
        -------
        float
            The end of the window, seconds.

        Raises
        ------
        SimulationError
            If a request arrives after the end.
        """
        last = float(workload.arrival[-1]) if len(workload) else 0.0
        if self.end_time is not None:
            end = self.end_time
        elif trace.stop_time is not None:
            end = trace.stop_time
        else:
            end = max(last, trace.end_time) + self.drain
        if len(workload) and last > end:
            raise SimulationError(f"the last arrival at {last}s comes after the end of the run "
                                  f"({end}s); keep only the requests inside the window")
        return end


def windowed_rate(arrival: npt.NDArray[np.float64], now: float, *, window: float,
                  initial_rate: float | None) -> float:
    """Requests/s that arrived over the last ``window`` seconds before ``now``.

    Before a full window has passed since the first arrival, ``initial_rate`` if given, else
    the first window's rate (so the estimate does not start at zero).

    Parameters
    ----------
    arrival : numpy.ndarray
        Sorted arrival times, seconds.
    now : float
        The time of the estimate.
    window : float
        Seconds measured (> 0).
    initial_rate : float, optional
        The rate assumed during the first window.

    Returns
    -------
    float
        Requests per second.

    Examples
    --------
    >>> windowed_rate(np.array([0.0, 1.0, 2.0, 3.0]), 4.0, window=2.0, initial_rate=None)
    0.5
    """
    first = float(arrival[0]) if len(arrival) else 0.0
    if now - first < window:
        if initial_rate is not None:
            return initial_rate
        count = np.searchsorted(arrival, first + window, side="left")
    else:
        count = (np.searchsorted(arrival, now, side="right")
                 - np.searchsorted(arrival, now - window, side="right"))
    return float(count) / window
