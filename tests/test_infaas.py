"""INFaaS's per-query selection and autoscaling (placement.modelless.policy)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpaserve.errors import SpecError
from alpaserve.modelless.loads import concatenate_profiles, flat_load, make_queries
from placement.modelless.config import InfaasConfig
from placement.modelless.policy import InfaasPolicy, fixed_variant_policy
from simulator.modelless.cluster import (
    ClusterView,
    Drop,
    Load,
    Query,
    ReplicaState,
    Route,
    WorkerState,
)
from simulator.modelless.simulate import Interference, ModellessSimConfig, simulate_modelless
from tests._fixtures_modelless import TASK, small_registry

REG = small_registry()


def view_with(loaded: list[tuple[str, int]], now: float = 100.0) -> ClusterView:
    """A cluster at ``now`` with the given (variant, queue length) replicas, each ready on
    its own worker."""
    view = ClusterView(REG)
    view.now = now
    for i, (name, queued) in enumerate(loaded):
        v = REG.get(TASK, name)
        w = WorkerState(i, REG.hardware_of(v), 0.0)
        w.state = "ready"
        r = ReplicaState(i, TASK, v, w, 0.0)
        r.state = "ready"
        r.queue.extend(range(queued))
        w.replicas[r.id] = r
        view._add_worker(w)
        view._add_replica(r)
    return view


def query(min_accuracy: float = 70.0, slo: float = 0.2, now: float = 100.0) -> Query:
    return Query(index=0, task=TASK, arrival=now, slo=slo, min_accuracy=min_accuracy)


def variant_of(decision: Route | Load | Drop, view: ClusterView) -> str | None:
    if isinstance(decision, Route):
        r = view.replica(decision.replica)
        assert r is not None
        return r.variant.name
    if isinstance(decision, Load):
        return decision.variant
    return None


def test_selection_picks_the_cheapest_qualifying_loaded_variant() -> None:
    view = view_with([("big-gpu", 0), ("big-cpu", 0), ("small-cpu", 0)])
    pol = InfaasPolicy(REG)
    # both big variants qualify for 75%; the CPU one is ten times cheaper
    d = pol.select(query(min_accuracy=75.0), view)
    assert isinstance(d, Route)
    assert not d.fallback
    assert variant_of(d, view) == "big-cpu"
    # for 70%, both CPU variants are equally cheap: the smallest slack (the slower) wins
    d = pol.select(query(min_accuracy=70.0), view)
    assert variant_of(d, view) == "big-cpu"
    # a long queue makes big-cpu miss the SLO: the next cheapest qualifying one is used
    view = view_with([("big-gpu", 0), ("big-cpu", 6)])
    d = pol.select(query(min_accuracy=75.0), view)
    assert variant_of(d, view) == "big-gpu"


def test_selection_loads_the_cheapest_when_nothing_loaded_qualifies() -> None:
    pol = InfaasPolicy(REG)
    view = view_with([("small-cpu", 0)])
    d = pol.select(query(min_accuracy=75.0), view)
    assert isinstance(d, Load)
    assert d.variant == "big-cpu"
    assert not d.fallback
    # nothing meets 90%: the closest is served and counted as a violation
    d = pol.select(query(min_accuracy=90.0), view)
    assert isinstance(d, Route)
    assert d.fallback
    # an empty cluster loads the closest variant
    d = pol.select(query(min_accuracy=90.0), view_with([]))
    assert isinstance(d, Load)
    assert d.fallback
    assert d.variant in ("big-cpu", "big-gpu")


def test_selection_skips_interference_and_overload() -> None:
    view = view_with([("big-cpu", 0), ("big-gpu", 0)])
    r = view.replica(0)
    assert r is not None
    r.exec_ratio, r.last_exec_end = 3.0, 99.0  # measured 3x its profile a second ago
    pol = InfaasPolicy(REG)
    assert variant_of(pol.select(query(min_accuracy=75.0), view), view) == "big-gpu"
    # still skipped within the recovery period, probed again after it
    assert variant_of(pol.select(query(75.0, now=105.0), view), view) == "big-gpu"
    assert variant_of(pol.select(query(75.0, now=110.0), view), view) == "big-cpu"
    # a queue above the threshold marks the worker overloaded
    view = view_with([("small-cpu", 20), ("small-gpu", 0)])
    pol = InfaasPolicy(REG, InfaasConfig(queue_threshold_batches=2.0))
    assert variant_of(pol.select(query(slo=5.0), view), view) == "small-gpu"


@given(loaded=st.lists(st.tuples(st.sampled_from([v.name for v in REG]),
                                 st.integers(0, 40)), max_size=4, unique_by=lambda x: x[0]),
       floor=st.sampled_from([0.0, 65.0, 70.0, 74.0, 78.0, 80.0]),
       slo=st.floats(0.001, 1.0), rate_queries=st.integers(0, 50))
def test_never_below_the_floor_while_a_variant_qualifies(
        loaded: list[tuple[str, int]], floor: float, slo: float, rate_queries: int) -> None:
    view = view_with(loaded)
    pol = InfaasPolicy(REG)
    for k in range(rate_queries):  # warm the rate estimate
        pol.select(Query(index=k, task=TASK, arrival=99.0 + k / 50, slo=slo,
                         min_accuracy=floor), view)
    d = pol.select(query(min_accuracy=floor, slo=slo), view)
    qualifies = any(v.accuracy >= floor and v.latency(1) <= slo for v in REG)
    name = variant_of(d, view)
    if qualifies and name is not None:
        assert REG.get(TASK, name).accuracy >= floor


def _run_step(policy: InfaasPolicy, reg: object, low: float, high: float) -> object:
    prof = concatenate_profiles([(60.0, flat_load(low)), (90.0, flat_load(high)),
                                 (150.0, flat_load(low))])
    q = make_queries(prof, 300.0, seed=np.random.default_rng(3), task=TASK, slo=0.2,
                     accuracy_mix={70.0: 1.0})
    return simulate_modelless(q, reg, selection=policy, autoscaler=policy,  # type: ignore[arg-type]
                              config=ModellessSimConfig(horizon=300.0))


def workers_alive(res: object, t: float, hardware: str | None = None) -> int:
    return sum(1 for w in res.workers  # type: ignore[attr-defined]
               if w.requested_at <= t and (w.stopped_at is None or w.stopped_at > t)
               and (hardware is None or w.hardware == hardware))


def test_autoscaling_grows_and_shrinks_the_fleet_on_a_step_load() -> None:
    reg = small_registry(cpu_startup=5.0, gpu_startup=5.0)
    cfg = InfaasConfig(scale_down_period=10.0, worker_idle_period=10.0)
    res = _run_step(InfaasPolicy(reg, cfg), reg, low=5.0, high=200.0)
    assert workers_alive(res, 50.0) == 1
    assert workers_alive(res, 140.0) >= 3          # horizontal: more CPU replicas
    assert workers_alive(res, 290.0) == 1          # and back after the quiet period
    # the step itself costs violations until capacity arrives, none once it has
    assert res.summary(100.0, 300.0).attainment > 0.99  # type: ignore[attr-defined]
    kinds = [e.reason for e in res.events]  # type: ignore[attr-defined]
    assert "horizontal-up" in kinds
    assert "horizontal-down" in kinds


def test_model_vertical_switch_up_at_the_peak_and_down_at_the_trough() -> None:
    reg = small_registry(cpu_startup=5.0, gpu_startup=5.0, gpu_price=0.5)
    cfg = InfaasConfig(scale_down_period=10.0, worker_idle_period=10.0,
                       switch_down_period=10.0)
    res = _run_step(InfaasPolicy(reg, cfg), reg, low=5.0, high=400.0)
    assert workers_alive(res, 50.0, "gpu") == 0
    assert workers_alive(res, 140.0, "gpu") == 1   # one GPU is cheaper than six CPUs
    assert workers_alive(res, 140.0, "cpu") == 0
    assert workers_alive(res, 290.0, "gpu") == 0   # back to the CPU at the trough
    assert workers_alive(res, 290.0, "cpu") == 1
    s = res.summary(0.0)  # type: ignore[attr-defined]
    assert s.variant_switches == 2
    fixed = _run_step(fixed_variant_policy(reg, "small-gpu", cfg), reg, low=5.0, high=400.0)
    assert s.cost < fixed.summary(0.0).cost  # type: ignore[attr-defined]


def test_interference_moves_traffic_away() -> None:
    reg = small_registry(cpu_startup=0.0, gpu_startup=0.0)
    q = make_queries(flat_load(20.0), 120.0, seed=np.random.default_rng(1), task=TASK, slo=0.2,
                     accuracy_mix={75.0: 1.0})
    # worker 0 hosts the first big-cpu replica; a noisy neighbour slows it 5x for a minute
    cfg = ModellessSimConfig(horizon=120.0, interference=(
        Interference(worker=0, start=30.0, end=90.0, factor=5.0),))
    during = (q.arrival > 35.0) & (q.arrival < 85.0)
    late = {}
    for k in (2.0, 1e9):  # detection on, and effectively off
        pol = InfaasPolicy(reg, InfaasConfig(interference_factor=k))
        res = simulate_modelless(q, reg, selection=pol, autoscaler=pol, config=cfg)
        late[k] = float(np.mean(res.status[during] == 1))
    assert late[2.0] < 0.02
    assert late[1e9] > 5 * max(late[2.0], 0.01)


def test_fixed_policy_and_errors() -> None:
    pol = fixed_variant_policy(REG, "small-cpu")
    d = pol.select(query(min_accuracy=75.0), view_with([("small-cpu", 0)]))
    assert isinstance(d, Route)
    assert d.fallback
    with pytest.raises(SpecError, match="'nope'"):
        fixed_variant_policy(REG, "nope")
    assert pol.cheapest_for_rate(TASK, rate=1.0, min_accuracy=75.0, slo=0.2) is None


def test_lookahead_defaults_to_the_longest_provisioning_time() -> None:
    reg = small_registry(cpu_startup=10.0, gpu_startup=20.0)
    assert InfaasPolicy(reg).lookahead(TASK) == 21.0  # GPU start-up 20 s + load 1 s
    assert InfaasPolicy(reg, InfaasConfig(lookahead=5.0)).lookahead(TASK) == 5.0
    assert fixed_variant_policy(reg, "small-cpu").lookahead(TASK) == 11.0


def test_break_even_waits_longer_for_smaller_savings() -> None:
    pol = InfaasPolicy(REG)
    big, small = REG.get(TASK, "big-gpu"), REG.get(TASK, "small-cpu")
    # from $2/h to $0.2/h: a round trip costs 21 s × 2 + 11 s × 0.2 dollars-seconds/hour
    assert pol._break_even(big, 2.0, small, 0.2) == pytest.approx((21 * 2 + 11 * 0.2) / 1.8)
    assert pol._break_even(big, 2.0, small, 1.9) > pol._break_even(big, 2.0, small, 0.2)
    assert pol._break_even(big, 2.0, small, 2.0) == float("inf")


def test_replica_states_overloaded_and_interfered() -> None:
    pol = InfaasPolicy(REG)
    view = view_with([("small-cpu", 0), ("small-cpu", 17)])
    calm, busy = view.replicas(TASK)
    assert pol.replica_state(calm, 100.0) == "active"
    assert pol.replica_state(busy, 100.0) == "overloaded"  # 17 > 4 batches of 4
    calm.exec_ratio, calm.last_exec_end = 3.0, 99.0
    assert pol.replica_state(calm, 100.0) == "interfered"
    calm.exec_ratio = 1.0  # stays suspect for recovery_period after the slow batch
    assert pol.replica_state(calm, 105.0) == "interfered"
    assert pol.replica_state(calm, 110.0) == "active"
    # selection skips both: the query is served elsewhere or falls back to the closest
    d = pol.select(query(), view)
    assert isinstance(d, Load | Route)


def test_a_floor_meeting_fallback_is_measured_not_assumed_late() -> None:
    pol = InfaasPolicy(REG)
    view = view_with([("big-cpu", 6)])  # predicted late for a 0.2 s SLO
    d = pol.select(query(min_accuracy=75.0, slo=0.2), view)
    assert isinstance(d, Route)
    assert not d.fallback
    d = pol.select(query(min_accuracy=79.0, slo=0.2), view)  # below every floor
    assert isinstance(d, Route)
    assert d.fallback


def test_colocation_only_where_both_sides_can_wait_for_the_other() -> None:
    pol = InfaasPolicy(REG)
    view = view_with([("big-cpu", 0)])
    [w] = view.workers()
    small = REG.get(TASK, "small-cpu")
    pol._task_slo[TASK] = 0.1  # 0.084 (big's full batch) + 0.012 (small's batch of 1) fits
    assert pol._can_share(small, w)
    assert pol._place(small, view, any_load=True) == w.id
    pol._task_slo[TASK] = 0.09
    assert not pol._can_share(small, w)
    assert pol._place(small, view, any_load=True) is None  # a worker of its own


def test_no_trend_until_two_full_rate_windows() -> None:
    pol = InfaasPolicy(REG, InfaasConfig(rate_window=10.0, lookahead=20.0))
    view = view_with([("small-cpu", 0)], now=0.0)
    t = 0.0
    for i in range(2000):  # the rate ramps from 1 QPS by 2 QPS a second
        t += 1.0 / (1.0 + 2.0 * t)
        pol.select(query(now=t), view)
        if i % 10 == 0:
            pol._planning_rate(TASK, t)
        if t > 25.0:
            break
    early = InfaasPolicy(REG, InfaasConfig(rate_window=10.0, lookahead=20.0))
    for s in (0.0, 0.5, 1.0, 1.5):
        early.select(query(now=s), view)
    assert early._planning_rate(TASK, 1.5) == early.rate(TASK, 1.5)  # no extrapolation
    assert TASK not in early._trend
    assert pol._planning_rate(TASK, t) > pol.rate(TASK, t)  # settled: looks ahead
