"""INFaaS's per-query variant selection and its autoscaler, as simulator policies.

:class:`InfaasPolicy` implements both :class:`~simulator.modelless_cluster.SelectionPolicy`
and :class:`~simulator.modelless_cluster.AutoscalingPolicy`.

Selection, per query (INFaaS §4):

1. Among loaded replicas whose variant meets the query's accuracy floor and whose predicted
   latency (queueing on their worker included) meets its SLO, take the cheapest variant
   (by its hardware's $/hour), on its least-loaded replica, and among equally cheap ones the
   smallest slack. Replicas suspected of interference (last batch slower than
   ``interference_factor`` × profiled) or on overloaded workers are skipped.
2. Otherwise load the variant that is cheapest for the task's current arrival rate among
   those that meet the floor and whose batch-1 latency meets the SLO, unless it already has a
   replica (then the autoscaler adds capacity); the query pays the load.
3. Otherwise serve the closest replica (smallest normalised accuracy shortfall plus latency
   excess); the query counts as a violation. If even that replica would take longer than
   ``max_wait_factor`` × SLO the query is dropped instead (a client time-out), so that
   hopeless queries do not pile up behind starting workers.

Autoscaling, every monitoring interval, per task: plan the cheapest variant for the
observed rate, strictest floor and tightest SLO (``ceil(rate / (threshold × capacity))``
replicas × $/hour); switch to it at once when the current variant would need more replicas
(model-vertical up, e.g. CPU → accelerator at a peak) or after ``switch_down_period`` of a
trough (down); add replicas when the plan needs more or the replicas' workers run above the
utilisation threshold (horizontal up), remove one after ``scale_down_period`` of needing
fewer; drain replicas of other variants once the planned ones carry the load. Workers start
when a replica finds no room; empty workers stop after ``worker_idle_period`` with backoff.

A *fixed-variant* baseline is the same policy restricted to one variant
(:func:`fixed_variant_policy`): it can only replicate.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Iterable, Sequence

from alpaserve.errors import SpecError
from alpaserve.variant_registry import VariantRegistry
from alpaserve.variants import Variant
from placement.infaas_config import InfaasConfig
from simulator.modelless_cluster import (
    Action,
    AddReplica,
    ClusterView,
    Decision,
    Drop,
    Load,
    Query,
    RemoveReplica,
    RemoveWorker,
    ReplicaState,
    Route,
    WorkerState,
)

logger = logging.getLogger(__name__)


class InfaasPolicy:
    """INFaaS's selection and autoscaling over the variants of a registry.

    ``variants`` restricts the policy to some variant names (all by default). The object
    keeps the estimates it needs (rates, utilisations, timers) between calls, so use one
    instance per simulation.

    Examples
    --------
    >>> from alpaserve.variant_registry import example_registry
    >>> policy = InfaasPolicy(example_registry())
    >>> v = policy.cheapest_for_rate("image-classification", rate=4.0, min_accuracy=74.0,
    ...                              slo=0.3)
    >>> v.name, v.hardware
    ('inceptionv3-tf-cpu', 'cpu-c5.xlarge')
    >>> policy.cheapest_for_rate("image-classification", rate=700.0, min_accuracy=74.0,
    ...                          slo=0.3).name
    'resnet50-neuron-inf1'
    """

    def __init__(self, registry: VariantRegistry, config: InfaasConfig | None = None, *,
                 variants: Iterable[str] | None = None) -> None:
        self.registry = registry
        self.config = config or InfaasConfig()
        self.allowed = None if variants is None else frozenset(variants)
        if self.allowed is not None:
            known = {v.name for v in registry}
            missing = sorted(self.allowed - known)
            if missing or not self.allowed:
                raise SpecError(f"variants {missing or '[]'} are not in the registry; "
                                f"known: {sorted(known)}")
        self._arrivals: dict[str, deque[float]] = {}
        self._requirements: dict[str, deque[tuple[float, float, float]]] = {}
        self._tick_req: dict[str, tuple[float, float]] = {}
        self._first_seen: dict[str, float] = {}
        self._primary: dict[str, str] = {}
        self._switch_since: dict[str, float] = {}
        self._low_since: dict[tuple[str, str], float] = {}
        self._hot_ticks: dict[tuple[str, str], int] = {}
        self._util: dict[int, float] = {}
        self._empty_since: dict[int, float] = {}
        self._suspect_until: dict[int, float] = {}
        self._backoff: dict[str, float] = {}
        self._last_removed: dict[str, float] = {}
        self._rate_history: dict[str, deque[tuple[float, float]]] = {}
        self._served: dict[int, tuple[float, int]] = {}
        self._replica_util: dict[int, float] = {}
        self._qual_cache: dict[tuple[str, float, float], list[tuple[Variant, float]]] = {}
        self._pick_cache: dict[tuple[str, float, float, float, frozenset[str]],
                               Variant | None] = {}
        self._task_slo: dict[str, float] = {}
        self._switched_out: set[int] = set()

    # ------------------------------------------------------------------ variants
    def candidates(self, task: str) -> list[Variant]:
        vs = self.registry.variants(task)
        return [v for v in vs if self.allowed is None or v.name in self.allowed]

    def _qualifying(self, task: str, min_accuracy: float, slo: float
                    ) -> list[tuple[Variant, float]]:
        """Variants meeting the floor whose batch-1 latency meets the SLO, with capacity."""
        key = (task, min_accuracy, slo)
        found = self._qual_cache.get(key)
        if found is None:
            found = [(v, v.capacity(slo)) for v in self.candidates(task)
                     if v.accuracy >= min_accuracy and v.latency(1) <= slo]
            self._qual_cache[key] = found
        return found

    def plan_cost(self, v: Variant, rate: float, slo: float,
                  capacity: float | None = None) -> tuple[float, int]:
        """$/hour and replicas to serve ``rate`` QPS with ``v`` at the utilisation target."""
        cap = (v.capacity(slo) if capacity is None else capacity) or v.throughput(1)
        n = max(1, math.ceil(rate / (self.config.utilization_threshold * cap) - 1e-9))
        return n * v.price_per_hour, n

    def cheapest_for_rate(self, task: str, *, rate: float, min_accuracy: float,
                          slo: float, exclude: frozenset[str] = frozenset()
                          ) -> Variant | None:
        """The qualifying variant that serves ``rate`` at the least $/hour (None if none)."""
        rate = float(f"{rate:.3g}")  # plans change in steps; a coarse rate memoises well
        memo = (task, rate, min_accuracy, slo, exclude)
        if memo in self._pick_cache:
            return self._pick_cache[memo]
        best: tuple[float, float, float, str] | None = None
        pick = None
        for v, cap in self._qualifying(task, min_accuracy, slo):
            if v.name in exclude:
                continue
            cost, _ = self.plan_cost(v, rate, slo, cap)
            key = (cost, -cap, -v.accuracy, v.name)
            if best is None or key < best:
                best, pick = key, v
        if len(self._pick_cache) > 100_000:
            self._pick_cache.clear()
        self._pick_cache[memo] = pick
        return pick

    def _closest(self, task: str, min_accuracy: float, slo: float) -> Variant:
        def distance(v: Variant) -> tuple[float, str]:
            short = max(0.0, min_accuracy - v.accuracy) / max(min_accuracy, 1.0)
            return short + max(0.0, v.latency(1) - slo) / slo, v.name

        return min(self.candidates(task), key=distance)

    # ------------------------------------------------------------------ estimates
    def rate(self, task: str, now: float) -> float:
        """Arrivals per second over the last ``rate_window`` seconds."""
        window = self.config.rate_window
        times = self._arrivals.get(task)
        if not times:
            return 0.0
        while times and times[0] < now - window:
            times.popleft()
        span = min(window, max(now - self._first_seen[task], 1.0))
        return len(times) / span

    def _requirements_now(self, task: str, now: float) -> tuple[float, float] | None:
        hist = self._requirements.get(task)
        if not hist:
            return None
        while hist and hist[0][0] < now - self.config.rate_window:
            hist.popleft()
        if not hist:
            return None
        return max(h[1] for h in hist), min(h[2] for h in hist)

    def _overloaded(self, r: ReplicaState, now: float) -> bool:
        if self._suspect_until.get(r.id, -1.0) > now:
            return True
        if (r.exec_ratio > self.config.interference_factor
                and now - r.last_exec_end < self.config.recovery_period):
            self._suspect_until[r.id] = r.last_exec_end + self.config.recovery_period
            return True
        limit = self.config.queue_threshold_batches * r.variant.max_batch
        return r.worker.queued() > limit

    # ------------------------------------------------------------------ selection
    def select(self, query: Query, cluster: ClusterView) -> Decision:
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
        for r in live:
            v = r.variant
            if v.accuracy < query.min_accuracy or self._overloaded(r, now):
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
            if pick is not None and all(r.variant.name != pick.name for r in live):
                wid = self._place(pick, cluster, any_load=True)
                if wid is not None or not meeting:
                    return Load(variant=pick.name, worker=wid, reason="select-load")

        # rule 3: the closest replica, preferring those that meet the floor (or the closest
        # variant, when nothing is loaded); the query counts as a violation
        pool = meeting or live
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
            return Route(replica=closest.id, fallback=True)
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
                    or any(r.variant.key == v.key for r in w.replicas.values())):
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

    def _note_worker_start(self, hardware: str, now: float) -> None:
        last = self._last_removed.get(hardware)
        factor = self._backoff.get(hardware, 1.0)
        if last is not None and now - last < self.config.worker_idle_period * factor:
            self._backoff[hardware] = min(self.config.max_backoff, factor * 2.0)
        elif last is not None and now - last > 10 * self.config.worker_idle_period * factor:
            self._backoff[hardware] = 1.0

    # ------------------------------------------------------------------ autoscaling
    def autoscale(self, cluster: ClusterView) -> Sequence[Action]:
        now = cluster.now
        self._measure_workers(cluster)
        for task, req in self._tick_req.items():
            self._requirements.setdefault(task, deque()).append((now, *req))
        self._tick_req.clear()
        actions: list[Action] = []
        for task in sorted(self._arrivals):
            actions.extend(self._scale_task(task, cluster))
        actions.extend(self._scale_workers(cluster, actions))
        return actions

    def _measure_workers(self, cluster: ClusterView) -> None:
        """Utilisation = served rate over capacity at the task's SLO, summed per worker.

        Busy time would overstate it: a worker that runs small batches back to back is
        always busy yet far from its throughput limit.
        """
        now = cluster.now
        live = set()
        for w in cluster.workers():
            live.add(w.id)
            total = 0.0
            for r in w.replicas.values():
                prev = self._served.get(r.id)
                if prev is not None and now > prev[0]:
                    slo = self._task_slo.get(r.task, math.inf)
                    cap = (r.variant.capacity(slo) if math.isfinite(slo) else 0.0) \
                        or r.variant.throughput()
                    self._replica_util[r.id] = (r.served - prev[1]) / (now - prev[0]) / cap
                self._served[r.id] = (now, r.served)
                total += self._replica_util.get(r.id, 0.0)
            self._util[w.id] = total
        for wid in list(self._util):
            if wid not in live:
                self._util.pop(wid, None)
                self._empty_since.pop(wid, None)
        replicas = {r.id for r in cluster.replicas()}
        for rid in list(self._served):
            if rid not in replicas:
                self._served.pop(rid, None)
                self._replica_util.pop(rid, None)
                self._suspect_until.pop(rid, None)

    def _planning_rate(self, task: str, now: float) -> float:
        rate = self.rate(task, now)
        hist = self._rate_history.setdefault(task, deque())
        hist.append((now, rate))
        while hist and hist[0][0] < now - self.config.rate_window:
            hist.popleft()
        if self.config.lookahead > 0 and len(hist) > 1 and now > hist[0][0]:
            trend = (rate - hist[0][1]) / (now - hist[0][0])
            rate = max(rate, rate + trend * self.config.lookahead)
        return rate

    def _scale_task(self, task: str, cluster: ClusterView) -> list[Action]:
        now = cluster.now
        cfg = self.config
        rate = self._planning_rate(task, now)
        req = self._requirements_now(task, now)
        primary = self._primary.get(task)
        if req is None:
            if primary is None:
                return []
            floor, slo = self.registry.get(task, primary).accuracy, math.inf
        else:
            floor, slo = req
            self._task_slo[task] = slo
        best = self.cheapest_for_rate(task, rate=rate, min_accuracy=floor, slo=slo)
        if best is None:
            best = self._closest(task, floor, slo if math.isfinite(slo) else 1e9)
        slo_eff = slo if math.isfinite(slo) else 1e9
        reason = "horizontal-up"
        current = self.registry.get(task, primary) if primary is not None else None
        if current is None or (current.accuracy < floor and best.accuracy >= floor):
            self._primary[task] = best.name
            current, reason = best, "switch-up"
            self._switch_since.pop(task, None)
        elif best.name != current.name:
            best_cost, _ = self.plan_cost(best, rate, slo_eff)
            cur_cost, cur_need = self.plan_cost(current, rate, slo_eff)
            have = sum(1 for r in cluster.replicas(task)
                       if r.variant.name == current.name and r.accepting)
            direction = ("switch-up" if best.price_per_hour > current.price_per_hour
                         else "switch-down")
            if best_cost < cur_cost * (1 - cfg.switch_margin) and cur_need > have:
                self._primary[task] = best.name
                current, reason = best, direction
                self._switch_since.pop(task, None)
            elif best_cost < cur_cost * (1 - cfg.switch_margin):
                since = self._switch_since.setdefault(task, now)
                if now - since >= cfg.switch_down_period:
                    self._primary[task] = best.name
                    current, reason = best, direction
                    self._switch_since.pop(task, None)
            else:
                self._switch_since.pop(task, None)
        else:
            self._switch_since.pop(task, None)

        actions: list[Action] = []
        _, need = self.plan_cost(current, rate, slo_eff)
        mine = [r for r in cluster.replicas(task)
                if r.variant.name == current.name and r.accepting]
        key = (task, current.name)
        utils = [self._replica_util.get(r.id, 0.0) for r in mine if r.ready_at <= now]
        if utils and len(utils) == len(mine) and min(utils) > cfg.utilization_threshold:
            self._hot_ticks[key] = self._hot_ticks.get(key, 0) + 1
        else:
            self._hot_ticks[key] = 0
        if self._hot_ticks[key] >= 2 and need <= len(mine):
            need = len(mine) + 1
            self._hot_ticks[key] = 0
        if len(mine) < need:
            self._low_since.pop(key, None)
            planned: list[int] = []
            for _ in range(need - len(mine)):
                wid = self._place_excluding(current, cluster, planned)
                if wid is not None:
                    planned.append(wid)
                actions.append(AddReplica(task=task, variant=current.name, worker=wid,
                                          reason=reason))
        elif len(mine) > need:
            since = self._low_since.setdefault(key, now)
            if now - since >= cfg.scale_down_period:
                victim = min(mine, key=lambda r: (r.ready_at <= now, len(r.queue), -r.id))
                actions.append(RemoveReplica(replica=victim.id, reason="horizontal-down"))
                self._low_since[key] = now
        else:
            self._low_since.pop(key, None)

        # consolidate: once the planned variant's ready replicas carry the load, drain others
        ready = [r for r in mine if r.ready_at <= now]
        if len(ready) >= min(need, len(mine)) and ready:
            for r in cluster.replicas(task):
                if r.variant.name != current.name and r.accepting:
                    actions.append(RemoveReplica(replica=r.id, reason="consolidate"))
                    self._switched_out.add(r.worker.id)
        return actions

    def _place_excluding(self, v: Variant, cluster: ClusterView,
                         taken: list[int]) -> int | None:
        wid = self._place(v, cluster)
        if wid is not None and wid in taken:
            self._note_worker_start(v.hardware, cluster.now)
            return None
        return wid

    def _scale_workers(self, cluster: ClusterView, pending: list[Action]) -> list[Action]:
        now = cluster.now
        targeted = {a.worker for a in pending if isinstance(a, AddReplica)}
        leaving = {a.replica for a in pending if isinstance(a, RemoveReplica)}
        actions: list[Action] = []
        for w in cluster.workers():
            if not w.accepting or w.id in targeted:
                continue
            if _hosts_live_replicas(w):
                self._empty_since.pop(w.id, None)
                if any(r.accepting and r.id not in leaving for r in w.replicas.values()):
                    self._switched_out.discard(w.id)
                continue
            since = self._empty_since.setdefault(w.id, now)
            hw = w.hardware.name
            # a worker emptied by a switch away from its variants is not waited for: the
            # switch already had its own hysteresis
            if w.id in self._switched_out:
                self._switched_out.discard(w.id)
                actions.append(RemoveWorker(worker=w.id, reason="switched-out"))
                self._empty_since.pop(w.id, None)
            elif now - since >= self.config.worker_idle_period * self._backoff.get(hw, 1.0):
                actions.append(RemoveWorker(worker=w.id, reason="idle"))
                self._last_removed[hw] = now
                self._empty_since.pop(w.id, None)
        return actions


def _hosts_live_replicas(w: WorkerState) -> bool:
    return any(r.accepting or r.queue for r in w.replicas.values())


def fixed_variant_policy(registry: VariantRegistry, variant: str,
                         config: InfaasConfig | None = None) -> InfaasPolicy:
    """The baseline that serves every query with one variant, replicated as load grows.

    Examples
    --------
    >>> from alpaserve.variant_registry import example_registry
    >>> p = fixed_variant_policy(example_registry(), "resnet50-trt-v100")
    >>> [v.name for v in p.candidates("image-classification")]
    ['resnet50-trt-v100']
    """
    return InfaasPolicy(registry, config, variants=[variant])
