"""The event-driven model-less simulator: accounting, execution, billing and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.errors import SimulationError
from simulator.modelless.cluster import (
    AddReplica,
    AddWorker,
    ClusterView,
    Drop,
    Load,
    Query,
    RemoveReplica,
    RemoveWorker,
    Route,
)
from simulator.modelless.metrics import BELOW_ACCURACY, DROPPED, FALLBACK, LATE, MET
from simulator.modelless.simulate import Interference, ModellessSimConfig, simulate_modelless
from tests._fixtures_modelless import TASK, queries, small_registry


class LoadOnce:
    """Route to the first accepting replica of ``variant``, loading it if absent."""

    def __init__(self, variant: str, worker: int | None = None) -> None:
        self.variant = variant
        self.worker = worker

    def select(self, query: Query, cluster: ClusterView) -> Route | Load:
        for r in cluster.accepting_replicas(query.task):
            if r.variant.name == self.variant:
                return Route(replica=r.id)
        return Load(variant=self.variant, worker=self.worker)


def test_batches_run_back_to_back_and_are_timed_by_the_profile() -> None:
    reg = small_registry(cpu_startup=0.0)
    # four queries at once on small-cpu (max batch 4): one batch of 4, latency 0.042 s
    q = queries([0.0, 0.0, 0.0, 0.0, 0.0], slo=1.5)
    res = simulate_modelless(q, reg, selection=LoadOnce("small-cpu"))
    # load 1 s; then a batch of 4 (0.042 s) and a batch of 1 (0.012 s)
    assert res.completion.tolist() == pytest.approx([1.042] * 4 + [1.054])
    assert res.status.tolist() == [MET] * 5
    assert res.counts() == {"met": 5, "late": 0, "below_accuracy": 0, "fallback": 0,
                            "dropped": 0}


def test_outcomes_late_below_accuracy_fallback_dropped() -> None:
    reg = small_registry(cpu_startup=0.0)

    class Mixed:
        def select(self, query: Query, cluster: ClusterView) -> Route | Load | Drop:
            live = cluster.accepting_replicas(query.task)
            if query.index == 3:
                return Drop(reason="test")
            if not live:
                return Load(variant="small-cpu")
            return Route(replica=live[0].id, fallback=query.index == 2)

    q = queries([0.0, 5.0, 6.0, 7.0], slo=0.5, min_accuracy=70.0)
    q2 = queries([0.0, 5.0, 6.0, 7.0], slo=0.5, min_accuracy=75.0)
    res = simulate_modelless(q, reg, selection=Mixed())
    assert res.status.tolist() == [LATE, MET, FALLBACK, DROPPED]
    res2 = simulate_modelless(q2, reg, selection=Mixed())
    assert res2.status.tolist() == [BELOW_ACCURACY, BELOW_ACCURACY, FALLBACK, DROPPED]


def test_worker_startup_delays_service_and_is_billed() -> None:
    reg = small_registry(cpu_startup=10.0)
    q = queries([0.0, 20.0], slo=0.5)
    res = simulate_modelless(q, reg, selection=LoadOnce("small-cpu"),
                             config=ModellessSimConfig(horizon=3600.0))
    assert res.completion[0] == pytest.approx(10.0 + 1.0 + 0.012)
    assert res.status.tolist() == [LATE, MET]
    assert res.cost() == {"cpu": pytest.approx(0.2)}
    assert res.cost(0.0, 1800.0) == {"cpu": pytest.approx(0.1)}


def test_interference_slows_batches_and_is_measured() -> None:
    reg = small_registry(cpu_startup=0.0)
    seen: list[float] = []

    class Watch(LoadOnce):
        def select(self, query: Query, cluster: ClusterView) -> Route | Load:
            for r in cluster.accepting_replicas(query.task):
                seen.append(r.exec_ratio)
            return super().select(query, cluster)

    q = queries([0.0, 2.0, 3.0], slo=0.5)
    cfg = ModellessSimConfig(interference=(Interference(worker=0, start=1.5, end=2.5,
                                                        factor=3.0),))
    res = simulate_modelless(q, reg, selection=Watch("small-cpu"), config=cfg)
    assert res.completion[1] - 2.0 == pytest.approx(3 * 0.012)
    assert seen[-1] == pytest.approx(3.0)


def test_drained_replicas_finish_their_queue_and_workers_stop() -> None:
    reg = small_registry(cpu_startup=0.0)

    class Scaler:
        def __init__(self) -> None:
            self.done = False

        def autoscale(self, cluster: ClusterView) -> list[AddReplica | RemoveWorker
                                                           | RemoveReplica | AddWorker]:
            if cluster.now >= 4.0 and not self.done:
                self.done = True
                return [RemoveWorker(worker=w.id) for w in cluster.workers()]
            return []

    arrivals = [0.0] * 12 + [3.99]
    res = simulate_modelless(queries(arrivals, slo=5.0), reg, selection=LoadOnce("big-cpu"),
                             autoscaler=Scaler(), config=ModellessSimConfig(horizon=100.0))
    assert res.counts()["met"] == 13
    assert res.workers[0].stopped_at is not None
    assert res.workers[0].stopped_at == pytest.approx(float(np.nanmax(res.completion)))
    kinds = [e.kind for e in res.events]
    assert kinds.index("replica_drain") < kinds.index("replica_unload") < kinds.index(
        "worker_stop")


@settings(max_examples=30)
@given(st.lists(st.floats(0.0, 30.0), min_size=1, max_size=60),
       st.integers(0, 2**32 - 1))
def test_every_query_is_accounted_for_exactly_once(arrivals: list[float], seed: int) -> None:
    reg = small_registry()
    rng = np.random.default_rng(seed)
    names = [v.name for v in reg]

    class Random:
        def select(self, query: Query, cluster: ClusterView) -> Route | Load | Drop:
            live = cluster.accepting_replicas(query.task)
            u = rng.random()
            if u < 0.1:
                return Drop(reason="random")
            if live and u < 0.7:
                return Route(replica=live[int(rng.integers(len(live)))].id,
                             fallback=bool(rng.random() < 0.1))
            name = names[int(rng.integers(len(names)))]
            return Load(variant=name)

        def autoscale(self, cluster: ClusterView) -> list[RemoveReplica | RemoveWorker]:
            out: list[RemoveReplica | RemoveWorker] = []
            for r in cluster.replicas(TASK):
                if r.accepting and rng.random() < 0.2:
                    out.append(RemoveReplica(replica=r.id))
            for w in cluster.workers():
                if w.accepting and rng.random() < 0.05:
                    out.append(RemoveWorker(worker=w.id))
            return out

    pol = Random()
    q = queries(arrivals, slo=float(rng.uniform(0.05, 1.0)))
    res = simulate_modelless(q, reg, selection=pol, autoscaler=pol)
    counts = res.counts()
    assert sum(counts.values()) == len(q)
    assert set(res.status.tolist()) <= {MET, LATE, BELOW_ACCURACY, FALLBACK, DROPPED}
    served = res.status != DROPPED
    assert np.all(np.isfinite(res.completion[served]))
    assert np.all(res.completion[served] >= q.arrival[served])
    assert np.all(res.variant_code[served] >= 0)
    assert np.all(np.isnan(res.completion[~served]))
    summary = res.summary()
    assert summary.met + summary.violations == len(q)


def test_policy_errors_are_named() -> None:
    reg = small_registry(cpu_startup=0.0)
    q = queries([0.0, 1.0])

    class BadRoute:
        def select(self, query: Query, cluster: ClusterView) -> Route:
            return Route(replica=42)

    with pytest.raises(SimulationError, match="replica 42"):
        simulate_modelless(q, reg, selection=BadRoute())
    with pytest.raises(SimulationError, match="runs on 'gpu', not on worker 0"):
        simulate_modelless(q, reg, selection=_TwoLoads("small-cpu", "small-gpu"))
    with pytest.raises(SimulationError, match="already holds a replica"):
        simulate_modelless(q, reg, selection=_TwoLoads("small-cpu", "small-cpu"))

    class NotADecision:
        def select(self, query: Query, cluster: ClusterView) -> object:
            return "somewhere"

    with pytest.raises(SimulationError, match="not a Route"):
        simulate_modelless(q, reg, selection=NotADecision())  # type: ignore[arg-type]
    other = queries([0.0]).workload.with_slo(0.1)
    from alpaserve.modelless.queries import ModellessQueries
    from workloads.workload import Workload
    unknown = ModellessQueries(workload=Workload.from_arrays(arrival=[0.0], model="speech",
                                                             slo=0.1),
                               min_accuracy=np.zeros(1))
    assert len(other) == 1
    with pytest.raises(SimulationError, match=r"tasks \['speech'\]"):
        simulate_modelless(unknown, reg, selection=LoadOnce("small-cpu"))


def test_max_workers_and_config_errors() -> None:
    reg = small_registry()

    class Greedy:
        def select(self, query: Query, cluster: ClusterView) -> Load:
            return Load(variant="small-cpu")

    with pytest.raises(SimulationError, match="max_workers=2"):
        simulate_modelless(queries([0.0, 0.1, 0.2]), reg, selection=Greedy(),
                           config=ModellessSimConfig(max_workers=2))


class _TwoLoads:
    """Load ``first`` on a new worker, then ``second`` on worker 0."""

    def __init__(self, first: str, second: str) -> None:
        self.names = [first, second]

    def select(self, query: Query, cluster: ClusterView) -> Load:
        if query.index == 0:
            return Load(variant=self.names[0])
        return Load(variant=self.names[1], worker=0)


def test_batch_size_keeps_the_oldest_query_within_its_slo() -> None:
    reg = small_registry(cpu_startup=0.0)
    # small-cpu: 0.010 × b + 0.002 s. Five queries at 0 with a 1.03 s SLO; the load takes
    # 1 s, leaving 0.03 s: a batch of 2 (0.022 s) fits, 3 (0.032 s) would not
    res = simulate_modelless(queries([0.0] * 5, slo=1.03), reg, selection=LoadOnce("small-cpu"))
    assert res.completion.tolist()[:2] == pytest.approx([1.022, 1.022])
    assert res.status.tolist()[:2] == [MET, MET]
    # once the oldest query is late anyway, the batch is as large as allowed (max 4)
    res = simulate_modelless(queries([0.0] * 5, slo=0.5), reg, selection=LoadOnce("small-cpu"))
    assert res.completion.tolist()[:4] == pytest.approx([1.042] * 4)


def test_colocation_slows_batches_while_another_model_waits() -> None:
    reg = small_registry(cpu_startup=0.0)

    class Two:
        def select(self, query: Query, cluster: ClusterView) -> Route | Load:
            want = "small-cpu" if query.index % 2 == 0 else "big-cpu"
            for r in cluster.accepting_replicas(query.task):
                if r.variant.name == want:
                    return Route(replica=r.id)
            return Load(variant=want, worker=None if query.index == 0 else 0)

    q = queries([0.0, 0.0, 2.0, 2.0, 2.0, 2.0], slo=5.0)
    plain = simulate_modelless(q, reg, selection=Two())
    shared = simulate_modelless(q, reg, selection=Two(),
                                config=ModellessSimConfig(colocation_slowdown=3.0))
    # both loads end at 1 s with a query each: small-cpu's batch runs 3x slower while
    # big-cpu's query waits, and big-cpu's then runs alone at full speed
    assert shared.completion[0] - 1.0 == pytest.approx(3 * (plain.completion[0] - 1.0))
    assert shared.completion[1] - shared.completion[0] == pytest.approx(
        plain.completion[1] - plain.completion[0])
    # query 2 starts alone at 2 s: not slowed
    assert shared.completion[2] == pytest.approx(plain.completion[2])
    with pytest.raises(SimulationError, match="colocation_slowdown must be >= 1"):
        ModellessSimConfig(colocation_slowdown=0.5)
