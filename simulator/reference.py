"""The reference engine: the rules of :mod:`simulator.semantics` as a SimPy simulation.

Written to be read. The dispatcher decides from the groups' committed stage free times
``F[g][k]``, which it updates when it commits work; SimPy then executes that work, and the
start and finish times reported are the ones SimPy's clock shows, so comparing them with the
fast engine (which only evaluates the recurrence) checks the recurrence against an execution.

Every stage of every group is a server with an unbounded FIFO buffer that holds one job at a
time. It is driven by SimPy events and their callbacks rather than by a generator process (the
same steps as ``while True: job = yield buffer.get(); yield env.timeout(latency); hand on``,
without a generator resume and a wake-up event per step): a job that reaches an idle stage
starts at once, and the event that fires when it is done starts the next buffered job and
hands the finished one on. Arrivals, already sorted, are merged into the event loop in the
place each would take as an event scheduled when the one before it fired. With batching,
stage 0 of a group is a SimPy process, the batcher, that forms batches from the group's queue
whenever stage 0 is free.

Event order at one instant follows the semantics: completions and wake-ups have SimPy's
normal priority, arrivals come after them and batch formations last.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator, Sequence
from heapq import heappop, heappush
from itertools import pairwise
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL, Event

from simulator.options import SimulationOptions
from simulator.prepared import PreparedWorkload
from simulator.result import DROPPED, SERVED, UNSERVED, SimResult, stats_window
from simulator.semantics import NEG_INF, PlacementTables, commit, commit_exit

ARRIVAL_PRIORITY = NORMAL + 1
FORMATION_PRIORITY = NORMAL + 2

Job = tuple[Sequence[int], list[float]]  # (request ids, the batch's stage latencies)
# A group that hosts a model, as the dispatcher reads it: (group, its F[g], the model's batch-1
# stage latencies on it, range(S_g)); a range made once is cheaper than one per evaluation.
Route = tuple[int, list[float], list[float], range]


class _Environment(simpy.Environment):
    """SimPy's environment, run to the end in a tight loop (see :meth:`run_to_end`)."""

    def run_to_end(self, arrivals: Sequence[float], arrive: Callable[[int], None]) -> None:
        """``run()`` without ``until``: :meth:`step` until no event is left, in a tight loop.

        The same steps as SimPy's ``step``: pop the next event, call its callbacks, and
        crash on a failed event that nobody handled. ``arrivals`` (sorted) are merged into
        the event order as if each were an event of priority :data:`ARRIVAL_PRIORITY`
        scheduled when the one before it fired: ``arrive(i)`` runs at ``arrivals[i]``, after
        the events of that instant with a lower priority and before those with a higher one.
        """
        queue = self._queue
        n = len(arrivals)
        i = 0
        while True:
            if i < n:
                t = arrivals[i]
                if not queue or t < queue[0][0] or (t == queue[0][0]
                                                    and queue[0][1] > ARRIVAL_PRIORITY):
                    self._now = t
                    arrive(i)
                    i += 1
                    continue
            if not queue:
                return
            self._now, _, _, event = heappop(queue)
            callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                raise event._value


class _At(Event):
    """An event that fires at absolute time ``t`` with a given priority and value.

    ``callback``, when given, is its first callback. ``_At(env, env.now + d, NORMAL)`` is
    ``env.timeout(d)``: the same time (``now + d``), priority and place in the queue.

    ``Environment.schedule`` puts an event at ``now + delay``, and no delay may land exactly
    on a given time (round-to-even can skip it), so arrivals at equal times could drift
    apart by one ulp. This pushes the same heap entry with the exact time instead.
    """

    def __init__(self, env: _Environment, t: float, priority: int,
                 callback: Callable[[Event], None] | None = None, value: Any = None) -> None:
        # Event.__init__ and the scheduling inlined, as SimPy's Timeout does: one of these is
        # made per request and stage, so every call saved counts
        self.env = env
        self.callbacks = [] if callback is None else [callback]
        self._ok = True
        self._value = value
        if t < env._now:
            raise ValueError(f"cannot schedule at {t}, before now={env._now}")
        entry: tuple[float, int, int, Event] = (t, priority, next(env._eid), self)
        heappush(env._queue, entry)  # type: ignore[misc]


class _Stage:
    """Stage ``k`` of group ``g``: one job at a time, first come first served.

    ``busy_seconds`` sums the latencies it executed, clipped to ``window`` when given. The
    records it writes (start times on stage 0, per-stage starts) are the run's lists, held
    here so that starting a job reads no more attributes than it must.
    """

    __slots__ = ("buffer", "busy", "busy_seconds", "env", "g", "k", "next", "run", "stage_start",
                 "starts", "window")

    def __init__(self, run: _Run, g: int, k: int) -> None:
        self.env, self.run, self.g, self.k = run.env, run, g, k
        self.next: _Stage | None = None  # the stage after this one; None on the last
        self.buffer: deque[Job] = deque()  # jobs that finished stage k-1 while this one was busy
        self.busy = False
        self.busy_seconds = 0.0
        self.window = run.window
        self.starts = run.start if k == 0 else None  # a request starts when it enters stage 0
        self.stage_start = run.stage_start

    def put(self, job: Job) -> None:
        """``job`` reaches this stage now: it starts at once, or waits behind the others."""
        if self.busy:
            self.buffer.append(job)
        else:
            self.start(job)

    def start(self, job: Job) -> Event:
        """Start ``job`` on this (idle) stage now; return the event of its completion."""
        self.busy = True
        ids, lat = job
        now, latency = self.env.now, lat[self.k]
        if self.starts is not None:
            for i in ids:
                self.starts[i] = now
        if self.stage_start is not None:
            for i in ids:
                self.stage_start[i, self.k] = now
        if self.window is None:
            self.busy_seconds += latency
        else:
            lo, hi = self.window
            self.busy_seconds += max(0.0, min(now + latency, hi) - max(now, lo))
        return _At(self.env, now + latency, NORMAL, self._done, job)

    def _done(self, event: Event) -> None:
        """The job of ``event`` leaves this stage now: start the next one, hand this one on.

        Handing on is putting it on the next stage, or, on the last stage, finishing it.
        """
        if self.buffer:
            self.start(self.buffer.popleft())
        else:
            self.busy = False
        job = event._value  # event.value without the property call (it has fired)
        if self.next is not None:
            self.next.put(job)
            return
        run, ids = self.run, job[0]
        finish = self.env.now + run.overhead
        for i in ids:
            run.finish[i] = finish
        run.outstanding[self.g] -= len(ids)


class _Run:
    """One simulation: the groups' stages, the dispatcher and the per-request records."""

    def __init__(self, prepared: PreparedWorkload, tables: PlacementTables,
                 options: SimulationOptions) -> None:
        self.env = _Environment()
        self.w, self.t, self.o = prepared, tables, options
        n, smax = len(prepared), tables.max_stages
        # per-request records (Python lists: cheaper to write one item at a time)
        self.start = [math.nan] * n
        self.finish = [math.nan] * n
        self.group = [-1] * n
        self.status = [UNSERVED] * n
        self.batch = [0] * n
        self.stage_start = np.full((n, smax), np.nan) if options.record_stages else None
        clip = options.warmup > 0 or options.cooldown > 0
        self.window = (stats_window(prepared.arrival, None, warmup=options.warmup,
                                    cooldown=options.cooldown, trim=options.trim)[0]
                       if clip else None)
        # Committed stage free times F[g][k]: the dispatcher's exact view of each pipeline.
        self.free = [[NEG_INF] * int(s) for s in tables.num_stages]
        self.stages = [[_Stage(self, g, k) for k in range(int(s))]
                       for g, s in enumerate(tables.num_stages)]
        for pipeline in self.stages:
            for stage, after in pairwise(pipeline):
                stage.next = after
        self.outstanding = [0] * tables.num_groups
        self.queue: list[list[int]] = [[] for _ in range(tables.num_groups)]
        self.queued_work = [0.0] * tables.num_groups  # W[g]
        self.sleeping: list[Event | None] = [None] * tables.num_groups  # idle batchers
        # Python lists: the latency rows and the routes are read on every decision.
        self.lat_rows = [[[tables.lat[g, m, j, :s].tolist()
                           for j in range(int(tables.num_sizes[g, m]))]
                          for m in range(len(prepared.model_names))]
                         for g, s in enumerate(tables.num_stages)]
        self.routes: list[list[Route]] = [
            [(g, self.free[g], self.lat_rows[g][m][0], range(len(self.free[g])))
             for g in tables.cand_groups[tables.cand_ptr[m]:tables.cand_ptr[m + 1]].tolist()]
            for m in range(len(prepared.model_names))]
        self.codes = prepared.model_codes.tolist()
        self.deadline = prepared.deadline.tolist()
        self.overhead = options.request_overhead
        self.policy = options.policy
        self.admission = options.admission
        self._dispatch_one = self._dispatch_batching if options.batching else self._dispatch
        if options.batching:
            for g in range(tables.num_groups):
                self.env.process(self._batcher(g))
        self.arrival = prepared.arrival.tolist()

    # ------------------------------------------------------------------ arrivals
    def _arrive(self, i: int) -> None:
        """Request ``i`` arrives now: dispatch it (the event loop merges the arrivals in)."""
        self._dispatch_one(i, self.arrival[i])

    # ------------------------------------------------------------------ decisions
    def _choose(self, routes: list[Route], t: float) -> Route:
        """The route (hosting group) for a request arriving at ``t``: the policy's smallest key.

        ``min`` keeps the first of equal keys, so ties go to the lower group index.
        """
        def key(route: Route) -> float:
            g, free, lat, _ = route
            if self.policy == "alpaserve":
                return free[-1]
            if self.policy == "least-outstanding":
                return float(self.outstanding[g])
            begin = max(t, free[0]) + self.queued_work[g] if self.o.batching else t
            return commit_exit(free, lat, begin)

        return min(routes, key=key)

    def _dispatch(self, i: int, t: float) -> None:
        """Without batching: commit request ``i`` arriving at ``t`` to a group, or drop it."""
        m = self.codes[i]
        routes = self.routes[m]
        if not routes:
            return  # UNSERVED
        if self.policy == "earliest-finish":
            # the commit_exit recurrence, inlined: it runs for every host of every request
            best, exit_ = routes[0], math.inf
            for route in routes:
                _, free, lat, stages = route
                e = t
                for k in stages:
                    f = free[k]
                    e = (e if e >= f else f) + lat[k]
                if e < exit_:
                    best, exit_ = route, e
            g, free, lat, stages = best
        else:
            g, free, lat, stages = self._choose(routes, t)
            exit_ = commit_exit(free, lat, t)
        self.group[i] = g
        if self.admission and exit_ + self.overhead > self.deadline[i]:
            self.status[i] = DROPPED
            return
        # commit(), inlined: F[g][k] becomes stage k's exit
        e = t
        for k in stages:
            f = free[k]
            e = (e if e >= f else f) + lat[k]
            free[k] = e
        self.status[i] = SERVED
        self.batch[i] = 1
        self.outstanding[g] += 1
        self.stages[g][0].put(((i,), lat))

    def _dispatch_batching(self, i: int, t: float) -> None:
        """With batching: queue request ``i`` arriving at ``t`` on a group, or drop it."""
        m = self.codes[i]
        routes = self.routes[m]
        if not routes:
            return
        g, free, lat, _ = self._choose(routes, t)
        self.group[i] = g
        if self.admission and commit_exit(free, lat, t) + self.overhead > self.deadline[i]:
            self.status[i] = DROPPED
            return
        self.queue[g].append(i)
        self.queued_work[g] += lat[0]
        self.outstanding[g] += 1
        batcher = self.sleeping[g]
        if batcher is not None:  # wake the group's batcher
            self.sleeping[g] = None
            batcher.succeed()

    # ------------------------------------------------------------------ batching
    def _batcher(self, g: int) -> Generator[Event, Any, None]:
        """Stage 0 of a batching group: form a batch whenever stage 0 is free."""
        queue, stage = self.queue[g], self.stages[g][0]
        env = self.env
        while True:
            if not queue:  # sleep until a dispatch wakes it
                wake = self.sleeping[g] = env.event()
                yield wake
            yield _At(env, env.now, FORMATION_PRIORITY)  # after this instant's arrivals
            job = self._form_batch(g, env.now)
            if job is not None:
                yield stage.start(job)  # stage 0 hands the batch on before this resumes

    def _dequeue(self, g: int, members: list[int]) -> None:
        queue = self.queue[g]
        for i in members:
            queue.remove(i)
            self.queued_work[g] -= self.lat_rows[g][self.codes[i]][0][0]
        if not queue:
            self.queued_work[g] = 0.0

    def _form_batch(self, g: int, t: float) -> Job | None:
        """The batch that starts on group ``g`` at ``t`` (see the semantics), if any."""
        queue = self.queue[g]
        while queue:
            m = self.codes[queue[0]]
            same = [i for i in queue if self.codes[i] == m]
            fitting = [j for j in range(int(self.t.num_sizes[g, m]))
                       if self.t.sizes[g, m, j] <= len(same)]
            chosen = -1
            for j in reversed(fitting):
                b = int(self.t.sizes[g, m, j])
                finish = commit_exit(self.free[g], self.lat_rows[g][m][j], t) + self.overhead
                if finish <= min(self.deadline[i] for i in same[:b]):
                    chosen = j
                    break
            if chosen < 0 and self.admission:
                head = queue[0]
                self._dequeue(g, [head])
                self.status[head] = DROPPED
                self.outstanding[g] -= 1
                continue
            if chosen < 0:
                chosen = fitting[-1]
            members = same[:int(self.t.sizes[g, m, chosen])]
            self._dequeue(g, members)
            lat = self.lat_rows[g][m][chosen]
            commit(self.free[g], lat, t)
            for i in members:
                self.status[i] = SERVED
                self.batch[i] = len(members)
            return members, lat
        return None

    # ------------------------------------------------------------------ result
    def run(self) -> SimResult:
        self.env.run_to_end(self.arrival, self._arrive)
        busy = (np.array([sum(s.busy_seconds for s in pipeline) for pipeline in self.stages])
                if self.t.num_groups else None)
        return SimResult.from_outcomes(
            model_names=self.w.model_names, group_names=self.t.group_names,
            arrival=self.w.arrival, model_codes=self.w.model_codes, slo=self.w.request_slo,
            slo_of_model=self.w.slo_of_model,
            start=np.array(self.start), finish=np.array(self.finish),
            group=np.array(self.group, dtype=np.int32),
            status=np.array(self.status, dtype=np.int8),
            batch_size=np.array(self.batch, dtype=np.int32), stage_start=self.stage_start,
            group_busy_seconds=busy,
            group_num_stages=self.t.num_stages.tolist(), warmup=self.o.warmup,
            cooldown=self.o.cooldown, trim=self.o.trim, engine="reference")


def run_reference(prepared: PreparedWorkload, tables: PlacementTables,
                  options: SimulationOptions) -> SimResult:
    """Simulate with SimPy (see :mod:`simulator.semantics`).

    Parameters
    ----------
    prepared : PreparedWorkload
        The requests, encoded once (see :func:`simulator.prepared.prepare`).
    tables : PlacementTables
        The placement, compiled for this workload's models
        (see :func:`simulator.semantics.compile_placement`).
    options : SimulationOptions
        Dispatch rule, admission, batching, overheads and trimming; ``engine`` and
        ``threads`` are ignored here.

    Returns
    -------
    SimResult
        Per-request outcomes (``engine="reference"``), identical to the fast engine's.

    Examples
    --------
    >>> from simulator._examples import tiny_placement
    >>> from simulator.prepared import prepare
    >>> from simulator.semantics import compile_placement
    >>> from workloads.workload import Workload
    >>> p, db = tiny_placement()
    >>> w = prepare(Workload.from_arrays(arrival=[0.0, 0.05], model="bert-1.3b"), slo=0.5)
    >>> tables = compile_placement(p, db, w.model_names)
    >>> run_reference(w, tables, SimulationOptions()).finish.tolist()
    [0.1, 0.2]
    """
    return _Run(prepared, tables, options).run()
