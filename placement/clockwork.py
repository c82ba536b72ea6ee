"""Clockwork++: selective replication re-solved for every time window of the workload.

The workload's span is cut into windows of ``window`` seconds; SR runs on each window's
requests, giving one placement per window (a window without requests keeps the previous
one). Swapping costs time: a model that a device did not hold in the previous window is
loaded when the window starts and serves only once its weights are copied (see
:mod:`simulator.schedule`, whose rules :func:`schedule_replicas` reproduces for the
compiled evaluator).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alpaserve.errors import PlacementError
from placement.alpaserve_search import LogEntry
from placement.evaluator import Evaluator, EvalWorkload, Replica
from placement.problem import Problem
from placement.selective_replication import selective_replication, sr_space
from placement.space import Assignment, SearchSpace


@dataclass(frozen=True, kw_only=True)
class ClockworkOptions:
    """How Clockwork++ cuts time and which traffic it solves each window on.

    Parameters
    ----------
    window : float
        Seconds per placement (> 0).
    oracle : bool
        Solve each window on the evaluated workload itself (Clockwork++ as the AlpaServe
        paper runs it: it knows each window's traffic) instead of the training workload.

    Raises
    ------
    PlacementError
        If ``window`` is not a positive finite number.

    Examples
    --------
    >>> ClockworkOptions(window=30.0).oracle
    False
    """

    window: float = 60.0
    oracle: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.window, int | float) and math.isfinite(self.window)
                and self.window > 0):
            raise PlacementError(f"ClockworkOptions.window must be positive, got {self.window!r}")


@dataclass(frozen=True, kw_only=True)
class ClockworkOutcome:
    """One placement per window, on one set of groups.

    Parameters
    ----------
    space : SearchSpace
        The groups every window uses (selective replication's one-device groups).
    starts : tuple of float
        Each window's start in seconds.
    assignments : tuple of Assignment
        Each window's replicas, in the order of ``starts``.
    log : tuple of LogEntry
        One entry per solved window (windows without requests are not solved).

    Examples
    --------
    See :func:`clockwork_pp`.
    """

    space: SearchSpace
    starts: tuple[float, ...]
    assignments: tuple[Assignment, ...]
    log: tuple[LogEntry, ...]


def time_slice(prepared: EvalWorkload, start: float, end: float) -> EvalWorkload:
    """The requests arriving in ``[start, end)``.

    Parameters
    ----------
    prepared : EvalWorkload
        The workload.
    start, end : float
        The interval in seconds.

    Returns
    -------
    EvalWorkload
        Those requests, with per-model counts recomputed.

    Examples
    --------
    >>> from placement.evaluator import prepare_workload
    >>> from workloads.workload import Workload
    >>> w = prepare_workload(Workload.from_arrays(arrival=[0.0, 1.0, 2.0], model="a"), ["a"],
    ...                      slo=1.0)
    >>> time_slice(w, 1.0, 2.0).arrival.tolist()
    [1.0]
    """
    lo, hi = np.searchsorted(prepared.arrival, [start, end], side="left")
    code = prepared.code[lo:hi]
    return EvalWorkload(model_names=prepared.model_names, arrival=prepared.arrival[lo:hi],
                            code=code, slo=prepared.slo[lo:hi], deadline=prepared.deadline[lo:hi],
                            counts=np.bincount(code, minlength=len(prepared.model_names))
                            .astype(np.int64))


def window_starts(begin: float, end: float, window: float) -> list[float]:
    """Start times of the windows covering ``[begin, end)``.

    Parameters
    ----------
    begin, end : float
        The span in seconds.
    window : float
        Window length in seconds (> 0).

    Returns
    -------
    list of float
        ``begin + k * window`` for each window; at least one.

    Examples
    --------
    >>> window_starts(0.0, 150.0, 60.0)
    [0.0, 60.0, 120.0]
    """
    n = max(1, math.ceil((end - begin) / window))
    return [begin + k * window for k in range(n)]


def clockwork_pp(problem: Problem, *, work: EvalWorkload | None = None,
                 begin: float | None = None, end: float | None = None,
                 window: float = 60.0) -> ClockworkOutcome:
    """SR per window of ``work`` (default: the training workload) over ``[begin, end)``.

    A window without requests keeps the previous window's placement.

    Parameters
    ----------
    problem : Problem
        The placement problem.
    work : EvalWorkload, optional
        The traffic to solve on; default ``problem.train``.
    begin, end : float, optional
        The span in seconds; default from the first arrival to just past the last.
    window : float, default 60.0
        Seconds per placement.

    Returns
    -------
    ClockworkOutcome
        The windows' start times and placements.

    Raises
    ------
    PlacementError
        If the workload has no request.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> p = tiny_problem(num_models=2, num_devices=2)
    >>> out = clockwork_pp(p, window=10.0)
    >>> len(out.starts), len(out.assignments), out.log[0].phase
    (3, 3, 'clockwork++-sr')
    """
    w = work or problem.train
    if w.num_requests == 0:
        raise PlacementError("Clockwork++ needs a workload with at least one request")
    b = float(w.arrival[0]) if begin is None else begin
    e = float(w.arrival[-1]) + 1e-9 if end is None else end
    space = sr_space(problem)
    starts = window_starts(b, e, window)
    assignments: list[Assignment] = []
    log: list[LogEntry] = []
    for k, s in enumerate(starts):
        t0 = time.perf_counter()
        sub = time_slice(w, s, s + window)
        if sub.num_requests == 0 and assignments:
            assignments.append(assignments[-1].copy())
            continue
        res, _, entry = selective_replication(problem, work=sub, space=space)
        assignments.append(res.assignment)
        log.append(LogEntry(bucket=f"window{k}@{s:.1f}s", devices=entry.devices,
                            layout=entry.layout, phase="clockwork++-sr", good=entry.good,
                            requests=entry.requests, evaluations=entry.evaluations,
                            seconds=time.perf_counter() - t0))
    return ClockworkOutcome(space=space, starts=tuple(starts), assignments=tuple(assignments),
                            log=tuple(log))


def schedule_replicas(space: SearchSpace, starts: Sequence[float],
                      assignments: Sequence[Assignment], bandwidth: float) -> list[Replica]:
    """Windowed replicas with load delays, for :meth:`Evaluator.evaluate`.

    The rules of :mod:`simulator.schedule`: a replica new in window ``w > 0`` is ready once
    its heaviest stage's weights are copied; the first window's replicas are loaded before
    serving starts.

    Parameters
    ----------
    space : SearchSpace
        The groups of every window.
    starts : Sequence[float]
        Each window's start in seconds.
    assignments : Sequence[Assignment]
        Each window's replicas.
    bandwidth : float
        Host-to-device bandwidth of one device in bytes per second.

    Returns
    -------
    list of Replica
        Each window's replicas with their active interval and ready time.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> from placement.selective_replication import sr_space
    >>> sp = sr_space(tiny_problem(num_models=2, num_devices=1))
    >>> first, second = sp.empty(), sp.empty()
    >>> first.add(0, 0); second.add(0, 1)
    >>> reps = schedule_replicas(sp, [0.0, 10.0], [first, second], bandwidth=1e9)
    >>> [(r.model, r.active_from, r.active_until, round(r.ready_at, 6)) for r in reps]
    [(0, -inf, 10.0, -inf), (1, 10.0, inf, 10.000532)]
    """
    reps: list[Replica] = []
    prev = np.zeros((space.num_groups, space.num_models), dtype=bool)
    for w, (s, assign) in enumerate(zip(starts, assignments, strict=True)):
        until = starts[w + 1] if w + 1 < len(starts) else math.inf
        for g, m in zip(*np.nonzero(assign.hosts), strict=True):
            ready = -math.inf
            if w > 0 and not prev[g, m]:
                shape = int(space.group_shape[g])
                ready = s + float(space.memory[shape, m].max()) / bandwidth
            reps.append(Replica(model=int(m), group=int(g), latencies=space.latencies(g, m),
                                active_from=-math.inf if w == 0 else s, active_until=until,
                                ready_at=ready))
        prev = assign.hosts
    return reps


def evaluate_schedule(problem: Problem, outcome: ClockworkOutcome, work: EvalWorkload,
                      *, offset: float = 0.0) -> int:
    """Good requests of ``work`` under the schedule shifted by ``offset`` seconds.

    Parameters
    ----------
    problem : Problem
        The placement problem (options and host-to-device bandwidth).
    outcome : ClockworkOutcome
        The schedule.
    work : EvalWorkload
        The workload to score.
    offset : float, default 0.0
        Seconds added to every window start.

    Returns
    -------
    int
        Requests of ``work`` served within their SLO.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> p = tiny_problem(num_models=2, num_devices=2)
    >>> 0 < evaluate_schedule(p, clockwork_pp(p, window=10.0), p.train) <= p.train.num_requests
    True
    """
    ev = Evaluator(work, group_stages=outcome.space.group_stages, options=problem.options)
    starts = [s + offset for s in outcome.starts]
    reps = schedule_replicas(outcome.space, starts, outcome.assignments,
                             problem.cluster.host_to_device_bandwidth)
    return ev.evaluate(reps, trace=False).good
