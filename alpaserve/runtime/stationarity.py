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
  stole, during the attempt, in cores (:mod:`alpaserve.runtime.host_load`; read from
  ``/proc/stat`` minus this process's own CPU time, ``None`` where there is no
  ``/proc/stat``). With the Ray backend the actors' CPU counts as other load.
* *Stalls during the run*: the tail of the run's own service times (:func:`service_tail`),
  which sees a slowdown confined to the middle of a run that both probes miss.
* *Speed changes while calibrating contention*: where a contention curve is calibrated
  (:mod:`alpaserve.runtime.contention`), its one-busy pass times a stage alone again a moment
  after its lone timing; ``s(1)`` far from 1 means the host's speed moved in between, and the
  prediction built on that curve says little.
* *Speed changes during the run, seen by the contention calibrations*: where contention is
  calibrated, it is calibrated just before and just after the run and the prediction uses
  their average; a large :func:`~alpaserve.runtime.bracket.calibration_shift` between
  the two means the run saw a host neither describes.
* *Speed changes during the run, seen by the run*: the stage runs that had the host to
  themselves (no other stage run overlapping) against the calibrated lone latency
  (:func:`alone_speed`). On the 2-core VM this moved between -7% and +74% from one run to
  the next while the calibrations around each run agreed within 15%: the host's speed
  flips within seconds, and only the run itself sees the state it ran in.

:func:`~alpaserve.runtime.steady_runs.run_until_steady` repeats an attempt until ``needed``
of them saw a steady host (:class:`Tolerance`), at most ``max_attempts`` times;
:class:`~alpaserve.runtime.steady_runs.SteadyRuns` holds every attempt, why each unsteady one
was set aside, and the median of the steady ones. The host is judged on the probes, the
counters and the real run's service times, never on the prediction or the difference, so a
broken simulator or dispatcher cannot pass for a drifting host. (A runtime whose own stages
stall would: its skip message shows the tail.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from alpaserve._validation import non_negative_float
from alpaserve.errors import SimulationError
from alpaserve.profiles import ProfileDB
from alpaserve.runtime.host_load import (
    HostLoad,
)

logger = logging.getLogger(__name__)

MIN_TAIL_SAMPLES = 50  # a p99 of fewer service times says little
MIN_ALONE_RUNS = 10  # a median of fewer lone stage runs says little


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
    ``max_calibration_skew``: the largest ``|s(1) - 1|`` of a contention calibration: a stage
    timed alone in the curve's one-busy pass against the same stage timed alone a moment
    before; on a host whose speed holds they agree within about 10%.
    ``max_calibration_shift``: the largest change of a stage's contended service time between
    the contention calibrations just before and just after the run
    (:func:`~alpaserve.runtime.bracket.calibration_shift`): the prediction uses their
    average, which describes the run only if the host's speed held between them.
    ``max_alone_speed``: the largest ``|alone_speed|``, how far the stage runs that had the
    host to themselves were from their calibrated lone latency (:func:`alone_speed`).

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
    max_calibration_skew : float, default 0.15
        Largest ``|s(1) - 1|`` of the contention calibration.
    max_calibration_shift : float, default 0.2
        Largest shift between the contention calibrations around the run.
    max_alone_speed : float, default 0.2
        Largest change of a lone stage run's time during the run against its calibration.
    """

    max_drift: float = 0.30
    max_other_cores: float = 0.05
    max_steal_cores: float = 0.01
    max_tail: float = 3.5
    max_calibration_skew: float = 0.15
    max_calibration_shift: float = 0.2
    max_alone_speed: float = 0.2

    def __post_init__(self) -> None:
        non_negative_float("Tolerance", "max_drift", self.max_drift)
        non_negative_float("Tolerance", "max_other_cores", self.max_other_cores)
        non_negative_float("Tolerance", "max_steal_cores", self.max_steal_cores)
        non_negative_float("Tolerance", "max_tail", self.max_tail)
        non_negative_float("Tolerance", "max_calibration_skew", self.max_calibration_skew)
        non_negative_float("Tolerance", "max_calibration_shift", self.max_calibration_shift)
        non_negative_float("Tolerance", "max_alone_speed", self.max_alone_speed)


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
    calibration_skew : float, optional
        ``s(1) - 1`` of the contention calibration made for the attempt (none: no
        calibration).
    calibration_shift : float, optional
        How far the contention calibration after the run moved from the one before
        (:func:`~alpaserve.runtime.bracket.calibration_shift`; none: not bracketed).
    alone_speed : float, optional
        The median stage run that had the host to itself over its calibrated lone latency,
        minus 1 (:func:`alone_speed`; none: no calibration or too few such runs).
    """

    drift: dict[str, float]
    load: HostLoad
    tail: float | None = None
    calibration_skew: float | None = None
    calibration_shift: float | None = None
    alone_speed: float | None = None

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
        skew = self.calibration_skew
        if skew is not None and abs(skew) > tolerance.max_calibration_skew:
            out.append(f"the contention calibration's lone stage was {100 * skew:+.1f}% off "
                       f"its lone timing (max {100 * tolerance.max_calibration_skew:.0f}%): "
                       "the host's speed changed while calibrating")
        shift = self.calibration_shift
        if shift is not None and shift > tolerance.max_calibration_shift:
            out.append(f"the contention calibrations before and after the run differ by "
                       f"{100 * shift:.1f}% (max {100 * tolerance.max_calibration_shift:.0f}%): "
                       "the host's speed changed during the run")
        alone = self.alone_speed
        if alone is not None and abs(alone) > tolerance.max_alone_speed:
            out.append(f"stages running alone took {100 * alone:+.1f}% of their calibrated "
                       f"lone time (max {100 * tolerance.max_alone_speed:.0f}%): the host ran "
                       "at another speed during the run")
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
        skew = ("" if self.calibration_skew is None
                else f", calibration skew {100 * self.calibration_skew:+.1f}%")
        skew += ("" if self.calibration_shift is None
                 else f", calibration shift {100 * self.calibration_shift:.1f}%")
        skew += ("" if self.alone_speed is None
                 else f", lone stage runs {100 * self.alone_speed:+.1f}%")
        return (f"speed drift {100 * self.worst_drift:+.1f}%, {load}, own "
                f"{self.load.own_cores:.2f} cores over {self.load.wall:.1f}s{tail}{skew}")

    def to_dict(self) -> dict[str, Any]:
        """The readings as JSON-ready values.

        Returns
        -------
        dict
            Drift per entry and its worst value, the loads, the tail, the calibration's
            skew and shift, and the lone stage runs' speed.
        """
        return {"drift": dict(self.drift), "worst_drift": self.worst_drift,
                "wall": self.load.wall, "other_cores": self.load.other_cores,
                "steal_cores": self.load.steal_cores, "own_cores": self.load.own_cores,
                "tail": self.tail, "calibration_skew": self.calibration_skew,
                "calibration_shift": self.calibration_shift, "alone_speed": self.alone_speed}


def alone_speed(begin: npt.ArrayLike, end: npt.ArrayLike, lone: npt.ArrayLike, *,
                min_runs: int = MIN_ALONE_RUNS) -> float | None:
    """How much slower than calibrated the stage runs that had the host to themselves were.

    Of the given stage runs, those that overlap no other run are timed alone, as the
    calibration timed their lone latency; the median of their time over that latency,
    minus 1, is the host's change of speed during the run as the run itself saw it. Only
    the real run's timings and the calibration enter, never the prediction.

    Parameters
    ----------
    begin, end : array_like
        ``(r,)`` seconds: every stage run of the real run (a batch once).
    lone : array_like
        ``(r,)`` seconds: each run's calibrated lone latency.
    min_runs : int, default 10
        The fewest lone runs judged.

    Returns
    -------
    float or None
        The signed change (0.1: 10% slower), or ``None`` with fewer than ``min_runs``.

    Examples
    --------
    Two overlapping runs, then three alone that took 1.2 times their lone latency:

    >>> round(alone_speed([0, 0.5, 2, 3, 4], [1, 1.5, 2.6, 3.6, 4.6], [1, 1, 0.5, 0.5, 0.5],
    ...                   min_runs=3), 6)
    0.2
    """
    b, e = np.asarray(begin, dtype=np.float64), np.asarray(end, dtype=np.float64)
    base = np.asarray(lone, dtype=np.float64)
    order = np.argsort(b, kind="stable")
    b, e, base = b[order], e[order], base[order]
    ended_before = np.maximum.accumulate(np.r_[-np.inf, e[:-1]]) if e.size else e
    starts_after = np.r_[b[1:], np.inf] if b.size else b
    alone = (ended_before <= b) & (starts_after >= e) & (base > 0)
    if int(alone.sum()) < min_runs:
        return None
    return float(np.median((e[alone] - b[alone]) / base[alone])) - 1.0


def __getattr__(name: str) -> Any:
    # The attempts loop lives in steady_runs (it needs Tolerance from here); old paths work.
    if name in ("Attempt", "SteadyRuns", "run_until_steady"):
        import importlib

        return getattr(importlib.import_module("alpaserve.runtime.steady_runs"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
