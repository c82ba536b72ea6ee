"""A prediction for hosts where the devices share cores: service times grow with the load.

The simulator charges every stage its profiled latency, as if each stage owned its device.
Virtual CPU devices (``--xla_force_host_platform_device_count``) share the host's cores, so
a stage's service time grows with the number of stages (of all groups) running at the same
time. :class:`ContentionCurve` is that growth, measured: ``s(n)``, the factor by which a
stage's lone latency is stretched while ``n`` stages are busy; one for every stage, or one
per group (a tensor-parallel group's stages suffer more from the same load).

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
from simulator.slowdown import ContentionCurve, stretched_durations
from workloads import Workload


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


def predict_contended(placement: Placement, profiles: ProfileDB, workload: Workload, *,
                      lone: ProfileDB, curve: ContentionCurve | Sequence[ContentionCurve],
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
    curve : ContentionCurve or sequence of ContentionCurve
        The slowdown by busy-stage count: one for every stage, or one per group of
        ``placement`` (in its order) for each group's stages.
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
        :class:`~alpaserve.runtime.bracket.ContentionCalibration` measures them). When
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
        When ``damping``, ``max_rounds`` or ``tolerance`` is out of range, or ``curve`` is
        a sequence whose length is not the number of groups.
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
    if not isinstance(curve, ContentionCurve) and len(curve) != len(placement.groups):
        raise SimulationError(f"need one contention curve per group ({len(placement.groups)}"
                              f"), got {len(curve)}")
    names = workload.model_names
    # the lone and profiled stage latencies as tables, compiled once for every sample
    solo = compile_placement(placement, lone, names, max_batch=max_batch)
    prof = compile_placement(placement, profiles, names, max_batch=max_batch)
    args = (placement, profiles, workload, solo, prof, curve, slo, max_batch, feedback,
            overhead, damping, max_rounds, tolerance)
    if not pct.size:
        return _fixed_point(*args, noise=None)
    depth = int(solo.num_stages.max(initial=1))
    runs = []
    for j in range(samples):
        u = np.random.default_rng([seed, j]).random((len(workload), depth))
        runs.append(_fixed_point(*args, noise=np.interp(100.0 * u, np.arange(101.0), pct)))
    got = [float(r.result.attainment) for r in runs]
    middle = runs[int(np.argsort(got, kind="stable")[len(got) // 2])]
    return replace(middle, sample_attainments=tuple(got))


def _fixed_point(placement: Placement, profiles: ProfileDB, workload: Workload,
                 solo: Any, prof: Any, curve: ContentionCurve | Sequence[ContentionCurve],
                 slo: float | dict[str, float] | None, max_batch: int, feedback: bool,
                 overhead: float, damping: float, max_rounds: int, tolerance: float, *,
                 noise: npt.NDArray[np.float64] | None) -> ContentionPrediction:
    """One fixed point (the module doc); ``noise[i, k]`` scales the stage runs whose first
    member is request ``i``; ``solo`` and ``prof`` are the compiled lone and profiled
    latencies."""
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
                                      curve, curve_of=None if isinstance(
                                          curve, ContentionCurve) else res.group[ri])
                  if ri.size else np.empty(0))
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
