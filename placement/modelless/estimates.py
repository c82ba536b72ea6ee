"""The state and estimates INFaaS's selection and autoscaler share, and variant planning.

:class:`InfaasEstimates` is the base of :class:`~placement.modelless.selection.InfaasSelection`
(per-query selection) and so of :class:`~placement.modelless.policy.InfaasPolicy`
(autoscaling). It holds what both halves read and update between calls (arrival times,
utilisations, timers, backoff), the variants a policy may use and which of them is cheapest
for a rate (``ceil(rate / (threshold × capacity))`` replicas × $/hour), the arrival-rate
estimate and each replica's INFaaS state (active, overloaded, interfered). It is separate
from selection because none of it decides where a query goes.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

from alpaserve.errors import SpecError
from alpaserve.modelless.registry import VariantRegistry
from alpaserve.modelless.variants import Variant
from placement.modelless.config import Expectation, InfaasConfig
from simulator.modelless.cluster import ReplicaState

__all__ = ["ACTIVE", "INTERFERED", "OVERLOADED", "REPLICA_STATES", "InfaasEstimates"]


ACTIVE, OVERLOADED, INTERFERED = "active", "overloaded", "interfered"
REPLICA_STATES = (ACTIVE, OVERLOADED, INTERFERED)


class InfaasEstimates:
    """Variant planning, rate estimates and replica states over a registry's variants,
    with the state (rates, utilisations, timers) that selection and autoscaling share.

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
    >>> est = InfaasEstimates(example_registry(), variants=["inceptionv3-tf-cpu"])
    >>> [v.name for v in est.candidates("image-classification")]
    ['inceptionv3-tf-cpu']
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
