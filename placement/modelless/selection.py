"""INFaaS's per-query variant selection.

This is the first half of :class:`placement.modelless.policy.InfaasPolicy`.

The variant planning, rate estimates and replica states it relies on, shared with the
autoscaler, are in :mod:`placement.modelless.estimates`.

Selection, per query (INFaaS §4):

1. Among loaded replicas whose variant meets the query's accuracy floor and whose predicted
   latency (queueing on their worker included) meets its SLO, take the cheapest variant
   (by its hardware's $/hour), on its least-loaded replica, and among equally cheap ones the
   smallest slack. Replicas suspected of interference (last batch slower than
   ``interference_factor`` × profiled) or on overloaded workers are skipped
   (:meth:`InfaasSelection.replica_state`).
2. Otherwise load the variant that is cheapest for the task's current arrival rate among
   those that meet the floor and whose batch-1 latency meets the SLO, unless it already has a
   replica (then the autoscaler adds capacity); the query pays the load.
3. Otherwise serve the closest replica (smallest normalised accuracy shortfall plus latency
   excess). Below the query's floor it counts as a violation (a fallback); a replica that
   meets the floor but is only predicted late serves it, and its measured latency decides.
   If even that replica would take longer than ``max_wait_factor`` × SLO the query is
   dropped instead (a client time-out), so that hopeless queries do not pile up behind
   starting workers.
"""

from __future__ import annotations

import logging
import math
from collections import deque

from alpaserve.modelless.variants import Variant
from placement.modelless.estimates import (
    ACTIVE,
    INTERFERED,
    OVERLOADED,
    REPLICA_STATES,
    InfaasEstimates,
)
from simulator.modelless.cluster import (
    ClusterView,
    Decision,
    Drop,
    Load,
    Query,
    ReplicaState,
    Route,
    WorkerState,
)

logger = logging.getLogger(__name__)

__all__ = ["ACTIVE", "INTERFERED", "OVERLOADED", "REPLICA_STATES", "InfaasSelection"]


class InfaasSelection(InfaasEstimates):
    """INFaaS's per-query selection over the variants of a registry, on the estimates
    (rates, utilisations, timers) of :class:`InfaasEstimates`.

    The object keeps the estimates it needs between calls, so use one instance per
    simulation.

    Parameters
    ----------
    registry : VariantRegistry
        The variants.
    config : InfaasConfig or None
        Thresholds (INFaaS's defaults when None).
    variants : iterable of str or None
        Variant names allowed; None: all.
    expected : iterable of Expectation
        Applications declared before their traffic (plan at time 0).

    Raises
    ------
    SpecError
        If an allowed name or an expected task is not in the registry.

    Examples
    --------
    >>> from alpaserve.modelless.registry import example_registry
    >>> policy = InfaasSelection(example_registry())
    >>> v = policy.cheapest_for_rate("image-classification", rate=4.0, min_accuracy=74.0,
    ...                              slo=0.3)
    >>> v.name, v.hardware
    ('inceptionv3-tf-cpu', 'cpu-c5.xlarge')
    >>> policy.cheapest_for_rate("image-classification", rate=700.0, min_accuracy=74.0,
    ...                          slo=0.3).name
    'resnet50-neuron-inf1'
    """

    # ------------------------------------------------------------------ selection
    def select(self, query: Query, cluster: ClusterView) -> Decision:
        """Route, load or drop a query by the rules in the module docstring.

        Parameters
        ----------
        query : Query
            The arriving query.
        cluster : ClusterView
            The cluster, read-only.

        Returns
        -------
        Decision
            A Route, Load or Drop.
        """
        now = query.arrival
        task = query.task
        self._arrivals.setdefault(task, deque()).append(now)
        self._first_seen.setdefault(task, now)
        floor, slo = self._tick_req.get(task, (-1.0, math.inf))
        self._tick_req[task] = (max(floor, query.min_accuracy), min(slo, query.slo))

        # rule 1: a loaded qualifying variant, cheapest, least-loaded replica, least slack
        best_key: tuple[float, float, float] | None = None
        best_replica: ReplicaState | None = None
        live = [r for r in cluster.accepting_replicas(task)
                if self.allowed is None or r.variant.name in self.allowed]
        per_variant: dict[str, tuple[float, ReplicaState]] = {}
        usable = {r.id for r in live if not self._overloaded(r, now)}
        for r in live:
            v = r.variant
            if v.accuracy < query.min_accuracy or r.id not in usable:
                continue
            pred = r.predicted_latency(now)
            if pred > query.slo:
                continue
            held = per_variant.get(v.name)
            if held is None or pred < held[0]:
                per_variant[v.name] = (pred, r)
        for pred, r in per_variant.values():
            key = (r.variant.price_per_hour, query.slo - pred, float(r.id))
            if best_key is None or key < best_key:
                best_key, best_replica = key, r
        if best_replica is not None:
            return Route(replica=best_replica.id)

        # rule 2: load the cheapest qualifying variant for the current rate, unless the
        # autoscaler's planned variant is live and serves this floor (then adding capacity
        # is its job); a new worker is started only when no live replica meets the floor
        meeting = [r for r in live if r.variant.accuracy >= query.min_accuracy]
        primary = self._primary.get(task)
        planned = primary is not None and any(r.variant.name == primary for r in meeting)
        if not planned:
            pick = self.cheapest_for_rate(task, rate=self.rate(task, now),
                                          min_accuracy=query.min_accuracy, slo=query.slo)
            if pick is not None and all(r.variant.name != pick.name or r.id not in usable
                                        for r in live):
                wid = self._place(pick, cluster, any_load=True)
                if wid is not None or not meeting:
                    return Load(variant=pick.name, worker=wid, reason="select-load")

        # rule 3: the closest replica, preferring those that meet the floor (or the closest
        # variant, when nothing is loaded); the query counts as a violation
        pool = [r for r in meeting if r.id in usable] or meeting or live
        if pool:
            def distance(r: ReplicaState) -> tuple[float, float]:
                short = max(0.0, query.min_accuracy - r.variant.accuracy)
                pred = r.predicted_latency(now)
                excess = max(0.0, pred - query.slo)
                return short / max(query.min_accuracy, 1.0) + excess / query.slo, pred

            scored = [(distance(r), r.id, r) for r in pool]
            (_, pred), _, closest = min(scored, key=lambda x: (x[0][0], x[1]))
            limit = self.config.max_wait_factor * query.slo
            if pred > limit:
                return Drop(reason="predicted latency above max_wait_factor × SLO")
            # a replica that meets the floor but is predicted late is not a known miss: the
            # prediction costs the batch being formed as full, so it is pessimistic, and the
            # query's real latency decides; below the floor it is a miss whatever happens
            return Route(replica=closest.id,
                         fallback=closest.variant.accuracy < query.min_accuracy)
        v = self._closest(task, query.min_accuracy, query.slo)
        return Load(variant=v.name, worker=self._place(v, cluster), fallback=True,
                    reason="select-closest")

    def _place(self, v: Variant, cluster: ClusterView, *, any_load: bool = False
               ) -> int | None:
        """An existing worker with room and little load for ``v`` (any load with
        ``any_load``), else None (a new worker)."""
        best: tuple[float, int] | None = None
        for w in cluster.workers():
            if (w.hardware.name != v.hardware or not w.accepting
                    or w.free_memory < v.peak_memory_bytes
                    or any(r.variant.key == v.key for r in w.replicas.values())
                    # sharing a device that already slows its replicas adds to the harm
                    or any(self._suspect_until.get(r.id, -1.0) > cluster.now
                           for r in w.replicas.values())
                    or not self._can_share(v, w)):
                continue
            util = self._util.get(w.id, 0.0)
            if util > self.config.colocate_below and not any_load:
                continue
            key = (util + 0.01 * len(w.replicas), w.id)
            if best is None or key < best:
                best = key
        if best is None:
            self._note_worker_start(v.hardware, cluster.now)
            return None
        return best[1]

    def _can_share(self, v: Variant, w: WorkerState) -> bool:
        """Whether ``v`` and the replicas on ``w`` can take turns on it: a worker runs one
        batch at a time, so each side's queries may wait for a full batch of the other and
        must still meet their SLO (batch-1 latency included)."""
        slo_v = self._task_slo.get(v.task, math.inf)
        for r in w.replicas.values():
            o = r.variant
            if o.latency(o.max_batch) + v.latency(1) > slo_v:
                return False
            if v.latency(v.max_batch) + o.latency(1) > self._task_slo.get(r.task, math.inf):
                return False
        return True

    def _note_worker_start(self, hardware: str, now: float) -> None:
        last = self._last_removed.get(hardware)
        factor = self._backoff.get(hardware, 1.0)
        if last is not None and now - last < self.config.worker_idle_period * factor:
            self._backoff[hardware] = min(self.config.max_backoff, factor * 2.0)
        elif last is not None and now - last > 10 * self.config.worker_idle_period * factor:
            self._backoff[hardware] = 1.0

    # ------------------------------------------------------------------ autoscaling
