"""Replay a real run: the simulator's dispatch rules fed with the service times a run measured.

The runtime (:mod:`alpaserve.runtime`) serves a workload with the simulator's policy:
earliest predicted finish with SLO-aware admission, where the prediction is the recurrence of
:mod:`simulator.semantics` over the *profiled* stage latencies. What it then really does
differs from the prediction only through the service times: a stage takes as long as it
takes. :func:`replay_measured` re-runs the same decisions in virtual time with the
service time each request really took at each stage, so that a run and its replay can be
compared request by request (admitted or dropped, group, start and finish). Any difference
larger than the runtime's timer jitter is a difference in dispatch, queueing or pipelining
between the runtime and the simulator, whatever the host's load was.

Rules (those of :class:`~alpaserve.runtime.dispatch.Dispatcher` and the stage threads):

* Requests are decided in workload order, request ``i`` at ``decided[i]`` (when the runtime's
  dispatcher actually looked at it; ``>= arrival``), by the runtime's own
  :class:`~simulator.dispatch.Dispatcher` over the profiled latencies: the recurrence over
  the predicted free times ``P[g][k]`` starting at ``decided[i]``, plus ``overhead``; the
  earliest predicted finish wins (ties to the lower group) and a request whose predicted
  finish is later than ``arrival + slo`` is dropped.
* An admitted request enters stage 0 of its group at ``decided[i]``. Stage ``k`` begins it at
  ``max(ready, B[g][k]) + handoff[i, k]`` (``B`` the stage's real busy-until time, ``ready``
  the end of its previous stage, ``handoff`` the runtime's measured delay in taking it, 0
  by default) and ends ``service[i, k]`` later: every stage is a FIFO server, and
  consecutive stages overlap across requests (pipelining).
* With ``feedback`` every stage end is reported to the dispatcher as it happens: before
  deciding request ``i``, each stage end at or before ``decided[i]`` moves ``P[g][k]`` to
  ``max(P[g][k], end)``.

When every service time equals its profiled latency and ``decided == arrival``, the replay
is the simulator's earliest-finish policy without batching, request by request (checked in
``tests/test_replay.py`` against :func:`simulator.simulate`).

With batching (``max_batch > 1``) the dispatcher queues admitted requests per group, and a
group forms its next batch (:meth:`~simulator.dispatch.Dispatcher.form_batch`) at
``max(B[g][0], decided[head]) + handoff[head, 0]``: once its stage 0 is free and its oldest
queued request was decided, after the formation's measured delay. Decisions at or before a
formation's time come first, and formations of equal times go in group order. The batch then
runs through the stages with the service and handoff times measured for its head request
(NaN service: the profiled latency of its batch size). With profiled service times and no
delays this is the simulator's batching rule, request by request.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SimulationError
from alpaserve.placement_spec import Placement
from alpaserve.profiles import ProfileDB
from simulator.dispatch import Dispatcher
from simulator.result import DROPPED, SERVED, SimResult
from simulator.semantics import PlacementTables, compile_placement
from workloads import Workload


@dataclass(frozen=True, kw_only=True)
class ReplayResult:
    """A replay's per-request outcomes, with each stage's begin and end.

    Parameters
    ----------
    result : SimResult
        Arrival, start, finish, group, status and batch size per request
        (``engine="replay"``).
    stage_begin, stage_end : numpy.ndarray
        ``(n, max_stages)`` seconds; NaN for stages a request did not run.
    formed : numpy.ndarray, optional
        With batching: ``(n,)`` seconds at which each request left its group's queue (in a
        batch or dropped); NaN for requests never queued.
    """

    result: SimResult
    stage_begin: npt.NDArray[np.float64]
    stage_end: npt.NDArray[np.float64]
    formed: npt.NDArray[np.float64] | None = None


def run_stages(ready: float, busy: list[float], service: Sequence[float],
               handoff: Sequence[float] | None = None) -> list[float]:
    """Begin times of one request through a pipeline of FIFO stages (updates ``busy``).

    Parameters
    ----------
    ready : float
        When the request can enter stage 0.
    busy : list of float
        Each stage's busy-until time; updated in place to the request's stage ends.
    service : sequence of float
        The request's service time at each stage, in seconds.
    handoff : sequence of float, optional
        Seconds between a stage becoming able to take the request and taking it; 0 by
        default.

    Returns
    -------
    list of float
        The begin time at each stage (the ends are the new ``busy``).

    Examples
    --------
    >>> busy = [0.0, 0.0]
    >>> run_stages(0.0, busy, [1.0, 1.0]), busy
    ([0.0, 1.0], [1.0, 2.0])
    >>> run_stages(0.5, busy, [1.0, 1.0]), busy  # stage 0 is free at 1.0, stage 1 at 2.0
    ([1.0, 2.0], [2.0, 3.0])
    """
    begins = []
    for k, s in enumerate(service):
        begin = max(ready, busy[k]) + (handoff[k] if handoff is not None else 0.0)
        begins.append(begin)
        ready = busy[k] = begin + s
    return begins


def replay_measured(placement: Placement, profiles: ProfileDB, workload: Workload, *,
                    service: npt.ArrayLike, decided: npt.ArrayLike | None = None,
                    handoff: npt.ArrayLike | None = None,
                    slo: float | dict[str, float] | None = None, feedback: bool = True,
                    overhead: float = 0.0, max_batch: int = 1) -> ReplayResult:
    """Replay ``workload`` on ``placement`` with measured service times (see the module doc).

    Parameters
    ----------
    placement : Placement
        The groups and the models they host.
    profiles : ProfileDB
        The profile the dispatcher predicted with (batch size 1).
    workload : Workload
        The requests, in the order they were decided.
    service : array_like
        ``(n, max_stages)`` seconds each request spent in each stage of the group it ran on.
        A NaN (a request the run did not serve) is replaced by the profiled latency.
    decided : array_like, optional
        When each request was decided, in seconds (``>= arrival``); the arrivals by default.
    handoff : array_like, optional
        ``(n, max_stages)`` seconds each stage took to take the request once it could (NaN
        or omitted: 0).
    slo : float or dict of str to float, optional
        SLO in seconds, one or per model; the workload's own by default.
    feedback : bool, default True
        Report stage ends to the dispatcher (as the runtime does by default).
    overhead : float, default 0.0
        Seconds the dispatcher adds to every predicted finish.
    max_batch : int, default 1
        Largest batch; above 1 the batching rules apply (see the module doc), and
        ``handoff[i, 0]`` is the delay of the formation that took request ``i`` off its queue.

    Returns
    -------
    ReplayResult
        The replayed outcome of every request, in workload order.

    Raises
    ------
    SimulationError
        When ``service`` or ``decided`` has the wrong shape, holds a negative or infinite
        value, or a decision comes before its arrival.
    ProfileError
        When a hosted (model, config) has no batch-1 profile.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> from alpaserve.model_spec import model_preset
    >>> from alpaserve.placement_spec import Group
    >>> from alpaserve.cost.model import analytic_profiles
    >>> m = model_preset("bert-1.3b")
    >>> p = Placement(cluster=homogeneous_cluster(2), models={m.name: m},
    ...               groups=(Group.uniform(name="g0", device_ids=(0, 1), pipeline_degree=2,
    ...                                     models=[m]),))
    >>> db = analytic_profiles(models=[m], cluster=p.cluster, max_group_size=2)
    >>> w = Workload.from_arrays(arrival=[0.0, 0.0], model=m.name, slo=10.0)
    >>> r = replay_measured(p, db, w, service=[[0.1, 0.1], [0.1, 0.3]])
    >>> r.result.finish.tolist(), r.stage_begin[1].tolist()
    ([0.2, 0.5], [0.1, 0.2])
    """
    names = workload.model_names
    tables = compile_placement(placement, profiles, names, max_batch=max_batch)
    n, depth = len(workload), int(tables.num_stages.max(initial=1))
    arrival = np.asarray(workload.arrival, dtype=np.float64)
    times = _checked_service(service, n, depth, "service")
    delays = (np.zeros_like(times) if handoff is None
              else np.nan_to_num(_checked_service(handoff, n, depth, "handoff"), nan=0.0))
    when = arrival.copy() if decided is None else np.asarray(decided, dtype=np.float64)
    if when.shape != (n,) or not np.all(np.isfinite(when)) or np.any(when < arrival):
        raise SimulationError(f"decided must hold {n} finite times, each at or after its "
                              "request's arrival")
    slos = workload.slo_array(slo)
    lat1 = tables.lat[:, :, 0, :]
    stages = [int(s) for s in tables.num_stages]
    dispatcher = table_dispatcher(tables, overhead=overhead)
    if dispatcher.batching:
        return _replay_batching(workload, tables, dispatcher, times, delays, when, slos,
                                feedback)
    busy = [[-np.inf] * s for s in stages]
    pending: list[tuple[float, int, int]] = []  # stage ends not yet reported: (end, g, k)
    start, finish = np.full(n, np.nan), np.full(n, np.nan)
    group, status = np.full(n, -1, dtype=np.int32), np.full(n, SERVED, dtype=np.int8)
    begin_at, end_at = np.full((n, depth), np.nan), np.full((n, depth), np.nan)
    for i in range(n):
        t, m = float(when[i]), int(workload.model_codes[i])
        while feedback and pending and pending[0][0] <= t:
            end, g, k = heapq.heappop(pending)
            dispatcher.observe(g, k, end)
        decision = dispatcher.decide(names[m], arrival=float(arrival[i]), slo=float(slos[i]),
                                     now=t)
        status[i], g = decision.status, decision.group
        group[i] = g  # recorded for a dropped request too, as the simulator does
        if decision.status != SERVED:
            continue
        s = times[i, :stages[g]]
        s = np.where(np.isnan(s), lat1[g, m, :stages[g]], s)
        begins = run_stages(t, busy[g], [float(x) for x in s],
                            [float(x) for x in delays[i, :stages[g]]])
        start[i], finish[i] = begins[0], busy[g][-1]
        begin_at[i, :stages[g]] = begins
        end_at[i, :stages[g]] = busy[g]
        for k, end in enumerate(busy[g]):
            heapq.heappush(pending, (end, g, k))
    result = SimResult.from_outcomes(
        model_names=names, group_names=tables.group_names, arrival=arrival,
        model_codes=workload.model_codes, slo=slos, start=start, finish=finish, group=group,
        status=status, group_num_stages=stages, engine="replay")
    return ReplayResult(result=result, stage_begin=begin_at, stage_end=end_at)


def table_dispatcher(tables: PlacementTables, *, overhead: float = 0.0) -> Dispatcher:
    """The runtime's own :class:`Dispatcher` over a compiled placement's latencies.

    Parameters
    ----------
    tables : PlacementTables
        The placement, compiled with the batch sizes to use.
    overhead : float, default 0.0
        Seconds added to every predicted finish.

    Returns
    -------
    Dispatcher
        Batching when ``tables.max_batch > 1``.
    """
    names, stages = tables.model_names, [int(s) for s in tables.num_stages]
    pairs = [(int(g), m) for m in range(len(names))
             for g in tables.cand_groups[tables.cand_ptr[m]:tables.cand_ptr[m + 1]]]

    def row(g: int, m: int, j: int) -> tuple[float, ...]:
        return tuple(float(x) for x in tables.lat[g, m, j, :stages[g]])

    return Dispatcher(
        num_groups=max(len(stages), 1), overhead=overhead, max_batch=tables.max_batch,
        stage_latencies={(g, names[m]): row(g, m, 0) for g, m in pairs},
        batch_latencies={(g, names[m]): {int(tables.sizes[g, m, j]): row(g, m, j)
                                         for j in range(1, int(tables.num_sizes[g, m]))}
                         for g, m in pairs})


def _replay_batching(workload: Workload, tables: PlacementTables, dispatcher: Dispatcher,
                     times: npt.NDArray[np.float64], delays: npt.NDArray[np.float64],
                     when: npt.NDArray[np.float64], slos: npt.NDArray[np.float64],
                     feedback: bool) -> ReplayResult:
    """The batching replay (module doc): decisions and formations in time order."""
    names, n = workload.model_names, len(workload)
    stages = [int(s) for s in tables.num_stages]
    depth = max(stages, default=1)
    arrival = np.asarray(workload.arrival, dtype=np.float64)
    busy = [[-np.inf] * s for s in stages]
    queues: list[list[int]] = [[] for _ in stages]  # request ids, as the dispatcher's queue
    pending: list[tuple[float, int, int]] = []
    start, finish, formed = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    group, status = np.full(n, -1, dtype=np.int32), np.full(n, SERVED, dtype=np.int8)
    batch = np.zeros(n, dtype=np.int32)
    begin_at, end_at = np.full((n, depth), np.nan), np.full((n, depth), np.nan)

    def observe_until(t: float) -> None:
        while feedback and pending and pending[0][0] <= t:
            end, g, k = heapq.heappop(pending)
            dispatcher.observe(g, k, end)

    i = 0
    while True:
        formation = min(((max(busy[g][0], float(when[q[0]])) + float(delays[q[0], 0]), g)
                         for g, q in enumerate(queues) if q), default=None)
        if i < n and (formation is None or when[i] <= formation[0]):
            t, m = float(when[i]), int(workload.model_codes[i])
            observe_until(t)
            d = dispatcher.decide(names[m], arrival=float(arrival[i]), slo=float(slos[i]),
                                  now=t, request=i)
            status[i], group[i] = d.status, d.group
            if d.queued:
                queues[d.group].append(i)
            i += 1
            continue
        if formation is None:
            break
        t, g = formation
        observe_until(t)
        f = dispatcher.form_batch(g, t)
        for j in (*f.dropped, *f.members):
            queues[g].remove(j)
            formed[j] = t
        status[list(f.dropped)] = DROPPED
        if not f.members:
            continue
        head, s = f.members[0], stages[g]
        m = int(workload.model_codes[head])
        j = int(np.flatnonzero(tables.sizes[g, m, :tables.num_sizes[g, m]] == f.size)[0])
        service = np.where(np.isnan(times[head, :s]), tables.lat[g, m, j, :s], times[head, :s])
        begins = run_stages(t, busy[g], [float(x) for x in service],
                            [0.0, *(float(x) for x in delays[head, 1:s])])
        members = list(f.members)
        start[members], finish[members], batch[members] = begins[0], busy[g][-1], f.size
        begin_at[np.ix_(members, range(s))] = begins
        end_at[np.ix_(members, range(s))] = busy[g]
        for k, end in enumerate(busy[g]):
            heapq.heappush(pending, (end, g, k))
    result = SimResult.from_outcomes(
        model_names=names, group_names=tables.group_names, arrival=arrival,
        model_codes=workload.model_codes, slo=slos, start=start, finish=finish, group=group,
        status=status, batch_size=batch, group_num_stages=stages, engine="replay")
    return ReplayResult(result=result, stage_begin=begin_at, stage_end=end_at, formed=formed)


def _checked_service(values: npt.ArrayLike, n: int, depth: int,
                     name: str) -> npt.NDArray[np.float64]:
    times = np.asarray(values, dtype=np.float64)
    if times.ndim == 1 and depth == 1:
        times = times[:, None]
    if times.ndim != 2 or times.shape[0] != n or times.shape[1] < depth:
        raise SimulationError(f"{name} must have shape ({n}, >= {depth}), got {times.shape}")
    known = times[~np.isnan(times)]
    if np.any(~np.isfinite(known)) or np.any(known < 0):
        raise SimulationError(f"{name} times must be finite and non-negative (NaN: unknown)")
    return times
