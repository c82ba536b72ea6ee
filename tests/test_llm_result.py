"""LLMSimResult and its metrics: latencies, attainment, goodput, JSON and DataFrames."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alpaserve.errors import SpecError
from simulator.llm.engine import run_compiled
from simulator.llm.prepared import prepare_llm
from simulator.llm.result import LLMSimResult
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
