"""The changing-cluster simulator: request accounting, stateful recovery, policy seam."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.cost.llm import LLMConfig, request_latency
from alpaserve.errors import SimulationError
from alpaserve.model_presets import model_preset
from alpaserve.spot.deployment import pack_devices
from alpaserve.spot.hardware import g4dn_hardware
from simulator.spot import simulate as spot
from simulator.spot.policy import PolicyContext, Reconfiguration
from simulator.spot.simulate import SpotOptions, simulate_spot
from workloads.availability import AvailabilityTrace, NodeType
from workloads.llm_requests import gamma_arrivals, llm_workload
from workloads.synthetic_availability import static_availability, synthetic_availability
from workloads.workload import Workload

MODEL, HW = model_preset("gpt-1.3b"), g4dn_hardware()
ONE_GPU = NodeType(name="one", gpus_per_node=1, gpu="t4", price_spot=1.0, price_on_demand=2.0)
SHAPE = LLMConfig(data=1, pipeline=1, tensor=1, batch=4)


@dataclass
class FixedShape:
    """Test policy: as many ``SHAPE`` replicas as fit; batches carried by index."""

    stateful: bool = True
    name: str = "fixed"
    load: float = 2.0
    margin: float = 1.0
    calls: list[PolicyContext] = field(default_factory=list)

    def decide(self, ctx: PolicyContext) -> Reconfiguration | None:
        self.calls.append(ctx)
        n = len(ctx.usable) // SHAPE.replica_devices
        cur = ctx.current
        old = cur.config.data if cur is not None else 0
        if old == n and ctx.deadline is None:
            return None
        stop = max(ctx.now, ctx.deadline - self.margin) if ctx.deadline else ctx.now
        carry = tuple(i if i < n and self.stateful else None for i in range(old))
        if n == 0:
            return Reconfiguration(deployment=None, stop_at=stop, carry=carry,
                                   keep_progress=self.stateful)
        dep = pack_devices(SHAPE.with_data(n), ctx.usable)
        return Reconfiguration(deployment=dep, stop_at=stop, ready_at=(stop + self.load,) * n,
                               carry=carry, keep_progress=self.stateful, moved_bytes=1.0,
                               transfer_time=self.load)


def workload(seed: int, rate: float = 2.0, end: float = 600.0) -> Workload:
    rng = np.random.default_rng(seed)
    arr = gamma_arrivals(rate=rate, cv=2.0, start=5.0, end=end, seed=rng)
    return llm_workload(arrivals=arr, seed=rng, model=MODEL.name,
                        token_pairs=[(64, 32), (200, 8), (16, 100)])


def fleet(seed: int, end: float = 600.0) -> AvailabilityTrace:
    return synthetic_availability(duration=end, num_spot=3, num_on_demand=0,
                                  mean_lifetime=150.0, mean_replacement=20.0,
                                  seed=np.random.default_rng(seed), node_type=ONE_GPU)


def test_single_request_latency_is_the_cost_model() -> None:
    w = Workload.from_arrays(arrival=[100.0], model=MODEL.name, prompt_tokens=[128],
                             output_tokens=[16])
    r = simulate_spot(workload=w, trace=static_availability(num_nodes=1, node_type=ONE_GPU),
                      policy=FixedShape(), model=MODEL, hardware=HW,
                      options=SpotOptions(slo=10.0))
    expect = request_latency(MODEL, HW, SHAPE, prompt_tokens=128, output_tokens=16, batch=1)
    assert r.finished == 1
    assert r.latency_p50 == pytest.approx(expect)
    assert r.attainment == 1.0
    assert r.tokens_served == 16
    assert r.prompt_tokens_served == 128
    assert r.cost_on_demand == pytest.approx(2.0 * r.end_time / 3600)


@settings(max_examples=12)
@given(st.integers(0, 2**16), st.booleans(), st.sampled_from([0.0, 5.0, 30.0]))
def test_every_request_is_accounted_for(seed: int, stateful: bool, grace: float) -> None:
    w = workload(seed, rate=1.5, end=300.0)
    opts = SpotOptions(grace_period=grace, max_queue_time=60.0, end_time=310.0)
    r = simulate_spot(workload=w, trace=fleet(seed, end=300.0),
                      policy=FixedShape(stateful=stateful), model=MODEL, hardware=HW,
                      options=opts)
    assert r.finished + r.dropped + r.in_flight == r.num_requests == len(w)
    assert int(np.isfinite(r.finish).sum()) == r.finished
    assert np.all(r.finish[np.isfinite(r.finish)] <= 310.0)
    assert np.all(r.latency[np.isfinite(r.latency)] > 0)
    if stateful:
        assert r.restarts == 0
        assert r.lost_tokens == 0


def test_recovery_never_loses_a_committed_token(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    original = spot._Engine.cut

    def spy(self: spot._Engine, *args: object, **kwargs: object) -> None:
        before = self.committed.copy()
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        seen.append((before, self.committed.copy()))

    monkeypatch.setattr(spot._Engine, "cut", spy)
    w = workload(7, rate=3.0)
    r = simulate_spot(workload=w, trace=fleet(7), policy=FixedShape(stateful=True),
                      model=MODEL, hardware=HW, options=SpotOptions(grace_period=10.0))
    assert seen, "the fleet changed, so batches must have been cut"
    assert all(np.all(after >= before) for before, after in seen)
    assert any(np.any(after > before) for before, after in seen)  # progress was committed
    assert r.restarts == 0
    assert r.lost_tokens == 0
    assert r.finished == len(w)


def test_without_state_preemptions_restart_requests() -> None:
    w = workload(7, rate=3.0)
    stateless = simulate_spot(workload=w, trace=fleet(7), policy=FixedShape(stateful=False),
                              model=MODEL, hardware=HW, options=SpotOptions(grace_period=0.0))
    assert stateless.requests_restarted > 0
    assert stateless.lost_tokens > 0
    assert stateless.recomputed_tokens > 0
    assert stateless.finished == len(w)


def test_policy_sees_notices_and_rate_shifts() -> None:
    trace = AvailabilityTrace.from_events([(0.0, "add", "a"), (0.0, "add", "b"),
                                           (400.0, "remove", "b")], node_type=ONE_GPU)
    arr = np.concatenate([np.arange(10.0, 200.0, 2.0), np.arange(200.0, 500.0, 0.25)])
    w = llm_workload(arrivals=arr, seed=np.random.default_rng(0), model=MODEL.name,
                     token_pairs=[(32, 4)])
    pol = FixedShape()
    simulate_spot(workload=w, trace=trace, policy=pol, model=MODEL, hardware=HW,
                  options=SpotOptions(grace_period=30.0, rate_window=60.0,
                                      rate_check_interval=20.0))
    reasons = [c.reasons for c in pol.calls]
    assert any("rate" in r for r in reasons)
    notice = next(c for c in pol.calls if "notice" in c.reasons)
    assert notice.now == 370.0
    assert notice.deadline == 400.0
    assert ("b", 0) not in notice.usable
    assert notice.leaving[("b", 0)] == 400.0
    assert notice.arrival_rate > 1.0


def test_bad_policies_and_inputs_are_rejected() -> None:
    class Greedy(FixedShape):
        def decide(self, ctx: PolicyContext) -> Reconfiguration | None:
            devs = (*ctx.usable, *ctx.leaving)
            if ctx.current is None or not ctx.leaving:
                return super().decide(ctx)
            dep = pack_devices(SHAPE.with_data(len(devs)), devs)
            return Reconfiguration(deployment=dep, stop_at=ctx.now,
                                   ready_at=(ctx.now,) * len(devs))

    trace = AvailabilityTrace.from_events([(0.0, "add", "a"), (50.0, "remove", "a")],
                                          node_type=ONE_GPU)
    w = llm_workload(arrivals=[1.0], seed=np.random.default_rng(0), model=MODEL.name,
                     token_pairs=[(8, 2)])
    with pytest.raises(SimulationError, match="not usable"):
        simulate_spot(workload=w, trace=trace, policy=Greedy(), model=MODEL, hardware=HW)
    bare = Workload.from_arrays(arrival=[1.0], model="m")
    with pytest.raises(SimulationError, match="prompt_tokens"):
        simulate_spot(workload=bare, trace=trace, policy=FixedShape(), model=MODEL,
                      hardware=HW)
    with pytest.raises(SimulationError, match="comes after the end of the run"):
        simulate_spot(workload=w, trace=trace, policy=FixedShape(), model=MODEL, hardware=HW,
                      options=SpotOptions(end_time=0.5))


# ------------------------------------------------------- accounting and targets (issue 19)
def test_percentiles_count_unfinished_requests_to_the_window_end() -> None:
    # One GPU, batches of 4: 200 requests at once cannot all finish in 30 s.
    w = Workload.from_arrays(arrival=np.full(200, 1.0), model=MODEL.name,
                             prompt_tokens=np.full(200, 256), output_tokens=np.full(200, 128))
    trace = AvailabilityTrace.from_events([(0.0, "add", "a")], node_type=ONE_GPU,
                                          stop_time=30.0)
    r = simulate_spot(workload=w, trace=trace, policy=FixedShape(load=0.5), model=MODEL,
                      hardware=HW)
    assert r.end_time == 30.0
    assert 0 < r.finished < 100
    assert r.unfinished == r.in_flight + r.dropped == 200 - r.finished
    lat = np.where(np.isfinite(r.finish), r.finish - r.arrival, 30.0 - r.arrival)
    assert r.latency_p99 == pytest.approx(float(np.percentile(lat, 99)))
    assert r.latency_p99 == pytest.approx(29.0, abs=0.3)  # the unfinished: 29 s and counting
    done = r.finish[np.isfinite(r.finish)] - 1.0
    assert r.finished_latency_p99 == pytest.approx(float(np.percentile(done, 99)))
    assert r.finished_latency_p99 < r.latency_p99


def test_billing_window_is_acquisition_to_release_or_done() -> None:
    w = Workload.from_arrays(arrival=[10.0], model=MODEL.name, prompt_tokens=[16],
                             output_tokens=[4])
    trace = AvailabilityTrace.from_events(
        [(0.0, "add", "a"), (0.0, "add", "b"), (600.0, "remove", "b"), (900.0, "add", "c")],
        node_type=ONE_GPU, stop_time=1800.0)
    r = simulate_spot(workload=w, trace=trace, policy=FixedShape(), model=MODEL, hardware=HW,
                      options=SpotOptions(drain=5000.0))
    # a: 0-1800, b: 0-600, c: 900-1800 (released at DONE, not billed during the drain).
    assert r.end_time == 1800.0
    assert r.cost_spot == pytest.approx((1800 + 600 + 900) / 3600 * ONE_GPU.price_spot)
    # Without DONE the window runs to the last event plus the drain, for every node alive.
    open_trace = AvailabilityTrace.from_events([(0.0, "add", "a")], node_type=ONE_GPU)
    r2 = simulate_spot(workload=w, trace=open_trace, policy=FixedShape(), model=MODEL,
                       hardware=HW, options=SpotOptions(drain=100.0))
    assert r2.end_time == 110.0
    assert r2.cost_spot == pytest.approx(110.0 / 3600 * ONE_GPU.price_spot)


def test_throughput_target_comes_from_the_trace_the_option_or_the_rate() -> None:
    arrivals = np.arange(1.0, 1200.0, 2.0)                        # 0.5 req/s
    w = Workload.from_arrays(arrival=arrivals, model=MODEL.name,
                             prompt_tokens=np.full(arrivals.size, 16),
                             output_tokens=np.full(arrivals.size, 2))
    trace = AvailabilityTrace.from_events([(0.0, "add", "a")], node_type=ONE_GPU,
                                          targets=[(300.0, 0.8), (600.0, 1.6)],
                                          stop_time=1200.0)
    pol = FixedShape()
    simulate_spot(workload=w, trace=trace, policy=pol, model=MODEL, hardware=HW)
    by_reason = {c.reasons: c for c in pol.calls}
    assert [round(c.throughput_target or 0, 2) for c in pol.calls if "target" in c.reasons] \
        == [0.8, 1.6]
    first = pol.calls[0]                            # before any target: rate × 1.1 headroom
    assert first.throughput_target == pytest.approx(0.5 * 1.1, rel=0.02)
    assert first.target == first.throughput_target
    assert by_reason
    fixed = FixedShape()
    simulate_spot(workload=w, trace=trace, policy=fixed, model=MODEL, hardware=HW,
                  options=SpotOptions(required_tpt=3.0))
    assert all(c.throughput_target == pytest.approx(3.0, abs=0.05) for c in fixed.calls)
    assert not any("target" in c.reasons for c in fixed.calls)   # the flag overrides


def test_a_growing_queue_triggers_a_replan_with_its_backlog() -> None:
    # 4 req/s of long requests on one GPU: the queue grows without any rate change.
    arrivals = np.arange(1.0, 400.0, 0.25)
    w = Workload.from_arrays(arrival=arrivals, model=MODEL.name,
                             prompt_tokens=np.full(arrivals.size, 256),
                             output_tokens=np.full(arrivals.size, 64))
    trace = AvailabilityTrace.from_events([(0.0, "add", "a")], node_type=ONE_GPU,
                                          stop_time=400.0)
    pol = FixedShape()
    simulate_spot(workload=w, trace=trace, policy=pol, model=MODEL, hardware=HW,
                  options=SpotOptions(rate_change=0.5, initial_rate=4.0))
    queued = [c for c in pol.calls if "queue" in c.reasons]
    assert queued, "no re-plan on queue growth"
    assert queued[-1].queued > 8
    assert queued[-1].throughput_target == pytest.approx(
        4.0 * 1.1 + queued[-1].queued / 300.0, rel=0.05)


def test_done_is_not_a_preemption_and_warm_start_serves_at_once() -> None:
    w = Workload.from_arrays(arrival=[0.0, 590.0], model=MODEL.name, prompt_tokens=[16, 16],
                             output_tokens=[4, 4])
    trace = AvailabilityTrace.from_events([(0.0, "add", "a")], node_type=ONE_GPU,
                                          stop_time=600.0)
    pol = FixedShape(load=20.0)
    cold = simulate_spot(workload=w, trace=trace, policy=pol, model=MODEL, hardware=HW)
    assert not any("notice" in c.reasons for c in pol.calls)  # no notice 30 s before DONE
    assert cold.finished == 2                                  # the 590 s request is served
    assert cold.finish[0] > 20.0                               # waited for the first load
    warm = simulate_spot(workload=w, trace=trace, policy=FixedShape(load=20.0), model=MODEL,
                         hardware=HW, options=SpotOptions(warm_start=True))
    assert warm.finish[0] < 5.0
