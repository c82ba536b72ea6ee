"""MeasuredCosts: Vidur's measured costs where profiled, analytic elsewhere, in the plan."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alpaserve.device_spec import device_preset
from alpaserve.errors import ProfileError, SpecError
from alpaserve.llm.spec import llm_preset
from alpaserve.strict_json import strict
from placement.llm import (
    AnalyticCosts,
    LLMPlan,
    LLMPlanProblem,
    MeasuredCosts,
    costs_from_dict,
    plan_llm,
)
from placement.llm import measured_costs as mc
from tests._fixtures_llm_plan import write_vidur_profiles
from workloads.llm_requests import gamma_arrivals, llm_workload
from workloads.workload import Workload

A100 = device_preset("a100-80gb")
SPECS = {"small": llm_preset("llm-small"), "tiny": llm_preset("llm-tiny")}


def _costs(root: Path) -> MeasuredCosts:
    path = write_vidur_profiles(root)
    return MeasuredCosts(SPECS, A100, operators={"llm-small": path},
                         allreduce=root / "network" / "a100_dgx" / "all_reduce.csv",
                         max_batched_tokens=512, max_num_seqs=64)


def test_measured_where_profiled_and_analytic_elsewhere(tmp_path: Path) -> None:
    costs = _costs(tmp_path)
    assert costs.measured("small", 1)
    assert costs.measured("small", 2)
    assert not costs.measured("small", 4)  # tensor degree not profiled
    assert not costs.measured("tiny", 1)  # no profile for the preset
    assert costs.iteration_cost("small", 2, 1).source.startswith("measured:")
    assert costs.iteration_cost("small", 4, 1).source == "analytic:a100-80gb"
    assert costs.iteration_cost("tiny", 1, 1).source == "analytic:a100-80gb"
    assert costs.iteration_cost("small", 1, 2).pipeline_stages == 2
    # Memory is the analytic sizing whatever the cost source.
    analytic = AnalyticCosts(SPECS, A100, max_batched_tokens=512, max_num_seqs=64)
    assert costs.weight_bytes("small", 2, 1) == analytic.weight_bytes("small", 2, 1)
    assert costs.activation_bytes("small", 2, 1) == analytic.activation_bytes("small", 2, 1)
    no_net = MeasuredCosts(SPECS, A100, operators=costs.operators)
    assert no_net.measured("small", 1)
    assert not no_net.measured("small", 2)


def test_description_round_trips_to_the_same_costs(tmp_path: Path) -> None:
    costs = _costs(tmp_path)
    data = json.loads(json.dumps(strict(costs.to_dict())))
    assert data["kind"] == "measured"
    again = costs_from_dict(data)
    assert isinstance(again, MeasuredCosts)
    for tp in (1, 2, 4):
        a, b = costs.iteration_cost("small", tp, 1), again.iteration_cost("small", tp, 1)
        assert np.array_equal(a.linear_s, b.linear_s)
        assert a.source == b.source


def test_from_vidur_finds_the_profiles_that_exist(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    write_vidur_profiles(tmp_path)
    monkeypatch.setitem(mc.VIDUR_MODELS, "llm-small", "test/llm-small")
    costs = MeasuredCosts.from_vidur(tmp_path, SPECS, A100, max_batched_tokens=512)
    assert list(costs.operators) == ["llm-small"]
    assert costs.allreduce is not None
    assert costs.measured("small", 2)
    none = MeasuredCosts.from_vidur(tmp_path, SPECS, device_preset("v100-32gb"))
    assert none.operators == {}  # no V100 profiles
    assert none.allreduce is None


def test_the_plan_records_which_source_each_group_used(tmp_path: Path) -> None:
    costs = _costs(tmp_path)
    problem = LLMPlanProblem(models=["small", "tiny"], num_devices=2, gpus_per_node=2,
                             device=A100, ttft_slo=1.0, tpot_slo=0.1, costs=costs,
                             min_kv_tokens=256)
    parts = []
    for i, name in enumerate(("small", "tiny")):
        arrivals = gamma_arrivals(rate=20.0, cv=1.0, start=0.0, end=3.0, seed=i)
        parts.append(llm_workload(arrivals=arrivals, seed=10 + i, model=name,
                                  token_pairs=[(64, 8), (128, 4)]))
    plan = plan_llm(problem, Workload.merge(parts), max_simulations=12)
    sources = " ".join(g.cost_source for g in plan.groups)
    assert "analytic:a100-80gb" in sources  # tiny
    assert "measured:" in sources  # small
    again = LLMPlan.from_dict(json.loads(json.dumps(strict(plan.to_dict()))))
    def served(p: LLMPlan) -> list[tuple[object, ...]]:
        return [(m.model, m.kv_blocks, m.route_weight, strict(m.cost.to_dict()))
                for g in p.deployment.groups for m in g.models]

    assert served(again) == served(plan)


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="operators must map preset names to paths"):
        MeasuredCosts(SPECS, A100, operators={"llm-small": 3})  # type: ignore[dict-item]
    wrong = write_vidur_profiles(tmp_path)
    costs = MeasuredCosts({"m": llm_preset("llama-2-7b")}, A100, operators={"llama-2-7b": wrong})
    with pytest.raises(ProfileError, match="but 'llama-2-7b' has"):
        costs.iteration_cost("m", 1, 1)
    with pytest.raises(SpecError, match="malformed measured costs"):
        costs_from_dict({**costs.to_dict(), "operators": None})
