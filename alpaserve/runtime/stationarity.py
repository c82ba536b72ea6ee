"""Was the host steady during a real run? Speed drift, other processes' load, retries.

A fidelity check compares a real run with a simulation fed the profile measured before it.
Its premise is that the stages kept that latency for the whole run. SLO-aware admission packs
requests up to their deadlines, so a stage a few percent slower than profiled makes the
borderline requests late: on a 2-core host, one other CPU-bound process moved single runs
0-17 points below their prediction. When the premise fails the comparison says nothing
about the simulator, so it is measured, not assumed:

* *Speed drift*: the serving-path profile is measured again right after the run
  (:meth:`Runtime.measure_serving_path
  <alpaserve.runtime.runtime.Runtime.measure_serving_path>`); :func:`profile_drift` is each
  entry's total latency after / before - 1. That calibration spans about a second, as the
  run does; stages timed alone back to back (50-100 ms per model) make a worse probe: on an
  oversubscribed physical host two such timings a few seconds apart differed by 30-90%
  while the two calibrations around the same runs stayed within about 15%. Even so, two
  calibrations around runs that matched their prediction differed by up to 18%, so the
  drift limit is a coarse guard against gross changes (a host that slows down by a third),
  and steal and other processes' load are the sharp signals.
* *Other load*: the CPU time the host gave to other processes, plus what the hypervisor
  stole, during the attempt, in cores (:func:`cpu_sample`, :func:`host_load`; read from
  ``/proc/stat`` minus this process's own CPU time, ``None`` where there is no
  ``/proc/stat``). With the Ray backend the actors' CPU counts as other load.
* *Stalls during the run*: the tail of the run's own service times (:func:`service_tail`),
  which sees a slowdown confined to the middle of a run that both probes miss.

:func:`run_until_steady` repeats an attempt until ``needed`` of them saw a steady host
(:class:`Tolerance`), at most ``max_attempts`` times; :class:`SteadyRuns` holds every attempt,
why each unsteady one was set aside, and the median of the steady ones. The host is judged
on the probes, the counters and the real run's service times, never on the prediction or
the difference, so a broken simulator or dispatcher cannot pass for a drifting host. (A
runtime whose own stages stall would: its skip message shows the tail.)
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from alpaserve._validation import non_negative_float, positive_int
from alpaserve.errors import SimulationError, SpecError
from alpaserve.profiles import ProfileDB

logger = logging.getLogger(__name__)

R = TypeVar("R")
PROC_STAT = "/proc/stat"
MIN_TAIL_SAMPLES = 50  # a p99 of fewer service times says little


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


def profile_drift(before: ProfileDB, after: ProfileDB) -> dict[str, float]:
    """Per entry of ``before``: total latency in ``after`` / in ``before`` - 1.

    Keys read ``model/config/bs``. Raises :class:`SimulationError` when ``after`` lacks an
    entry or ``before`` is empty.

    Parameters
    ----------
    before, after : ProfileDB
        Profiles measured before and after a run.

    Returns
    -------
    dict of str to float
        Relative change of each entry's total latency.

    Raises
    ------
    SimulationError
        When ``before`` is empty or ``after`` lacks one of its entries.
    """
    if not len(before):
        raise SimulationError("profile_drift needs a non-empty 'before' profile")
    out: dict[str, float] = {}
    for entry in before:
        if entry.key not in after:
            raise SimulationError(f"the second profile has no entry for {entry.model!r} "
                                  f"{entry.config.key} bs={entry.batch_size}")
        again = after.get(entry.model, entry.config, entry.batch_size)
        out[f"{entry.model}/{entry.config.key}/bs{entry.batch_size}"] = (
            again.total_latency / entry.total_latency - 1.0)
    return out


def service_tail(service_times: np.ndarray, *, min_samples: int = MIN_TAIL_SAMPLES) -> float | None:
    """p99 / p50 of a run's service times (``None`` with fewer than ``min_samples``).

    A service time is how long a request took from entering its first stage to leaving its
    last; only single-stage groups give pure ones (deeper pipelines add queueing between
    stages). A stage stalled by the host mid-run, which neither probe sees, shows as a long
    tail: in 161 runs, the 53 within a point of their prediction had p99/p50 of 1.8-3.3
    (two groups contending included), and 92% of the 98 more than 2 points off had 3.5 or
    more. Only the real run's own
    timings enter, never the prediction, and the dispatcher affects them only through how
    often groups overlap, which calibration already made the worst case.

    Parameters
    ----------
    service_times : numpy.ndarray
        Seconds from first stage entry to last stage exit, per served request.
    min_samples : int, default 50
        The fewest samples judged.

    Returns
    -------
    float or None
        The ratio, or ``None`` with too few samples.

    Examples
    --------
    >>> round(service_tail(np.r_[np.full(98, 1.0), 5.0, 9.0], min_samples=10), 2)
    5.04
    """
    times = np.asarray(service_times, dtype=np.float64)
    times = times[np.isfinite(times)]
    if times.size < min_samples:
        return None
    p50, p99 = np.percentile(times, [50.0, 99.0])
    return float(p99 / p50) if p50 > 0 else None


@dataclass(frozen=True, kw_only=True)
class Tolerance:
    """How unsteady a host may be for a real-time comparison to count.

    ``max_drift``: the largest ``|after / before - 1|`` of any profile entry.
    ``max_other_cores``: other processes' CPU load, in cores, averaged over the attempt.
    ``max_steal_cores``: time the hypervisor gave our vCPUs to others, in cores; the
    sharpest sign of a noisy physical host (the load limits are ignored where they cannot
    be measured).
    ``max_tail``: the largest p99 / p50 of the run's own service times (:func:`service_tail`).

    Parameters
    ----------
    max_drift : float, default 0.3
        Largest relative profile change allowed.
    max_other_cores : float, default 0.05
        Largest average load of other processes, in cores.
    max_steal_cores : float, default 0.01
        Largest average steal, in cores.
    max_tail : float, default 3.5
        Largest p99/p50 of service times.
    """

    max_drift: float = 0.30
    max_other_cores: float = 0.05
    max_steal_cores: float = 0.01
    max_tail: float = 3.5

    def __post_init__(self) -> None:
        non_negative_float("Tolerance", "max_drift", self.max_drift)
        non_negative_float("Tolerance", "max_other_cores", self.max_other_cores)
        non_negative_float("Tolerance", "max_steal_cores", self.max_steal_cores)
        non_negative_float("Tolerance", "max_tail", self.max_tail)


@dataclass(frozen=True, kw_only=True)
class Stationarity:
    """What one attempt saw of the host: speed drift per profile entry, the load, and the
    tail of the run's service times (``None``: not measured).

    Parameters
    ----------
    drift : dict of str to float
        Relative profile change per entry (:func:`profile_drift`).
    load : HostLoad
        The host's load during the attempt.
    tail : float, optional
        p99/p50 of the run's service times (:func:`service_tail`).
    """

    drift: dict[str, float]
    load: HostLoad
    tail: float | None = None

    @property
    def worst_drift(self) -> float:
        """The drift of largest magnitude (signed; 0 with no entries)."""
        return max(self.drift.values(), key=abs, default=0.0)

    def violations(self, tolerance: Tolerance) -> tuple[str, ...]:
        """Why this attempt's host was not steady (empty when it was).

        Parameters
        ----------
        tolerance : Tolerance
            The limits.

        Returns
        -------
        tuple of str
            One reason per limit exceeded.
        """
        out = []
        worst = self.worst_drift
        if abs(worst) > tolerance.max_drift:
            name = next(k for k, v in self.drift.items() if v == worst)
            out.append(f"speed drifted {100 * worst:+.1f}% ({name}; max "
                       f"{100 * tolerance.max_drift:.0f}%)")
        other, steal = self.load.other_cores, self.load.steal_cores
        if other is not None and other > tolerance.max_other_cores:
            out.append(f"other processes took {other:.3f} cores (max "
                       f"{tolerance.max_other_cores:.3f})")
        if steal is not None and steal > tolerance.max_steal_cores:
            out.append(f"the hypervisor stole {steal:.3f} cores (max "
                       f"{tolerance.max_steal_cores:.3f})")
        if self.tail is not None and self.tail > tolerance.max_tail:
            out.append(f"service times p99/p50 {self.tail:.1f} (max {tolerance.max_tail:.1f}): "
                       "stages stalled during the run")
        return tuple(out)

    def describe(self) -> str:
        """One line: worst drift, the loads and the tail.

        Returns
        -------
        str
            Human-readable readings.
        """
        other, steal = self.load.other_cores, self.load.steal_cores
        load = ("others' load unknown" if other is None else
                f"other processes {other:.3f} cores, steal {steal or 0.0:.3f} cores")
        tail = "" if self.tail is None else f", service p99/p50 {self.tail:.1f}"
        return (f"speed drift {100 * self.worst_drift:+.1f}%, {load}, own "
                f"{self.load.own_cores:.2f} cores over {self.load.wall:.1f}s{tail}")

    def to_dict(self) -> dict[str, Any]:
        """The readings as JSON-ready values.

        Returns
        -------
        dict
            Drift per entry and its worst value, the loads, and the tail.
        """
        return {"drift": dict(self.drift), "worst_drift": self.worst_drift,
                "wall": self.load.wall, "other_cores": self.load.other_cores,
                "steal_cores": self.load.steal_cores, "own_cores": self.load.own_cores,
                "tail": self.tail}


@dataclass(frozen=True, kw_only=True)
class Attempt(Generic[R]):
    """One attempt's result, what it saw of the host, and why it was set aside (if it was).

    Parameters
    ----------
    result : object
        What the attempt returned (e.g. a :class:`~alpaserve.runtime.fidelity.FidelityReport`).
    stationarity : Stationarity
        What it saw of the host.
    violations : tuple of str
        Why it was set aside; empty when the host was steady.
    """

    result: R
    stationarity: Stationarity
    violations: tuple[str, ...]

    @property
    def steady(self) -> bool:
        return not self.violations


@dataclass(frozen=True, kw_only=True)
class SteadyRuns(Generic[R]):
    """Every attempt of :func:`run_until_steady`, in order.

    Parameters
    ----------
    attempts : tuple of Attempt
        Every attempt, in order.
    needed : int
        Steady attempts wanted.
    tolerance : Tolerance
        The limits the attempts were judged by.
    """

    attempts: tuple[Attempt[R], ...]
    needed: int
    tolerance: Tolerance

    @property
    def steady(self) -> list[R]:
        return [a.result for a in self.attempts if a.steady]

    @property
    def complete(self) -> bool:
        """Whether ``needed`` attempts saw a steady host (otherwise the premise failed)."""
        return len(self.steady) >= self.needed

    def median(self, key: Callable[[R], float]) -> R:
        """The steady result of median ``|key|``; with an even count, the larger of the two.

        Judging ``|key|`` (not ``key``) means at least half the steady attempts are as
        close as the one returned.

        Parameters
        ----------
        key : callable
            Maps a result to the number judged (e.g. an attainment difference in points).

        Returns
        -------
        object
            The chosen steady attempt's result.

        Raises
        ------
        SimulationError
            When no attempt was steady.
        """
        ranked = sorted(self.steady, key=lambda r: abs(key(r)))
        if not ranked:
            raise SimulationError(f"no steady attempt among {len(self.attempts)}: "
                                  f"{self.skip_reason()}")
        return ranked[len(ranked) // 2]

    def skip_reason(self, render: Callable[[R], str] | None = None) -> str:
        """Why the comparison could not be made, with every attempt's measurements and,
        with ``render``, its (unjudged) result.

        Parameters
        ----------
        render : callable, optional
            Formats a result for the message.

        Returns
        -------
        str
            A multi-line message for ``pytest.skip`` or a log.
        """
        lines = [f"{len(self.steady)} of {len(self.attempts)} attempts saw a steady host "
                 f"({self.needed} needed); the premise of a real-time comparison (stages "
                 f"keep their profiled speed) failed:"]
        for i, a in enumerate(self.attempts):
            why = "; ".join(a.violations) or "steady"
            shown = f" -> {render(a.result)}" if render is not None else ""
            lines.append(f"  attempt {i}: {why} [{a.stationarity.describe()}]{shown}")
        return "\n".join(lines)

    def describe(self, render: Callable[[R], str] = str) -> str:
        """Every attempt: its verdict on the host, then its result.

        Parameters
        ----------
        render : callable, default str
            Formats a result.

        Returns
        -------
        str
            One paragraph per attempt.
        """
        return "\n\n".join(
            f"attempt {i} ({'steady' if a.steady else '; '.join(a.violations)}):\n"
            f"{render(a.result)}" for i, a in enumerate(self.attempts))


def run_until_steady(attempt: Callable[[int], tuple[R, Stationarity]], *, needed: int = 3,
                     max_attempts: int = 5,
                     tolerance: Tolerance | None = None) -> SteadyRuns[R]:
    """Call ``attempt(i)`` until ``needed`` attempts saw a steady host, ``max_attempts`` at most.

    Stops early once the attempts left cannot reach ``needed``.

    Parameters
    ----------
    attempt : callable
        ``attempt(i)`` runs attempt ``i`` and returns its result and what it saw of the host.
    needed : int, default 3
        Steady attempts wanted.
    max_attempts : int, default 5
        The most attempts made.
    tolerance : Tolerance, optional
        The limits; :class:`Tolerance`'s defaults when omitted.

    Returns
    -------
    SteadyRuns
        Every attempt made; ``complete`` when ``needed`` were steady.

    Examples
    --------
    >>> quiet = HostLoad(wall=1.0, other_cores=0.0, steal_cores=0.0, own_cores=0.5)
    >>> drifts = iter([0.5, 0.01, 0.02])
    >>> runs = run_until_steady(lambda i: (i, Stationarity(drift={"m": next(drifts)},
    ...                                                    load=quiet)), needed=2)
    >>> runs.steady, runs.complete, len(runs.attempts)
    ([1, 2], True, 3)
    """
    positive_int("run_until_steady", "needed", needed)
    positive_int("run_until_steady", "max_attempts", max_attempts)
    if needed > max_attempts:
        raise SpecError(f"run_until_steady.needed ({needed}) exceeds max_attempts "
                        f"({max_attempts})")
    tol = tolerance if tolerance is not None else Tolerance()
    attempts: list[Attempt[R]] = []
    steady = 0
    for i in range(max_attempts):
        result, seen = attempt(i)
        why = seen.violations(tol)
        attempts.append(Attempt(result=result, stationarity=seen, violations=why))
        steady += not why
        logger.info("attempt %d: %s (%s)", i, "; ".join(why) or "steady", seen.describe())
        if steady >= needed or steady + (max_attempts - i - 1) < needed:
            break
    return SteadyRuns(attempts=tuple(attempts), needed=needed, tolerance=tol)

