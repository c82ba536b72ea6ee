"""A prediction for hosts where the devices share cores: service times grow with the load.

The simulator charges every stage its profiled latency, as if each stage owned its device.
Virtual CPU devices (``--xla_force_host_platform_device_count``) share the host's cores, so
a stage's service time grows with the number of stages (of all groups) running at the same
time. :class:`ContentionCurve` is that growth, measured: ``s(n)``, the factor by which a
stage's lone latency is stretched while ``n`` stages are busy.

:func:`predict_contended` predicts a run with it, as a fixed point of the run's own
concurrency. It replays the workload with :func:`~simulator.replay.replay_measured` (the
dispatcher's decisions, queues, pipelining and feedback, given per-request service times),
starting from the profiled latencies; then, for every stage run of that replay, it integrates
a processor-sharing rate ``1 / s(n(t))`` from the run's begin until its lone work is done,
where ``n(t)`` is 1 (the run itself) plus the other runs busy at ``t``; those durations,
damped, are the next replay's service times. It stops when the durations move by less than
``tolerance`` (relative) and every decision (status, group, batch size) repeats, or after
``max_rounds`` (reported, not hidden). The dispatcher keeps predicting with its own profile,
as the runtime's does: only what the stages really take changes.

A fixed point gives every run the curve's time, but real runs scatter around it, and since
admission packs requests up to their deadlines it is the slow tail that makes them late.
Given the calibration's ``spread`` (percentiles of a run's time over its median), each of
``samples`` fixed points draws one factor per stage run from it, and the median sample is
the prediction.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SimulationError
from alpaserve.placement_spec import Placement
from alpaserve.profiles import ProfileDB
from simulator.replay import replay_measured
from simulator.result import SERVED, SimResult
from simulator.semantics import compile_placement
from workloads import Workload


@dataclass(frozen=True, kw_only=True)
class ContentionCurve:
    """Slowdown of a stage by the number of stages busy at once, ``s(n)``.

    Between measured counts ``s`` is linear; past the last one it grows in proportion to
    ``n`` (processor sharing of a saturated host).

    Parameters
    ----------
    busy : tuple of int
        The measured stage counts, increasing, from 1.
    slowdown : tuple of float
        ``s`` at each count: service time over the stage's lone latency (non-decreasing).

    Raises
    ------
    SimulationError
        When the counts do not start at 1 and increase, or a slowdown is not positive or
        decreases.

    Examples
    --------
    >>> c = ContentionCurve(busy=(1, 2, 4), slowdown=(1.0, 1.5, 2.0))
    >>> c.at([1, 3, 8]).tolist(), c.effective_cores
    ([1.0, 1.75, 4.0], 2.0)
    """

    busy: tuple[int, ...]
    slowdown: tuple[float, ...]

    def __post_init__(self) -> None:
        b, s = np.asarray(self.busy), np.asarray(self.slowdown, dtype=np.float64)
        if not b.size or b.size != s.size or b[0] != 1 or np.any(np.diff(b) <= 0):
            raise SimulationError(f"contention curve counts must start at 1 and increase, "
                                  f"one slowdown each; got busy={self.busy}, "
                                  f"slowdown={self.slowdown}")
        if not np.all(np.isfinite(s)) or np.any(s <= 0) or np.any(np.diff(s) < 0):
            raise SimulationError(f"contention slowdowns must be positive and non-decreasing, "
                                  f"got {self.slowdown}")

    @classmethod
    def flat(cls, up_to: int) -> ContentionCurve:
        """``s(n) = 1`` for ``n <= up_to``: devices that do not share anything.

        Parameters
        ----------
        up_to : int
            The largest count it holds for (the placement's stage count).

        Returns
        -------
        ContentionCurve
            A flat curve.
        """
        return cls(busy=tuple(range(1, max(int(up_to), 1) + 1)),
                   slowdown=(1.0,) * max(int(up_to), 1))

    @classmethod
    def fit(cls, samples: dict[int, Sequence[float]]) -> ContentionCurve:
        """The curve through the median slowdown measured at each count.

        Medians are made non-decreasing (a running maximum: more work on the same cores is
        never faster; a dip is noise).

        Parameters
        ----------
        samples : dict of int to sequence of float
            Per busy-stage count, the measured ratios service time / lone latency.

        Returns
        -------
        ContentionCurve
            The fitted curve.

        Raises
        ------
        SimulationError
            When the counts miss 1 or a count has no finite positive sample.

        Examples
        --------
        >>> ContentionCurve.fit({1: [1.0, 1.1, 0.9], 2: [1.4, 1.6], 3: [1.5]}).slowdown
        (1.0, 1.5, 1.5)
        """
        busy = sorted(samples)
        medians = []
        for n in busy:
            x = np.asarray(samples[n], dtype=np.float64)
            x = x[np.isfinite(x) & (x > 0)]
            if not x.size:
                raise SimulationError(f"no valid contention sample with {n} stages busy")
            medians.append(float(np.median(x)))
        return cls(busy=tuple(int(n) for n in busy),
                   slowdown=tuple(float(v) for v in np.maximum.accumulate(medians)))

    def at(self, n: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """``s(n)`` for each count (see the class doc).

        Parameters
        ----------
        n : array_like
            Busy-stage counts (>= 1).

        Returns
        -------
        numpy.ndarray
            The slowdowns.
        """
        x = np.asarray(n, dtype=np.float64)
        last_n, last_s = float(self.busy[-1]), float(self.slowdown[-1])
        inside = np.interp(x, np.asarray(self.busy, dtype=np.float64), self.slowdown)
        return np.where(x > last_n, last_s * x / last_n, inside)

    @property
    def effective_cores(self) -> float:
        """``n / s(n)`` at the largest count: the stages' worth of work the host does at once.

        Returns
        -------
        float
            Lone-speed stages served in parallel when every measured stage is busy.
        """
        return float(self.busy[-1] / self.slowdown[-1])

    def to_dict(self) -> dict[str, Any]:
        """The curve as JSON-ready values.

        Returns
        -------
        dict
            ``busy``, ``slowdown`` and ``effective_cores``.
        """
        return {"busy": list(self.busy), "slowdown": list(self.slowdown),
                "effective_cores": self.effective_cores}


@dataclass(frozen=True, kw_only=True)
class ContentionPrediction:
    """The converged contention-aware prediction and how it got there.

    Parameters
    ----------
    result : SimResult
        Every request's predicted outcome (the last replay).
    service : numpy.ndarray
        ``(n, max_stages)`` seconds: the service times the last replay ran with (a batch's
        members share theirs; NaN: not run).
    rounds : int
        Replays made.
    converged : bool
        Whether the durations and decisions settled within the rounds allowed.
    change : float
        The largest relative change of a stage run's duration in the last round.
    attainments : tuple of float
        The attainment of each round's replay (the first: profiled service times).
    sample_attainments : tuple of float
        With a ``spread``, every sample's converged attainment (the result is the median
        sample's); empty without.
    """

    result: SimResult
    service: npt.NDArray[np.float64]
    rounds: int
    converged: bool
    change: float
    attainments: tuple[float, ...]
    sample_attainments: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready values (no per-request arrays).

        Returns
        -------
        dict
            ``rounds``, ``converged``, ``change``, ``attainments`` and
            ``sample_attainments``.
        """
        return {"rounds": self.rounds, "converged": self.converged, "change": self.change,
                "attainments": list(self.attainments),
                "sample_attainments": list(self.sample_attainments)}


def stretched_durations(begin: npt.ArrayLike, end: npt.ArrayLike, work: npt.ArrayLike,
                        curve: ContentionCurve) -> npt.NDArray[np.float64]:
    """Each run's duration when it does ``work`` seconds of lone work from ``begin`` at rate
    ``1 / s(n(t))``, ``n(t)`` being 1 plus the other runs busy over ``[begin, end)``.

    Parameters
    ----------
    begin, end : array_like
        ``(r,)`` seconds: every stage run's interval in the current round.
    work : array_like
        ``(r,)`` seconds: each run's lone latency.
    curve : ContentionCurve
        The slowdown ``s(n)``.

    Returns
    -------
    numpy.ndarray
        ``(r,)`` seconds: the new durations. A run that meets no other takes
        ``work * s(1)``; with ``s = 1`` throughout, exactly ``work``.

    Examples
    --------
    Two equal runs overlapping for half their time, ``s(2) = 2``: the first has 0.5 s alone,
    then does its last 0.5 s of work at half speed, ending at 1.5 s; the second does 0.25 s of
    work while they overlap, then 0.75 s alone. Iterated, both settle at 1.5 s.

    >>> c = ContentionCurve(busy=(1, 2), slowdown=(1.0, 2.0))
    >>> stretched_durations([0.0, 0.5], [1.0, 1.5], [1.0, 1.0], c).tolist()
    [1.5, 1.25]
    """
    b, e = np.asarray(begin, dtype=np.float64), np.asarray(end, dtype=np.float64)
    w = np.asarray(work, dtype=np.float64)
    times = np.unique(np.concatenate([b, e]))
    delta = (np.bincount(np.searchsorted(times, b), minlength=times.size)
             - np.bincount(np.searchsorted(times, e), minlength=times.size))
    level = np.cumsum(delta)  # runs busy on [times[j], times[j+1])
    points = times.tolist()
    # s(1 + others) for every level a segment can have, others = level - (own run counted)
    rate_of = curve.at(np.arange(1, int(level.max(initial=0)) + 2)).tolist()
    levels = level.tolist()
    out = np.empty(b.size)
    for i in range(b.size):
        t, left, own_end = float(b[i]), float(w[i]), float(e[i])
        j = bisect.bisect_right(points, t) - 1
        took, stretched, tiny = 0.0, False, 1e-12 * left
        while left > tiny:  # the rest: rounding of the segment sums, not work
            others = (levels[j] - (1 if points[j] < own_end else 0)) if j >= 0 else 0
            s = rate_of[max(others, 0)]
            stretched = stretched or s != 1.0
            seg = points[j + 1] - t if j + 1 < len(points) else float("inf")
            if left * s <= seg:
                took += left * s
                break
            took += seg
            left -= seg / s
            t, j = points[j + 1], j + 1
        out[i] = took if stretched else w[i]
    return out


def predict_contended(placement: Placement, profiles: ProfileDB, workload: Workload, *,
                      lone: ProfileDB, curve: ContentionCurve,
                      slo: float | dict[str, float] | None = None, max_batch: int = 1,
                      feedback: bool = True, overhead: float = 0.0, damping: float = 0.5,
                      max_rounds: int = 30, tolerance: float = 0.01,
                      spread: Sequence[float] = (), samples: int = 9,
                      seed: int = 0) -> ContentionPrediction:
    """Predict ``workload`` on ``placement`` with stage times stretched by ``curve``.

    See the module doc. Nothing measured during a run enters: the inputs are the profile
    the dispatcher predicts with, each stage's lone latency and the contention curve.

    Parameters
    ----------
    placement : Placement
        The groups and the models they host.
    profiles : ProfileDB
        The profile the dispatcher predicts with (and the first round's service times).
    workload : Workload
        The requests.
    lone : ProfileDB
        Every hosted (model, config, batch size) timed with no other stage busy.
    curve : ContentionCurve
        The slowdown by busy-stage count.
    slo : float or dict of str to float, optional
        SLO in seconds, one or per model; the workload's own by default.
    max_batch : int, default 1
        Largest batch (the batching replay above 1).
    feedback : bool, default True
        Report stage ends to the dispatcher (as the runtime does by default).
    overhead : float, default 0.0
        Seconds the dispatcher adds to every predicted finish.
    damping : float, default 0.5
        Weight of the new durations against the last round's, in (0, 1].
    max_rounds : int, default 30
        The most replays.
    tolerance : float, default 0.01
        Converged when no duration moves by more than this fraction and every decision
        repeats.
    spread : sequence of float, default ()
        Percentiles 0, 1, ..., 100 of a stage run's time over the curve's (as
        :class:`~alpaserve.runtime.contention.ContentionCalibration` measures them). When
        given, each of ``samples`` predictions draws every stage run's factor from it (fixed
        across its rounds), and the median sample is returned: a deterministic fixed point
        has no tail, and admission packs requests up to their deadlines, so the tail is what
        makes requests late.
    samples : int, default 9
        Predictions drawn with a ``spread``.
    seed : int, default 0
        Seed of the draws (``numpy.random.default_rng([seed, sample])``).

    Returns
    -------
    ContentionPrediction
        The last replay's outcomes, with the rounds and whether they converged.

    Raises
    ------
    SimulationError
        When ``damping``, ``max_rounds`` or ``tolerance`` is out of range.
    ProfileError
        When ``lone`` or ``profiles`` lacks a hosted (model, config, batch size).

    Examples
    --------
    See ``tests/test_contention.py``.
    """
    if not 0.0 < damping <= 1.0 or max_rounds < 1 or not tolerance > 0:
        raise SimulationError(f"need 0 < damping <= 1, max_rounds >= 1 and tolerance > 0, "
                              f"got {damping}, {max_rounds}, {tolerance}")
    pct = np.asarray(spread, dtype=np.float64)
    if pct.size and (pct.size != 101 or not np.all(np.isfinite(pct)) or np.any(pct <= 0)
                     or np.any(np.diff(pct) < 0)):
        raise SimulationError(f"spread must be 101 positive, non-decreasing percentiles, "
                              f"got {pct.size} values")
    if samples < 1:
        raise SimulationError(f"samples must be >= 1, got {samples}")
    args = (placement, profiles, workload, lone, curve, slo, max_batch, feedback, overhead,
            damping, max_rounds, tolerance)
    if not pct.size:
        return _fixed_point(*args, noise=None)
    depth = max((g.num_stages for g in placement.groups), default=1)
    runs = []
    for j in range(samples):
        u = np.random.default_rng([seed, j]).random((len(workload), depth))
        runs.append(_fixed_point(*args, noise=np.interp(100.0 * u, np.arange(101.0), pct)))
    got = [float(r.result.attainment) for r in runs]
    middle = runs[int(np.argsort(got, kind="stable")[len(got) // 2])]
    return replace(middle, sample_attainments=tuple(got))


def _fixed_point(placement: Placement, profiles: ProfileDB, workload: Workload,
                 lone: ProfileDB, curve: ContentionCurve,
                 slo: float | dict[str, float] | None, max_batch: int, feedback: bool,
                 overhead: float, damping: float, max_rounds: int, tolerance: float, *,
                 noise: npt.NDArray[np.float64] | None) -> ContentionPrediction:
    """One fixed point (the module doc); ``noise[i, k]`` scales the stage runs whose first
    member is request ``i``."""
    names = workload.model_names
    solo = compile_placement(placement, lone, names, max_batch=max_batch)
    prof = compile_placement(placement, profiles, names, max_batch=max_batch)
    n, depth = len(workload), int(solo.num_stages.max(initial=1))
    codes = np.asarray(workload.model_codes)
    stages = [int(x) for x in solo.num_stages]
    service = np.full((n, depth), np.nan)
    attainments: list[float] = []
    previous: tuple[bytes, ...] | None = None
    change, converged, rounds = float("inf"), False, 0
    while True:
        rounds += 1
        rep = replay_measured(placement, profiles, workload, service=service, slo=slo,
                              feedback=feedback, overhead=overhead, max_batch=max_batch)
        res = rep.result
        attainments.append(float(res.attainment))
        served = np.flatnonzero(res.status == SERVED)
        sizes = np.maximum(np.asarray(res.batch_size), 1)
        # one stage run per (group, stage, begin): a batch's members share theirs
        heads: dict[tuple[int, float], int] = {}
        for i in served.tolist():
            heads.setdefault((int(res.group[i]), float(rep.stage_begin[i, 0])), i)
        runs_i: list[int] = []
        runs_k: list[int] = []
        for h in heads.values():
            runs_i += [h] * stages[int(res.group[h])]
            runs_k += list(range(stages[int(res.group[h])]))
        ri, rk = np.asarray(runs_i, dtype=np.int64), np.asarray(runs_k, dtype=np.int64)
        work = np.array([_lone(solo, int(res.group[i]), int(codes[i]), int(sizes[i]), int(k))
                         for i, k in zip(runs_i, runs_k, strict=True)])
        target = (stretched_durations(rep.stage_begin[ri, rk], rep.stage_end[ri, rk], work,
                                      curve) if ri.size else np.empty(0))
        if noise is not None and ri.size:
            target = target * noise[ri, rk]
        # the service each run had (NaN: the replay took the profiled latency)
        current = np.array([_lone(prof, int(res.group[i]), int(codes[i]), int(sizes[i]), int(k))
                            if np.isnan(service[i, k]) else float(service[i, k])
                            for i, k in zip(runs_i, runs_k, strict=True)])
        change = float(np.max(np.abs(target - current) / np.maximum(target, 1e-12),
                              initial=0.0))
        decisions = (res.status.tobytes(), res.group.tobytes(), sizes.tobytes())
        if change <= tolerance and decisions == previous:
            converged = True
            break
        if rounds >= max_rounds:
            break
        previous = decisions
        service = _per_request(current + damping * (target - current), heads, rep, stages,
                               n, depth)
    return ContentionPrediction(result=rep.result,
                                service=_per_request(current, heads, rep, stages, n, depth),
                                rounds=rounds, converged=converged, change=change,
                                attainments=tuple(attainments))


def _per_request(values: npt.NDArray[np.float64], heads: dict[tuple[int, float], int],
                 rep: Any, stages: Sequence[int], n: int,
                 depth: int) -> npt.NDArray[np.float64]:
    """Stage-run values (in ``heads`` order, each head's stages in turn) as ``(n, depth)``
    rows: every member of a batch carries its head's; NaN where nothing ran."""
    out = np.full((n, depth), np.nan)
    a, res = 0, rep.result
    rows = {}
    for h in heads.values():
        k = stages[int(res.group[h])]
        rows[h], a = values[a:a + k], a + k
    for i in np.flatnonzero(res.status == SERVED):
        row = rows[heads[(int(res.group[i]), float(rep.stage_begin[i, 0]))]]
        out[i, :row.size] = row
    return out


def _lone(tables: Any, g: int, m: int, size: int, k: int) -> float:
    """Lone latency of stage ``k`` of model ``m`` on group ``g`` at batch ``size``."""
    count = int(tables.num_sizes[g, m])
    j = int(np.flatnonzero(tables.sizes[g, m, :count] == size)[0])
    return float(tables.lat[g, m, j, k])
