"""INFaaS's per-query variant selection.

This is the first half of :class:`placement.modelless.policy.InfaasPolicy`.

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
from collections.abc import Iterable

from alpaserve.errors import SpecError
from alpaserve.modelless.registry import VariantRegistry
from alpaserve.modelless.variants import Variant
from placement.modelless.config import Expectation, InfaasConfig
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

ACTIVE, OVERLOADED, INTERFERED = "active", "overloaded", "interfered"
REPLICA_STATES = (ACTIVE, OVERLOADED, INTERFERED)


class InfaasSelection:
    """INFaaS's per-query selection over the variants of a registry, and the estimates
    (rates, utilisations, timers) that selection and autoscaling share.

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

    def __init__(self, registry: VariantRegistry, config: InfaasConfig | None = None, *,
                 variants: Iterable[str] | None = None,
                 expected: Iterable[Expectation] = ()) -> None:
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
        self._expected: dict[str, Expectation] = {}
        self._trend: dict[str, float] = {}
        for e in expected:
            if e.task not in registry.tasks():
                raise SpecError(f"expected task {e.task!r} has no variants in the registry "
                                f"(tasks: {registry.tasks()})")
            self._expected[e.task] = e

    # ------------------------------------------------------------------ variants
    def candidates(self, task: str) -> list[Variant]:
        """The variants of ``task`` the policy may use.

        Parameters
        ----------
        task : str
            A task.

        Returns
        -------
        list of Variant
            Sorted by name.
        """
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
        """$/hour and replicas to serve ``rate`` QPS with ``v`` at the utilisation target.

        Parameters
        ----------
        v : Variant
            The variant.
        rate : float
            Queries per second.
        slo : float
            Latency SLO, seconds.
        capacity : float or None
            The variant's capacity at ``slo`` when known (queries per second).

        Returns
        -------
        tuple of (float, int)
            Dollars per hour, and replicas (at least one).
        """
        cap = (v.capacity(slo) if capacity is None else capacity) or v.throughput(1)
        n = max(1, math.ceil(rate / (self.config.utilization_threshold * cap) - 1e-9))
        return n * v.price_per_hour, n

    def cheapest_for_rate(self, task: str, *, rate: float, min_accuracy: float,
                          slo: float, exclude: frozenset[str] = frozenset()
                          ) -> Variant | None:
        """The qualifying variant that serves ``rate`` at the least $/hour (None if none).

        Parameters
        ----------
        task : str
            The task.
        rate : float
            Queries per second to plan for (rounded to three significant digits).
        min_accuracy : float
            Floor, top-1 percent.
        slo : float
            Latency SLO, seconds.
        exclude : frozenset of str
            Variant names not to consider.

        Returns
        -------
        Variant or None
            Ties go to the larger capacity, then the higher accuracy.
        """
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
        """Arrivals per second over the last ``rate_window`` seconds.

        Parameters
        ----------
        task : str
            The task.
        now : float
            Current time, seconds.

        Returns
        -------
        float
            Queries per second (over the time since the first query while that is shorter).
        """
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

    def replica_state(self, r: ReplicaState, now: float) -> str:
        """INFaaS's state of a replica: ``active``, ``overloaded`` or ``interfered``.

        *Interfered*: its last batch took more than ``interference_factor`` times its
        profiled latency (a co-located job or a noisy neighbour slows it) within the last
        ``recovery_period`` seconds; it stays so until the period has passed. *Overloaded*:
        its worker has more than ``queue_threshold_batches`` maximum batches queued (the
        replicas sharing the worker have more work than it can absorb). Selection skips
        both, and the autoscaler does not count them as capacity.

        Parameters
        ----------
        r : ReplicaState
            A live replica.
        now : float
            Current time, seconds.

        Returns
        -------
        str
            One of :data:`REPLICA_STATES`.
        """
        if self._suspect_until.get(r.id, -1.0) > now:
            return INTERFERED
        if (r.exec_ratio > self.config.interference_factor
                and now - r.last_exec_end < self.config.recovery_period):
            self._suspect_until[r.id] = r.last_exec_end + self.config.recovery_period
            return INTERFERED
        limit = self.config.queue_threshold_batches * r.variant.max_batch
        return OVERLOADED if r.worker.queued() > limit else ACTIVE

    def _overloaded(self, r: ReplicaState, now: float) -> bool:
        return self.replica_state(r, now) != ACTIVE

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
