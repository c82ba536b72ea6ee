"""Clipper+ and SM+ (placement.modelless.baselines)."""

from __future__ import annotations

from alpaserve.modelless.loads import concatenate_profiles, flat_load, make_queries
from placement.modelless.baselines import ClipperPlusPolicy, SageMakerPlusPolicy
from placement.modelless.config import Expectation, InfaasConfig
from placement.modelless.policy import InfaasPolicy
from simulator.modelless.simulate import ModellessSimConfig, simulate_modelless
from tests._fixtures_modelless import TASK, queries, small_registry

REG = small_registry(cpu_startup=5.0, gpu_startup=5.0, gpu_price=0.5)
CFG = InfaasConfig(scale_down_period=10.0, worker_idle_period=10.0, switch_down_period=10.0)


def step_queries():  # type: ignore[no-untyped-def]
    prof = concatenate_profiles([(100.0, flat_load(5.0)), (100.0, flat_load(400.0)),
                                 (100.0, flat_load(5.0))])
    return make_queries(prof, 300.0, seed=3, task=TASK, slo=0.2, accuracy_mix={70.0: 1.0})


def test_clipper_fixes_the_variant_declared_and_never_switches() -> None:
    exp = (Expectation(task=TASK, rate=5.0, slo=0.2, min_accuracy=70.0),)
    pol = ClipperPlusPolicy(REG, CFG, expected=exp)
    assert pol.variant_of(TASK) == "small-cpu"  # cheapest at the declared 5 QPS
    assert [v.name for v in pol.candidates(TASK)] == ["small-cpu"]
    res = simulate_modelless(step_queries(), REG, selection=pol, autoscaler=pol,
                             config=ModellessSimConfig(horizon=300.0))
    s = res.summary(0.0)
    assert s.served_by_variant.keys() == {"small-cpu"}
    assert s.variant_switches == 0
    assert s.worker_starts >= 3  # replicas were added for the step
    auto = InfaasPolicy(REG, CFG, expected=exp)
    res_auto = simulate_modelless(step_queries(), REG, selection=auto, autoscaler=auto,
                                  config=ModellessSimConfig(horizon=300.0))
    assert res_auto.summary(0.0).variant_switches >= 1  # INFaaS switches to the GPU


def test_clipper_without_declaration_fixes_at_first_query() -> None:
    pol = ClipperPlusPolicy(REG, CFG)
    assert pol.variant_of(TASK) is None
    res = simulate_modelless(queries([0.0, 20.0], min_accuracy=75.0), REG, selection=pol,
                             autoscaler=pol)
    assert pol.variant_of(TASK) == "big-cpu"
    assert res.counts()["met"] == 1  # the first query pays the worker start


def test_sm_plus_gives_every_replica_its_own_worker() -> None:
    pol = SageMakerPlusPolicy(REG, InfaasConfig(rate_window=5.0, lookahead=30.0))
    assert (pol.config.rate_window, pol.config.scale_down_period, pol.config.lookahead) == (
        60.0, 300.0, 0.0)
    res = simulate_modelless(step_queries(), REG, selection=pol, autoscaler=pol,
                             config=ModellessSimConfig(horizon=300.0))
    loads = [e for e in res.events if e.kind == "replica_load"]
    assert len(loads) >= 2
    per_worker: dict[int, int] = {}
    for e in loads:
        per_worker[e.worker] = per_worker.get(e.worker, 0) + 1
    assert max(per_worker.values()) == 1
