"""INFaaS's per-query variant selection and its autoscaler, as simulator policies.

:class:`InfaasPolicy` implements both :class:`~simulator.modelless.cluster.SelectionPolicy`
and :class:`~simulator.modelless.cluster.AutoscalingPolicy`.

Selection, per query, is inherited from :class:`~placement.modelless.selection.InfaasSelection`
(INFaaS §4; the rules are in that module's docstring).

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
from collections.abc import Sequence

from alpaserve.modelless.registry import VariantRegistry
from alpaserve.modelless.variants import Variant
from placement.modelless.config import InfaasConfig
from placement.modelless.estimates import INTERFERED
from placement.modelless.selection import InfaasSelection
from simulator.modelless.cluster import (
    Action,
    AddReplica,
    ClusterView,
    RemoveReplica,
    RemoveWorker,
    WorkerState,
)

logger = logging.getLogger(__name__)


class InfaasPolicy(InfaasSelection):
    """INFaaS's selection (inherited) and autoscaling over the variants of a registry.

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

    Examples
    --------
    >>> from alpaserve.modelless.registry import example_registry
    >>> policy = InfaasPolicy(example_registry())
    >>> policy.cheapest_for_rate("image-classification", rate=700.0, min_accuracy=74.0,
    ...                          slo=0.3).name
    'resnet50-neuron-inf1'
    """

    def autoscale(self, cluster: ClusterView) -> Sequence[Action]:
        """Plan every task seen or declared, then stop idle workers.

        Parameters
        ----------
        cluster : ClusterView
            The cluster, read-only.

        Returns
        -------
        sequence of Action
            Replicas to add or drain (per task) and workers to remove.
        """
        now = cluster.now
        self._measure_workers(cluster)
        for task, req in self._tick_req.items():
            self._requirements.setdefault(task, deque()).append((now, *req))
        self._tick_req.clear()
        actions: list[Action] = []
        for task in sorted(set(self._arrivals) | set(self._expected)):
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

    def lookahead(self, task: str) -> float:
        """Seconds of rate trend the autoscaler plans ahead for ``task``.

        Parameters
        ----------
        task : str
            A task of the registry.

        Returns
        -------
        float
            ``config.lookahead`` when set; otherwise (``None``) the longest worker
            start-up plus variant load time among the task's candidate variants, the time a
            planned replica takes to become ready.

        Examples
        --------
        >>> from alpaserve.modelless.registry import example_registry
        >>> InfaasPolicy(example_registry()).lookahead("image-classification")
        49.32
        """
        if self.config.lookahead is not None:
            return self.config.lookahead
        return max((self.registry.hardware_of(v).startup_time + v.load_latency
                    for v in self.candidates(task)), default=0.0)

    def _planning_rate(self, task: str, now: float) -> float:
        rate = self.rate(task, now)
        expected = self._expected.get(task)
        first = self._first_seen.get(task)
        if expected is not None and (first is None or now - first < self.config.rate_window):
            rate = max(rate, expected.rate)  # too few arrivals yet for a measured rate
        hist = self._rate_history.setdefault(task, deque())
        hist.append((now, rate))
        while hist and hist[0][0] < now - self.config.rate_window:
            hist.popleft()
        ahead = self.lookahead(task)
        # a trend needs two full-window estimates: earlier ones count a few arrivals over a
        # short span, and their noise would read as a steep ramp
        settled = first is not None and now - first >= 2 * self.config.rate_window
        if ahead > 0 and settled and len(hist) > 1 and now > hist[0][0]:
            trend = (rate - hist[0][1]) / (now - hist[0][0])
            self._trend[task] = trend
            # capped at twice the measured rate: a step is not an endless ramp
            rate = max(rate, min(rate + trend * ahead, 2.0 * rate))
        return rate

    def _scale_task(self, task: str, cluster: ClusterView) -> list[Action]:
        now = cluster.now
        cfg = self.config
        rate = self._planning_rate(task, now)
        req = self._requirements_now(task, now)
        primary = self._primary.get(task)
        expected = self._expected.get(task)
        if req is None and expected is not None and task not in self._first_seen:
            req = (expected.min_accuracy, expected.slo)
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
                wait = max(cfg.switch_down_period,
                           self._break_even(current, cur_cost, best, best_cost))
                if now - since >= wait:
                    self._primary[task] = best.name
                    current, reason = best, direction
                    self._switch_since.pop(task, None)
            else:
                self._switch_since.pop(task, None)
        else:
            self._switch_since.pop(task, None)
        if reason == "horizontal-up":
            current, reason = self._switch_ahead(task, cluster, current, rate, floor, slo_eff)

        actions: list[Action] = []
        _, need = self.plan_cost(current, rate, slo_eff)
        mine = [r for r in cluster.replicas(task)
                if r.variant.name == current.name and r.accepting
                and self.replica_state(r, now) != INTERFERED]  # not capacity while slowed
        # no scale-down while a replica is slowed: its replacement is what carries the load
        slowed = any(r.variant.name == current.name and r.accepting and r not in mine
                     for r in cluster.replicas(task))
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
        elif len(mine) > need and not slowed:
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

    def _switch_ahead(self, task: str, cluster: ClusterView, current: Variant, rate: float,
                      floor: float, slo: float) -> tuple[Variant, str]:
        """On a rising load, switch early to the variant that will be cheapest over the
        next ``far_horizon`` seconds, in time for it to be ready before the current
        replicas run out of capacity.

        Adding a replica of the current variant and then switching away within minutes
        pays two start-ups and a period of running both; when the trend says the switch is
        coming, make it while it still replaces a scale-up.
        """
        trend = self._trend.get(task, 0.0)
        if trend <= 0:
            return current, "horizontal-up"
        far = rate + trend * self.far_horizon(task)
        best = self.cheapest_for_rate(task, rate=far, min_accuracy=floor, slo=slo)
        if best is None or best.name == current.name:
            return current, "horizontal-up"
        # switch only when the current replicas will not carry the load until the new
        # variant is ready; until then scaling the current variant is the cheaper move
        # from the measured rate (``rate`` already looks ahead), which lags the true rate by
        # half a window; capped so that a burst on a flat load is not read as a ramp
        measured = self.rate(task, cluster.now)
        horizon = self._provision(best) + self.config.rate_window / 2
        soon = min(measured + trend * horizon, 2.5 * measured)
        _, need = self.plan_cost(current, soon, slo)
        have = sum(1 for r in cluster.replicas(task)
                   if r.variant.name == current.name and r.accepting)
        if need <= have:
            return current, "horizontal-up"
        best_cost, _ = self.plan_cost(best, far, slo)
        cur_cost, _ = self.plan_cost(current, far, slo)
        if best_cost < cur_cost * (1 - self.config.switch_margin):
            self._primary[task] = best.name
            self._switch_since.pop(task, None)
            return best, "switch-up"
        return current, "horizontal-up"

    def _provision(self, v: Variant) -> float:
        return self.registry.hardware_of(v).startup_time + v.load_latency

    def far_horizon(self, task: str) -> float:
        """Seconds of trend a switch ahead of a scale-up looks over.

        Parameters
        ----------
        task : str
            A task of the registry.

        Returns
        -------
        float
            Three lookaheads (:meth:`lookahead`): the time over which a new worker is expected
            to be used.
        """
        return 3.0 * self.lookahead(task)

    def _break_even(self, current: Variant, cur_cost: float, best: Variant,
                    best_cost: float) -> float:
        """Seconds of a trough after which switching to ``best`` has paid for itself.

        A round trip (to ``best`` now, back to ``current`` when the load returns) pays each
        variant's plan while its workers start and load; the saving accrues at the plans'
        difference. Waiting that long before switching costs at most twice the best choice
        in hindsight (the ski-rental argument), whatever the trough's length.
        """
        saving = cur_cost - best_cost  # $/hour; positive when called
        if saving <= 0:
            return math.inf

        def provision(v: Variant) -> float:
            return self.registry.hardware_of(v).startup_time + v.load_latency

        return (provision(current) * cur_cost + provision(best) * best_cost) / saving

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

    Parameters
    ----------
    registry : VariantRegistry
        The variants.
    variant : str
        The one variant served (any task's variant of that name).
    config : InfaasConfig or None
        Thresholds (INFaaS's defaults when None).

    Returns
    -------
    InfaasPolicy
        Restricted to ``variant``.

    Raises
    ------
    SpecError
        If no variant has that name.

    Examples
    --------
    >>> from alpaserve.modelless.registry import example_registry
    >>> p = fixed_variant_policy(example_registry(), "resnet50-trt-v100")
    >>> [v.name for v in p.candidates("image-classification")]
    ['resnet50-trt-v100']
    """
    return InfaasPolicy(registry, config, variants=[variant])
