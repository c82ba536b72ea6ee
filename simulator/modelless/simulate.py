"""Event-driven simulation of model-less serving (INFaaS-style) over time.

Queries arrive with a task, a latency SLO and a minimum accuracy. A selection policy routes
each one to a loaded (or loading) variant replica, or loads a new one; an autoscaling policy
runs every ``monitor_interval`` seconds and adds or drains replicas and workers. Workers take
their hardware's start-up time before they can load variants, replicas take their variant's
load latency, and a worker runs one batch at a time, from the replica whose oldest query has
waited longest: the largest batch (up to the variant's maximum) whose latency still lets that
oldest query meet its SLO, or the largest allowed when it cannot meet it anyway.

Every query ends in exactly one outcome: met, late, below accuracy, fallback (INFaaS's rule 3:
nothing qualified, counted as a violation) or dropped (refused by the policy, or still queued
``drain_limit`` seconds after the last arrival). Policies live in a higher layer
(``placement.modelless.policy``) and are passed in as objects; see
:mod:`simulator.modelless.cluster`. Starting, loading and draining workers and replicas
lives in :mod:`simulator.modelless.fleet`; this module routes queries, runs batches and
drives the event loop.
"""

from __future__ import annotations

import heapq
import logging
import math

import numpy as np

from alpaserve.errors import SimulationError
from alpaserve.modelless.queries import ModellessQueries
from alpaserve.modelless.registry import VariantRegistry
from simulator.modelless.cluster import (
    DRAINING,
    LOADING,
    READY,
    STOPPED,
    ReplicaState,
    WorkerState,
)
from simulator.modelless.fleet import _BATCH_DONE, _TICK, _WORKER_READY, _Fleet
from simulator.modelless.metrics import (
    BELOW_ACCURACY,
    DROPPED,
    FALLBACK,
    LATE,
    MET,
    ModellessResult,
)
from simulator.modelless.options import Interference, ModellessSimConfig
from simulator.modelless.policy import (
    Action,
    AddReplica,
    AddWorker,
    AutoscalingPolicy,
    Drop,
    Load,
    Query,
    RemoveReplica,
    RemoveWorker,
    Route,
    SelectionPolicy,
)

__all__ = ["Interference", "ModellessSimConfig", "simulate_modelless"]

logger = logging.getLogger(__name__)


class _Simulation(_Fleet):
    def __init__(self, queries: ModellessQueries, registry: VariantRegistry,
                 selection: SelectionPolicy, autoscaler: AutoscalingPolicy | None,
                 config: ModellessSimConfig) -> None:
        super().__init__(registry, config)
        self.q = queries
        self.selection = selection
        self.autoscaler = autoscaler
        n = len(queries)
        self.status = np.full(n, -1, dtype=np.int8)
        self.completion = np.full(n, np.nan)
        self.variant_code = np.full(n, -1, dtype=np.int32)
        self.fallback = [False] * n
        # plain lists: indexing numpy arrays one element at a time is slow
        self.arr = queries.arrival.tolist()
        self.slo = queries.slo.tolist()
        self.acc = queries.min_accuracy.tolist()
        self.task_names = queries.tasks
        self.task_code = queries.workload.model_codes.tolist()
        self.running: dict[int, tuple[ReplicaState, list[int], float, float]] = {}
        self.variant_names: list[str] = []
        self.variant_index: dict[tuple[str, str], int] = {}
        for v in registry:
            self.variant_index[v.key] = len(self.variant_names)
            self.variant_names.append(f"{v.task}/{v.name}" if len(registry.tasks()) > 1
                                      else v.name)
        self.variant_accuracy = np.array([v.accuracy for v in registry])
        self.interference: dict[int, list[Interference]] = {}
        for item in config.interference:
            self.interference.setdefault(item.worker, []).append(item)

    # ------------------------------------------------------------------ execution
    def slowdown(self, wid: int, now: float) -> float:
        factor = 1.0
        for item in self.interference.get(wid, ()):
            if item.start <= now < item.end:
                factor *= item.factor
        return factor

    def try_start(self, w: WorkerState) -> None:
        now = self.view.now
        if w.current_replica is not None or now < w.ready_at or w.state == STOPPED:
            return
        best: ReplicaState | None = None
        best_head = math.inf
        for r in w.replicas.values():
            if r.queue and r.ready_at <= now:
                head = self.arr[r.queue[0]]
                if head < best_head:
                    best, best_head = r, head
        if best is None:
            return
        v = best.variant
        # the largest batch that still lets the oldest query meet its SLO; a query already
        # late gains nothing from a small batch, so then the batch is as large as allowed
        head = best.queue[0]
        fits = v.max_batch_within(self.arr[head] + self.slo[head] - now)
        size = min(len(best.queue), fits if fits > 0 else v.max_batch)
        batch = [best.queue.popleft() for _ in range(size)]
        profiled = best.variant.latency(size)
        took = profiled * self.slowdown(w.id, now)
        if self.config.colocation_slowdown > 1 and any(
                r.queue for r in w.replicas.values() if r is not best):
            took *= self.config.colocation_slowdown  # another model on the device is busy
        w.current_replica = best.id
        w.busy_until = now + took
        w.running_length = took
        self.running[w.id] = (best, batch, took, profiled)
        self.push(w.busy_until, _BATCH_DONE, w.id)

    def finish_batch(self, wid: int) -> None:
        now = self.view.now
        r, batch, took, profiled = self.running.pop(wid)
        w = r.worker
        w.busy_time += took
        w.current_replica = None
        w.running_length = 0.0
        w.idle_since = now
        r.served += len(batch)
        r.exec_ratio = took / profiled
        r.last_exec_end = now
        code = self.variant_index[r.variant.key]
        accuracy = r.variant.accuracy
        arr, slo, acc, fallback = self.arr, self.slo, self.acc, self.fallback
        for i in batch:
            self.completion[i] = now
            self.variant_code[i] = code
            if fallback[i]:
                self.status[i] = FALLBACK
            elif accuracy < acc[i]:
                self.status[i] = BELOW_ACCURACY
            elif now - arr[i] > slo[i] + 1e-9:
                self.status[i] = LATE
            else:
                self.status[i] = MET
        self.maybe_unload(r)
        if w.state != STOPPED:
            self.try_start(w)

    # ------------------------------------------------------------------ policies
    def arrive(self, i: int) -> None:
        task = self.task_names[self.task_code[i]]
        self.view.arrivals[task] = self.view.arrivals.get(task, 0) + 1
        query = Query(index=i, task=task, arrival=self.arr[i], slo=self.slo[i],
                      min_accuracy=self.acc[i])
        decision = self.selection.select(query, self.view)
        if isinstance(decision, Route):
            r = self.view.replica(decision.replica)
            if r is None or not r.accepting or r.task != task:
                raise SimulationError(f"query {i} routed to replica {decision.replica}, which "
                                      f"is not a live, accepting replica of task {task!r}")
        elif isinstance(decision, Load):
            r = self.load_replica(task, decision.variant, decision.worker, decision.reason)
        elif isinstance(decision, Drop):
            self.status[i] = DROPPED
            return
        else:
            raise SimulationError(f"selection policy returned {decision!r}, not a Route, Load "
                                  "or Drop")
        self.fallback[i] = decision.fallback
        r.queue.append(i)
        r.routed += 1
        self.try_start(r.worker)

    def apply(self, action: Action) -> None:
        if isinstance(action, AddWorker):
            self.start_worker(action.hardware, action.reason)
        elif isinstance(action, RemoveWorker):
            w = self.view.worker(action.worker)
            if w is None:
                raise SimulationError(f"cannot remove worker {action.worker}: not live")
            self.drain_worker(w, action.reason)
        elif isinstance(action, AddReplica):
            self.load_replica(action.task, action.variant, action.worker, action.reason)
        elif isinstance(action, RemoveReplica):
            r = self.view.replica(action.replica)
            if r is None:
                raise SimulationError(f"cannot remove replica {action.replica}: not live")
            self.drain_replica(r, action.reason)
        else:
            raise SimulationError(f"autoscaler returned {action!r}, not an action")

    # ------------------------------------------------------------------ loop
    def run(self) -> ModellessResult:
        arrival = self.arr
        n = len(arrival)
        horizon = self.config.horizon
        if horizon is None:
            horizon = float(arrival[-1]) if n else 0.0
        deadline = horizon + self.config.drain_limit
        if self.autoscaler is not None:
            self.push(0.0, _TICK, 0)
        i = 0
        while True:
            next_arrival = arrival[i] if i < n else math.inf
            if self.heap and self.heap[0][0] <= next_arrival:
                time, _, kind, ident = heapq.heappop(self.heap)
                if time > deadline:
                    break
                self.view.now = time
                if kind == _BATCH_DONE:
                    self.finish_batch(ident)
                elif kind == _TICK:
                    if (i >= n and time >= horizon) or self.autoscaler is None:
                        continue
                    for action in self.autoscaler.autoscale(self.view):
                        self.apply(action)
                    self.push(time + self.config.monitor_interval, _TICK, 0)
                elif kind == _WORKER_READY:
                    w = self.view.worker(ident)
                    if w is not None:
                        if w.state != DRAINING:
                            w.state = READY
                        self.try_start(w)
                else:
                    r = self.view.replica(ident)
                    if r is not None:
                        if r.state == LOADING:
                            r.state = READY
                        self.try_start(r.worker)
            elif i < n:
                self.view.now = next_arrival
                self.arrive(i)
                i += 1
            else:
                break
        unserved = int(np.count_nonzero(self.status < 0))
        if unserved:
            logger.warning("%d queries were still queued %.0f s after the horizon; counted "
                           "as dropped", unserved, self.config.drain_limit)
            self.status[self.status < 0] = DROPPED
        return ModellessResult(
            queries=self.q, status=self.status, completion=self.completion,
            variant_code=self.variant_code, variant_names=tuple(self.variant_names),
            variant_accuracy=self.variant_accuracy,
            variant_hardware=tuple(v.hardware for v in self.registry),
            workers=tuple(self.records.values()), events=tuple(self.events),
            horizon=horizon, unserved=unserved)


def simulate_modelless(queries: ModellessQueries, registry: VariantRegistry, *,
                       selection: SelectionPolicy,
                       autoscaler: AutoscalingPolicy | None = None,
                       config: ModellessSimConfig | None = None) -> ModellessResult:
    """Simulate model-less serving of ``queries`` with the given policies.

    Parameters
    ----------
    queries : ModellessQueries
        The queries, in arrival order.
    registry : VariantRegistry
        Variants and hardware.
    selection : SelectionPolicy
        Decides, per query, where it runs.
    autoscaler : AutoscalingPolicy or None
        Called every ``monitor_interval`` seconds from time 0; None: no autoscaling.
    config : ModellessSimConfig or None
        Options; None: the defaults.

    Returns
    -------
    ModellessResult
        Every query's outcome, the workers' bills and the scaling events.

    Raises
    ------
    SimulationError
        If a query's task has no variants in ``registry``, or a policy returns an invalid
        decision (an unknown replica, a variant on the wrong hardware, a full worker...).

    Examples
    --------
    >>> from alpaserve.modelless.registry import example_registry
    >>> reg = example_registry()
    >>> q = ModellessQueries.from_arrays(arrival=[0.0, 40.0, 40.5],
    ...                                  task="image-classification", slo=0.3,
    ...                                  min_accuracy=70.0)
    >>> class Always:
    ...     def select(self, query, cluster):
    ...         live = cluster.accepting_replicas(query.task)
    ...         if live:
    ...             return Route(replica=live[0].id)
    ...         return Load(variant="mobilenet-tf-cpu")
    >>> res = simulate_modelless(q, reg, selection=Always())
    >>> res.status.tolist(), res.summary().met
    ([1, 0, 0], 2)
    """
    cfg = config or ModellessSimConfig()
    unknown = sorted(set(queries.tasks) - set(registry.tasks()))
    if unknown:
        raise SimulationError(f"tasks {unknown} have no variants in the registry "
                              f"(tasks: {registry.tasks()})")
    return _Simulation(queries, registry, selection, autoscaler, cfg).run()
