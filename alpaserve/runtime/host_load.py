"""How busy the host was during a run: other processes' CPU time and the hypervisor's steal.

Read from ``/proc/stat`` minus this process's own CPU time, in cores, between two samples
(:func:`cpu_sample`, :func:`host_load`); ``None`` where there is no ``/proc/stat``. One of the
signals :mod:`alpaserve.runtime.stationarity` judges a host's steadiness on.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from alpaserve.errors import SimulationError

PROC_STAT = "/proc/stat"
logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class CpuSample:
    """Host-wide and own CPU seconds at one instant (``busy``/``steal`` ``None``: unknown).

    Parameters
    ----------
    wall : float
        The clock's time in seconds.
    own : float
        This process's CPU seconds so far.
    busy, steal : float or None
        Host-wide busy and stolen CPU seconds so far; ``None`` without ``/proc/stat``.
    """

    wall: float
    own: float
    busy: float | None
    steal: float | None


@dataclass(frozen=True, kw_only=True)
class HostLoad:
    """Average cores used over ``wall`` seconds: by other processes, stolen, and our own.

    Parameters
    ----------
    wall : float
        Seconds between the two samples.
    other_cores : float or None
        Other processes' average CPU use, in cores.
    steal_cores : float or None
        Average CPU time the hypervisor gave to others, in cores.
    own_cores : float
        This process's average CPU use, in cores.
    """

    wall: float
    other_cores: float | None
    steal_cores: float | None
    own_cores: float


def parse_proc_stat(text: str) -> tuple[float, float]:
    """Busy and stolen jiffies of all CPUs from the text of ``/proc/stat``.

    Busy is user + nice + system + irq + softirq (guest time is already inside user).

    Parameters
    ----------
    text : str
        The contents of ``/proc/stat``.

    Returns
    -------
    tuple of (float, float)
        ``(busy, steal)`` in jiffies, summed over all CPUs.

    Raises
    ------
    SimulationError
        When the text has no aggregate ``cpu`` line, or it is malformed.

    Examples
    --------
    >>> parse_proc_stat("cpu  100 5 20 900 3 1 2 7 0 0\\ncpu0 50 2 10 450 1 0 1 3 0 0\\n")
    (128.0, 7.0)
    """
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            try:
                nums = [float(x) for x in fields[1:]]
            except ValueError as exc:
                raise SimulationError(f"malformed /proc/stat line {line!r}") from exc
            if len(nums) < 7:
                raise SimulationError(f"/proc/stat line {line!r} has fewer than 7 fields")
            steal = nums[7] if len(nums) > 7 else 0.0
            return nums[0] + nums[1] + nums[2] + nums[5] + nums[6], steal
    raise SimulationError("no aggregate 'cpu' line in /proc/stat text")


def cpu_sample(*, stat_path: str = PROC_STAT,
               clock: Callable[[], float] = time.perf_counter) -> CpuSample:
    """Read the host's busy/stolen CPU seconds and this process's own CPU time now.

    Parameters
    ----------
    stat_path : str, default "/proc/stat"
        Where to read the host's counters; unreadable means unknown.
    clock : callable, default time.perf_counter
        The wall clock.

    Returns
    -------
    CpuSample
        The counters now.
    """
    busy = steal = None
    try:
        with open(stat_path, encoding="ascii") as fh:
            jiffies_busy, jiffies_steal = parse_proc_stat(fh.read())
        hz = os.sysconf("SC_CLK_TCK")
        busy, steal = jiffies_busy / hz, jiffies_steal / hz
    except (OSError, ValueError, AttributeError) as exc:  # not Linux, or no /proc
        logger.debug("host CPU load unknown (%s): %s", stat_path, exc)
    # process_time counts every thread of this process (the runtime's stage threads too)
    return CpuSample(wall=clock(), own=time.process_time(), busy=busy, steal=steal)


def host_load(start: CpuSample, end: CpuSample) -> HostLoad:
    """The load between two samples; other = host busy - own (clamped at 0: jiffy rounding).

    Parameters
    ----------
    start, end : CpuSample
        Samples bracketing the interval.

    Returns
    -------
    HostLoad
        Average loads over the interval (``None`` where a sample lacks the host counters).

    Raises
    ------
    SimulationError
        When ``end`` was not taken after ``start``.

    Examples
    --------
    >>> a = CpuSample(wall=0.0, own=1.0, busy=10.0, steal=0.0)
    >>> b = CpuSample(wall=2.0, own=1.5, busy=12.5, steal=0.2)
    >>> host_load(a, b)
    HostLoad(wall=2.0, other_cores=1.0, steal_cores=0.1, own_cores=0.25)
    """
    wall = end.wall - start.wall
    if not wall > 0:
        raise SimulationError(f"CPU samples must be taken in order, got {wall!r}s apart")
    own = (end.own - start.own) / wall
    if start.busy is None or end.busy is None or start.steal is None or end.steal is None:
        return HostLoad(wall=wall, other_cores=None, steal_cores=None, own_cores=own)
    other = max(0.0, (end.busy - start.busy) - (end.own - start.own)) / wall
    return HostLoad(wall=wall, other_cores=other,
                    steal_cores=max(0.0, end.steal - start.steal) / wall, own_cores=own)
