"""SpotServe and baseline policies, driven directly and through the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from alpaserve.cost.llm import LLMConfig
from alpaserve.model_presets import model_preset
from alpaserve.spot.config import ConfigSpace, ConfigTable, RequestShape
from alpaserve.spot.deployment import devices_of_nodes, pack_devices
from alpaserve.spot.hardware import g4dn_hardware
from placement.spot.policies import (
    ReparallelizePolicy,
    ReroutePolicy,
    SpotServePolicy,
    on_demand_fleet,
)
from simulator.spot.policy import PolicyContext
from simulator.spot.simulate import SpotOptions, simulate_spot
from workloads.llm_requests import gamma_arrivals, llm_workload
from workloads.synthetic_availability import synthetic_availability

MODEL, HW = model_preset("gpt-6.7b"), g4dn_hardware()
TABLE = ConfigTable.build(model=MODEL, hardware=HW,
                          request=RequestShape(prompt_tokens=256, output_tokens=32,
                                               max_context=512),
                          space=ConfigSpace(tensor=(1, 2, 4), pipeline=(1, 2),
                                            batch=(1, 4), micro_batches=(1,)))
NODES = devices_of_nodes([("a", 4), ("b", 4), ("c", 4)])
SHAPE = LLMConfig(data=1, pipeline=1, tensor=2, batch=4)


def ctx(**kw: object) -> PolicyContext:
    base: dict[str, object] = {"now": 100.0, "reasons": frozenset({"notice"}),
                               "usable": tuple(NODES), "arrival_rate": 1.0}
    base.update(kw)
    return PolicyContext(**base)  # type: ignore[arg-type]


def test_spotserve_uses_the_grace_period() -> None:
    cur = pack_devices(LLMConfig(data=6, pipeline=1, tensor=2, batch=4), NODES)
    leaving = {d: 130.0 for d in NODES if d[0] == "c"}
    usable = tuple(d for d in NODES if d[0] != "c")
    d = SpotServePolicy(table=TABLE).decide(ctx(usable=usable, leaving=leaving, current=cur,
                                                kv_tokens=(300,) * 6))
    assert d is not None
    assert d.deployment is not None
    assert set(d.deployment.devices) <= set(usable)
    assert d.keep_progress
    assert 100.0 <= d.stop_at < 130.0
    assert all(t == 130.0 for t in d.ready_at)  # serving resumes at the deadline
    assert any(j is not None for j in d.carry)  # in-flight batches carried with their KV
    if d.deployment.config.with_data(1) == cur.config.with_data(1):
        assert len(d.kept) == 4  # replicas on a and b keep serving


def test_spotserve_keeps_an_unchanged_deployment() -> None:
    first = SpotServePolicy(table=TABLE).decide(ctx(reasons=frozenset({"add"})))
    assert first is not None
    assert first.deployment is not None
    again = SpotServePolicy(table=TABLE).decide(ctx(current=first.deployment,
                                                    kv_tokens=(0,) * first.deployment.config.data,
                                                    reasons=frozenset({"rate"})))
    assert again is None


def test_reparallelize_stops_at_the_removal_and_reloads() -> None:
    cur = pack_devices(LLMConfig(data=6, pipeline=1, tensor=2, batch=4), NODES)
    leaving = {d: 130.0 for d in NODES if d[0] == "c"}
    usable = tuple(d for d in NODES if d[0] != "c")
    d = ReparallelizePolicy(table=TABLE).decide(ctx(usable=usable, leaving=leaving,
                                                    current=cur, kv_tokens=(9,) * 6))
    assert d is not None
    assert d.stop_at == 130.0
    assert not d.keep_progress
    assert d.kept == ()
    assert all(c is None for c in d.carry)
    assert min(d.ready_at) > 130.0 + 1.0  # weights come back from storage


def test_reroute_only_touches_broken_replicas() -> None:
    cur = pack_devices(SHAPE.with_data(6), NODES)
    leaving = {("c", 0): 130.0}
    usable = tuple(d for d in NODES if d != ("c", 0))
    d = ReroutePolicy(table=TABLE, shape=SHAPE).decide(ctx(usable=usable, leaving=leaving,
                                                           current=cur, kv_tokens=(5,) * 6))
    assert d is not None
    assert d.deployment is not None
    assert d.deployment.config == SHAPE.with_data(5)
    broken = cur.replicas_using([("c", 0)])
    assert len(d.kept) == 5
    assert all(i not in broken for i, _ in d.kept)
    assert d.stop_at == 130.0
    assert all(c is None for c in d.carry)
    assert ReroutePolicy(table=TABLE, shape=SHAPE).decide(
        ctx(current=cur, kv_tokens=(0,) * 6, reasons=frozenset({"rate"}))) is None


def test_end_to_end_direction() -> None:
    rng = np.random.default_rng(5)
    trace = synthetic_availability(duration=1500.0, num_spot=4, mean_lifetime=500.0,
                                   mean_replacement=60.0, seed=rng)
    arr = gamma_arrivals(rate=2.0, cv=1.5, start=120.0, end=1500.0, seed=rng)
    w = llm_workload(arrivals=arr, seed=rng, model=MODEL.name, token_pairs=[(256, 32)])
    opts = SpotOptions(slo=10.0, end_time=1800.0)
    spot = simulate_spot(workload=w, trace=trace, policy=SpotServePolicy(table=TABLE),
                         model=MODEL, hardware=HW, options=opts)
    repar = simulate_spot(workload=w, trace=trace, policy=ReparallelizePolicy(table=TABLE),
                          model=MODEL, hardware=HW, options=opts)
    assert spot.restarts == 0
    assert spot.lost_tokens == 0
    assert repar.requests_restarted > 0
    assert spot.latency_p99 < repar.latency_p99
    assert spot.migrations > 0
    assert spot.moved_bytes > 0
    od_trace = on_demand_fleet(trace, start=120.0, end=1500.0)
    od = simulate_spot(workload=w, trace=od_trace, policy=SpotServePolicy(table=TABLE),
                       model=MODEL, hardware=HW, options=opts)
    assert od.cost_spot == 0.0
    assert od.cost_on_demand > spot.cost
    assert spot.cost_on_demand == 0.0
    assert od.finished + od.in_flight + od.dropped == len(w)


@pytest.mark.parametrize("policy", [SpotServePolicy(table=TABLE),
                                    ReparallelizePolicy(table=TABLE),
                                    ReroutePolicy(table=TABLE, shape=SHAPE)])
def test_below_the_floor_everything_stops(policy: object) -> None:
    cur = pack_devices(SHAPE, NODES[:2])
    d = policy.decide(ctx(usable=(), leaving={NODES[0]: 120.0, NODES[1]: 120.0},  # type: ignore[attr-defined]
                          current=cur, kv_tokens=(3,)))
    assert d is not None
    assert d.deployment is None
    assert d.stop_at == 120.0
