"""The reference engine: the rules of :mod:`simulator.semantics` as SimPy processes.

Written to be read. Every stage of every group is a SimPy process that takes work from an
unbounded FIFO buffer, holds the stage for the profiled latency and hands the work on; with
batching, stage 0 is a batcher that forms batches from the group's queue. The dispatcher
(one process fed by the arrivals) decides from the groups' committed stage free times
``F[g][k]``, which it updates when it commits work; SimPy then executes that work, and the
start and finish times reported are the ones SimPy's clock shows.

Event order at one instant follows the semantics: completions and wake-ups have SimPy's
normal priority, arrivals come after them and batch formations last.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from heapq import heappop, heappush
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL, Event, Timeout

from simulator.options import SimulationOptions
from simulator.prepared import PreparedWorkload
from simulator.result import DROPPED, SERVED, UNSERVED, SimResult, stats_window
from simulator.semantics import NEG_INF, PlacementTables, commit, commit_exit

ARRIVAL_PRIORITY = NORMAL + 1
FORMATION_PRIORITY = NORMAL + 2

Job = tuple[list[int], int, int]  # (request ids, batch-size slot, model)


class _Environment(simpy.Environment):
    """SimPy's environment, plus scheduling at an absolute time.

    ``Environment.schedule`` puts an event at ``now + delay``, and no delay may land exactly
    on a given time (round-to-even can skip it), so arrivals at equal times could drift
    apart by one ulp. This pushes the same heap entry with the exact time instead.
    """

    def run_to_end(self) -> None:
        """``run()`` without ``until``: :meth:`step` until no event is left, in a tight loop.

        The same steps as SimPy's ``step``: pop the next event, call its callbacks, and
        crash on a failed event that nobody handled.
        """
        queue = self._queue
        while queue:
            self._now, _, _, event = heappop(queue)
            callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                raise event._value

    def schedule_at(self, event: Event, t: float, priority: int) -> None:
        if t < self._now:
            raise ValueError(f"cannot schedule at {t}, before now={self._now}")
        entry: tuple[float, int, int, Event] = (t, priority, next(self._eid), event)
        heappush(self._queue, entry)  # type: ignore[misc]


class _At(Event):
    """An event that fires at absolute time ``t`` with a given priority."""

    def __init__(self, env: _Environment, t: float, priority: int) -> None:
        # Event.__init__ inlined, as SimPy's Timeout does: one of these per request
        self.env = env
        self.callbacks = []
        self._ok = True
        self._value = None
        env.schedule_at(self, t, priority)


class _Run:
    """One simulation: the groups' processes and the per-request records."""

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
        self.busy = [0.0] * tables.num_groups
        self.clip = options.warmup > 0 or options.cooldown > 0
        self.window = (stats_window(prepared.arrival, None, warmup=options.warmup,
                                    cooldown=options.cooldown)[0] if self.clip else (0.0, 0.0))
        # Committed stage free times F[g][k]: the dispatcher's exact view of each pipeline.
        self.free = [[NEG_INF] * int(s) for s in tables.num_stages]
        self.buffers: list[list[deque[Job]]] = [[deque() for _ in range(int(s))]
                                                for s in tables.num_stages]
        self.sleeping: list[list[Event | None]] = [[None] * int(s) for s in tables.num_stages]
        self.outstanding = [0] * tables.num_groups
        self.queue: list[list[int]] = [[] for _ in range(tables.num_groups)]
        self.queued_work = [0.0] * tables.num_groups  # W[g]
        # Python lists: the latency rows and host lists are read on every decision.
        self.lat_rows = [[[tables.lat[g, m, j, :s].tolist()
                           for j in range(int(tables.num_sizes[g, m]))]
                          for m in range(len(prepared.model_names))]
                         for g, s in enumerate(tables.num_stages)]
        self.hosts = [tables.cand_groups[tables.cand_ptr[m]:tables.cand_ptr[m + 1]].tolist()
                      for m in range(len(prepared.model_names))]
        self.codes = prepared.model_codes.tolist()
        self.deadline = prepared.deadline.tolist()
        self.num_stages = tables.num_stages.tolist()
        self.overhead = options.request_overhead
        self.policy = options.policy
        for g, s in enumerate(tables.num_stages):
            first = 0
            if options.batching:
                self.env.process(self._batcher(g))
                first = 1
            for k in range(first, int(s)):
                self.env.process(self._stage(g, k))
        self.arrival = prepared.arrival.tolist()
        self.next_arrival = 0
        self._schedule_arrival(0)

    # ------------------------------------------------------------------ helpers
    def _lat(self, g: int, m: int, j: int) -> list[float]:
        return self.lat_rows[g][m][j]

    def _put(self, g: int, k: int, job: Job) -> None:
        self.buffers[g][k].append(job)
        sleeping = self.sleeping[g]
        if sleeping[k] is not None:  # _wake, inlined
            sleeping[k].succeed()  # type: ignore[union-attr]
            sleeping[k] = None

    def _wake(self, g: int, k: int) -> None:
        ev = self.sleeping[g][k]
        if ev is not None:
            self.sleeping[g][k] = None
            ev.succeed()

    def _sleep(self, g: int, k: int) -> Event:
        ev = self.env.event()
        self.sleeping[g][k] = ev
        return ev

    # ------------------------------------------------------------------ processes
    def _schedule_arrival(self, i: int) -> None:
        """Arrival ``i`` is an event whose callback dispatches it and schedules the next."""
        if i < len(self.arrival):
            _At(self.env, self.arrival[i], ARRIVAL_PRIORITY).callbacks.append(self._arrive)

    def _arrive(self, _: Event) -> None:
        i = self.next_arrival
        self.next_arrival = i + 1
        if self.o.batching:
            self._dispatch_batching(i, self.arrival[i])
        else:
            self._dispatch(i, self.arrival[i])
        self._schedule_arrival(i + 1)

    def _stage(self, g: int, k: int) -> Generator[Event, Any, None]:
        """Stage ``k`` of group ``g``: FIFO, one job at a time."""
        buffer = self.buffers[g][k]
        env = self.env
        if k + 1 < self.num_stages[g]:
            while True:
                if not buffer:
                    yield self._sleep(g, k)
                job = buffer.popleft()
                yield Timeout(env, self._begin(g, k, job))
                self._put(g, k + 1, job)  # what _end does on a stage that is not the last
        else:
            while True:
                if not buffer:
                    yield self._sleep(g, k)
                job = buffer.popleft()
                yield Timeout(env, self._begin(g, k, job))
                self._end(g, k, job)

    def _begin(self, g: int, k: int, job: Job) -> float:
        """Record ``job`` entering stage ``k`` of group ``g`` now; return its latency."""
        ids, j, m = job
        now = self.env.now
        if k == 0:
            for i in ids:
                self.start[i] = now
        if self.stage_start is not None:
            for i in ids:
                self.stage_start[i, k] = now
        latency = self.lat_rows[g][m][j][k]
        if self.clip:
            lo, hi = self.window
            self.busy[g] += max(0.0, min(now + latency, hi) - max(now, lo))
        else:
            self.busy[g] += latency
        return latency

    def _end(self, g: int, k: int, job: Job) -> None:
        """``job`` leaves stage ``k`` of group ``g``: hand it on, or it is finished."""
        if k + 1 < self.num_stages[g]:
            self._put(g, k + 1, job)
            return
        ids = job[0]
        finish = self.env.now + self.overhead
        for i in ids:
            self.finish[i] = finish
        self.outstanding[g] -= len(ids)

    def _batcher(self, g: int) -> Generator[Event, Any, None]:
        """Stage 0 of a batching group: form a batch whenever stage 0 is free."""
        queue = self.queue[g]
        while True:
            if not queue:
                yield self._sleep(g, 0)
            yield _At(self.env, self.env.now, FORMATION_PRIORITY)  # after this instant's arrivals
            job = self._form_batch(g, self.env.now)
            if job is not None:
                yield Timeout(self.env, self._begin(g, 0, job))
                self._end(g, 0, job)

    # ------------------------------------------------------------------ decisions
    def _choose(self, g_list: list[int], m: int, t: float) -> tuple[int, float]:
        """The group for a request of model ``m`` at ``t``, and the policy's key for it."""
        policy = self.o.policy
        best, best_key = -1, math.inf
        for g in g_list:
            if policy == "alpaserve":
                key = self.free[g][-1]
            elif policy == "least-outstanding":
                key = float(self.outstanding[g])
            else:
                begin = max(t, self.free[g][0]) + self.queued_work[g] if self.o.batching else t
                key = commit_exit(self.free[g], self._lat(g, m, 0), begin)
            if best < 0 or key < best_key:
                best, best_key = g, key
        return best, best_key

    def _dispatch(self, i: int, t: float) -> None:
        """Without batching: commit request ``i`` arriving at ``t`` to a group, or drop it."""
        m = self.codes[i]
        hosts = self.hosts[m]
        if not hosts:
            return  # UNSERVED
        if self.policy == "earliest-finish":
            # the commit_exit recurrence, inlined: it runs for every host of every request
            g, exit_ = -1, math.inf
            for h in hosts:
                e = t
                for f, d in zip(self.free[h], self.lat_rows[h][m][0], strict=True):
                    e = (e if e >= f else f) + d
                if e < exit_:
                    g, exit_ = h, e
        else:
            g, _ = self._choose(hosts, m, t)
            exit_ = commit_exit(self.free[g], self.lat_rows[g][m][0], t)
        self.group[i] = g
        if self.o.admission and exit_ + self.overhead > self.deadline[i]:
            self.status[i] = DROPPED
            return
        # commit(), inlined: F[g][k] becomes stage k's exit
        free = self.free[g]
        e = t
        for k, d in enumerate(self.lat_rows[g][m][0]):
            f = free[k]
            e = (e if e >= f else f) + d
            free[k] = e
        self.status[i] = SERVED
        self.batch[i] = 1
        self.outstanding[g] += 1
        self._put(g, 0, ([i], 0, m))

    def _dispatch_batching(self, i: int, t: float) -> None:
        m = self.codes[i]
        hosts = self.hosts[m]
        if not hosts:
            return
        g, _ = self._choose(hosts, m, t)
        self.group[i] = g
        lat = self._lat(g, m, 0)
        if self.o.admission and \
                commit_exit(self.free[g], lat, t) + self.o.request_overhead > self.deadline[i]:
            self.status[i] = DROPPED
            return
        self.queue[g].append(i)
        self.queued_work[g] += lat[0]
        self.outstanding[g] += 1
        self._wake(g, 0)

    def _dequeue(self, g: int, members: list[int]) -> None:
        queue = self.queue[g]
        for i in members:
            queue.remove(i)
            self.queued_work[g] -= self.lat_rows[g][self.codes[i]][0][0]
        if not queue:
            self.queued_work[g] = 0.0

    def _form_batch(self, g: int, t: float) -> Job | None:
        queue = self.queue[g]
        while queue:
            m = self.codes[queue[0]]
            same = [i for i in queue if self.codes[i] == m]
            fitting = [j for j in range(int(self.t.num_sizes[g, m]))
                       if self.t.sizes[g, m, j] <= len(same)]
            chosen = -1
            for j in reversed(fitting):
                b = int(self.t.sizes[g, m, j])
                finish = commit_exit(self.free[g], self._lat(g, m, j), t) + self.o.request_overhead
                if finish <= min(self.deadline[i] for i in same[:b]):
                    chosen = j
                    break
            if chosen < 0 and self.o.admission:
                head = queue[0]
                self._dequeue(g, [head])
                self.status[head] = DROPPED
                self.outstanding[g] -= 1
                continue
            if chosen < 0:
                chosen = fitting[-1]
            members = same[:int(self.t.sizes[g, m, chosen])]
            self._dequeue(g, members)
            commit(self.free[g], self._lat(g, m, chosen), t)
            for i in members:
                self.status[i] = SERVED
                self.batch[i] = len(members)
            return members, chosen, m
        return None

    # ------------------------------------------------------------------ result
    def run(self) -> SimResult:
        self.env.run_to_end()
        busy = np.array(self.busy) if self.t.num_groups else None
        return SimResult.from_outcomes(
            model_names=self.w.model_names, group_names=self.t.group_names,
            arrival=self.w.arrival, model_codes=self.w.model_codes, slo=self.w.slo,
            start=np.array(self.start), finish=np.array(self.finish),
            group=np.array(self.group, dtype=np.int32),
            status=np.array(self.status, dtype=np.int8),
            batch_size=np.array(self.batch, dtype=np.int32), stage_start=self.stage_start,
            group_busy_seconds=busy,
            group_num_stages=self.t.num_stages.tolist(), warmup=self.o.warmup,
            cooldown=self.o.cooldown, engine="reference")


def run_reference(prepared: PreparedWorkload, tables: PlacementTables,
                  options: SimulationOptions) -> SimResult:
    """Simulate with SimPy (see :mod:`simulator.semantics`)."""
    return _Run(prepared, tables, options).run()
