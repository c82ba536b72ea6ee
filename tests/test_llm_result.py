"""LLMSimResult and its metrics: latencies, attainment, goodput, JSON and DataFrames."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alpaserve.errors import SpecError
from simulator.llm.config import LLMDeployment
from simulator.llm.engine import run_compiled
from simulator.llm.prepared import prepare_llm
from simulator.llm.result import LLMSimResult
from simulator.llm.simulate import simulate_llm
from tests._fixtures_llm_engine import one_group, random_llm_workload
from workloads.workload import Workload


def result_of(w: Workload, **kw: object) -> LLMSimResult:
    dep = one_group(**kw)  # type: ignore[arg-type]
    p = prepare_llm(w, dep)
    return LLMSimResult.from_outcome(p, run_compiled(p, dep), dep)


def test_latencies_by_hand() -> None:
    w = Workload.from_arrays(arrival=[0.0, 0.5], model="m", prompt_tokens=[10, 10],
                             output_tokens=[5, 1])
    r = result_of(w)
    assert r.ttft[0] == r.first_token[0]
    assert r.tpot[0] == pytest.approx((r.finish[0] - r.first_token[0]) / 4)
    assert r.tpot[1] == 0.0
    assert r.e2e[1] == r.finish[1] - 0.5
    s = r.summary(ttft_slo=10.0, tpot_slo=10.0)
    assert s.overall.goodput == 1.0
    assert s.overall.finished == 2
    assert s.overall.goodput_rps == pytest.approx(2 / r.span_s)
    assert s.overall.tokens_per_s == pytest.approx(6 / r.span_s)


def test_attainment_counts_rejected_as_failing() -> None:
    w = Workload.from_arrays(arrival=[0.0, 0.1, 0.2], model="m",
                             prompt_tokens=[10, 10, 10_000], output_tokens=[3, 3, 3])
    r = result_of(w)
    s = r.summary(ttft_slo=100.0, tpot_slo=100.0)
    assert s.overall.rejected == 1
    assert s.overall.requests == 3
    assert s.overall.goodput == pytest.approx(2 / 3)
    assert s.overall.ttft_attainment == pytest.approx(2 / 3)
    tight = r.summary(ttft_slo=1e-6)
    assert tight.overall.ttft_attainment == 0.0
    assert tight.overall.goodput is None


def test_per_model_slos_and_utilisation(rng: np.random.Generator) -> None:
    w = random_llm_workload(rng, 60, models=("a", "b"), rate=30.0)
    r = result_of(w, models=("a", "b"), kv_blocks=64)
    s = r.summary(ttft_slo={"a": 10.0, "b": 1e-6}, tpot_slo=1.0)
    assert s.models["b"].ttft_attainment == 0.0
    assert s.models["a"].ttft_attainment == 1.0
    assert s.models["a"].requests + s.models["b"].requests == 60
    assert 0.0 < s.kv_utilization["g0"] <= 1.0
    assert 0.0 < s.busy_fraction["g0"] <= 1.0 + 1e-9
    p = s.models["a"]
    assert p.ttft_p50 <= p.ttft_p90 <= p.ttft_p99  # type: ignore[operator]
    with pytest.raises(SpecError, match="no value for models"):
        r.summary(ttft_slo={"a": 1.0})
    with pytest.raises(SpecError, match="not simulated"):
        r.summary(ttft_slo={"a": 1.0, "b": 1.0, "z": 1.0})
    with pytest.raises(SpecError, match="positive number"):
        r.summary(tpot_slo=-1.0)


def test_json_is_strict_and_frames(rng: np.random.Generator) -> None:
    w = Workload.from_arrays(arrival=[0.0, 0.1], model="m", prompt_tokens=[10, 10_000],
                             output_tokens=[3, 3])
    r = result_of(w)
    d = r.to_dict(ttft_slo=1.0, tpot_slo=1.0, per_request=True)
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text)["per_request"]["finish"][1] is None
    assert d["summary"]["overall"]["rejected"] == 1
    frame = r.to_frame()
    assert list(frame["status"]) == ["FINISHED", "REJECTED"]
    assert list(frame["model"]) == ["m", "m"]
    table = r.summary(ttft_slo=1.0, tpot_slo=1.0).to_frame()
    assert list(table.index) == ["m", "(all)"]


def test_empty_model_has_no_percentiles() -> None:
    w = Workload.from_arrays(arrival=[0.0], model="a", prompt_tokens=[5], output_tokens=[2],
                             model_names=("a",))
    r = result_of(w, models=("a", "b"))
    s = r.summary()
    assert s.models["b"].requests == 0
    assert s.models["b"].ttft_p50 is None
    assert s.models["b"].to_dict()["goodput"] is None


def _three_groups() -> LLMDeployment:
    """``a`` alone on g0, ``b`` alone on g1, ``a`` and ``c`` sharing g2."""
    from simulator.llm.config import EngineGroup, SchedulerConfig, ServedModel
    from tests._fixtures_llm_engine import llm_cost

    sched = SchedulerConfig(max_num_seqs=8, max_batched_tokens=256)

    def served(*names: str, blocks: int) -> tuple[ServedModel, ...]:
        return tuple(ServedModel(model=m, cost=llm_cost(), kv_blocks=blocks) for m in names)

    return LLMDeployment(groups=(
        EngineGroup(name="g0", num_devices=1, models=served("a", blocks=64), scheduler=sched),
        EngineGroup(name="g1", num_devices=1, models=served("b", blocks=32), scheduler=sched),
        EngineGroup(name="g2", num_devices=1, models=served("a", "c", blocks=48),
                    scheduler=sched)))


def test_kv_utilisation_per_model_and_overall_weighs_groups_by_blocks(
        rng: np.random.Generator) -> None:
    dep = _three_groups()
    w = random_llm_workload(rng, 120, models=("a", "b", "c"), rate=40.0)
    r = simulate_llm(dep, w)
    assert r.group_models == ((0,), (1,), (0, 2))
    s = r.summary(ttft_slo=1.0, tpot_slo=0.5)
    span = r.span_s
    by_hand = {g: r.kv_block_seconds[k] / (r.kv_capacity[k] * span)
               for k, g in enumerate(r.group_names)}
    assert s.kv_utilization == pytest.approx(by_hand)
    # the overall figure is all block-time in use over all block-time, not a mean of groups
    assert s.overall.kv_utilization == pytest.approx(
        r.kv_block_seconds.sum() / (r.kv_capacity.sum() * span))
    # a model's own figure is over the groups it has to itself; c only shares g2
    assert s.models["a"].kv_utilization == pytest.approx(by_hand["g0"])
    assert s.models["b"].kv_utilization == pytest.approx(by_hand["g1"])
    assert s.models["c"].kv_utilization is None
    assert s.overall.good == round(s.overall.goodput * 120)  # type: ignore[operator]
    assert sum(m.good for m in s.models.values()) == s.overall.good  # type: ignore[misc]


def test_rates_over_a_zero_span_are_undefined() -> None:
    # one rejected request: the span is 0, so no rate is defined (not a division by ~0)
    w = Workload.from_arrays(arrival=[0.0], model="m", prompt_tokens=[10_000],
                             output_tokens=[3])
    s = result_of(w).summary(ttft_slo=1.0, tpot_slo=1.0)
    assert s.span_s == 0.0
    assert s.overall.goodput == 0.0
    assert s.overall.good == 0
    assert s.overall.goodput_rps is None
    assert s.overall.tokens_per_s is None
    assert s.overall.kv_utilization is None
    assert s.busy_fraction == {"g0": None}
    assert json.loads(json.dumps(s.to_dict(), allow_nan=False))["overall"]["tokens_per_s"] is None


def test_latencies_per_model_are_the_finished_requests(rng: np.random.Generator) -> None:
    w = random_llm_workload(rng, 40, models=("a", "b"), rate=30.0, max_prompt=300)
    r = result_of(w, models=("a", "b"), kv_blocks=20)  # small KV: some are rejected
    assert (~r.finished).any()
    ttft = r.latencies("ttft")
    assert list(ttft) == ["a", "b"]
    assert sum(v.size for v in ttft.values()) == int(r.finished.sum())
    assert all(np.isfinite(v).all() for v in r.latencies("tpot").values())
    with pytest.raises(SpecError, match="kind must be"):
        r.latencies("queue")
