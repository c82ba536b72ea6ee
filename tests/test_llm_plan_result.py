"""LLMPlan: explain(), strict JSON and an exact from_dict round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alpaserve.errors import SpecError
from alpaserve.strict_json import dumps_strict
from placement.llm import LLMPlan, costs_from_dict, plan_llm
from simulator.llm.config import LLMDeployment
from tests._fixtures_llm_plan import toy_problem, toy_workload


def _same(a: LLMDeployment, b: LLMDeployment) -> bool:
    if len(a.groups) != len(b.groups):
        return False
    for ga, gb in zip(a.groups, b.groups, strict=True):
        if (ga.name, ga.num_devices, ga.scheduler, ga.kv_sharing, ga.swap) != (
                gb.name, gb.num_devices, gb.scheduler, gb.kv_sharing, gb.swap):
            return False
        for ma, mb in zip(ga.models, gb.models, strict=True):
            if (ma.model, ma.kv_blocks, ma.route_weight, ma.load_s) != (
                    mb.model, mb.kv_blocks, mb.route_weight, mb.load_s):
                return False
            if ma.cost.to_dict() != mb.cost.to_dict() or not np.array_equal(
                    ma.cost.linear_s, mb.cost.linear_s):
                return False
    return True


@pytest.fixture(scope="module")
def plan() -> LLMPlan:
    return plan_llm(toy_problem(), toy_workload(duration=10.0), max_simulations=4)


def test_round_trip_through_strict_json_is_exact(plan: LLMPlan) -> None:
    text = dumps_strict(plan.to_dict())
    back = LLMPlan.from_dict(json.loads(text))
    assert _same(plan.deployment, back.deployment)
    assert back.to_dict() == json.loads(text)
    assert back.train_goodput == plan.train_goodput
    assert back.ttft_slo == {"a": 0.5, "b": 0.5, "c": 0.5}


def test_from_dict_takes_a_cost_model(plan: LLMPlan) -> None:
    costs = costs_from_dict(plan.to_dict()["costs"])
    back = LLMPlan.from_dict(plan.to_dict(), costs=costs)
    assert _same(plan.deployment, back.deployment)


def test_analytic_costs_are_described_not_stored() -> None:
    from alpaserve.device_spec import device_preset
    from placement.llm import LLMPlanProblem
    from placement.llm.baselines import dedicated_layout
    from placement.llm.demand import ModelDemand
    from placement.llm.result import plan_from_slots
    problem = LLMPlanProblem(models=["llama-2-7b", "llama-2-13b"], num_devices=8,
                             device=device_preset("a100-80gb"), ttft_slo=1.0, tpot_slo=0.1)
    demands = {m: ModelDemand(requests=10, rate=1.0, mean_prompt=500.0, mean_output=100.0)
               for m in problem.model_names}
    p = plan_from_slots(dedicated_layout(problem, demands), problem=problem, method="dedicated")
    data = json.loads(dumps_strict(p.to_dict()))
    assert data["costs"]["kind"] == "analytic"
    assert "linear_s" not in json.dumps(data["costs"])
    assert _same(p.deployment, LLMPlan.from_dict(data).deployment)
    assert "nan" not in json.dumps(data).lower()


def test_explain_lists_groups(plan: LLMPlan) -> None:
    text = plan.explain()
    assert text.startswith("LLM plan (search)")
    for g in plan.groups:
        assert f"{g.name}: devices" in text


@pytest.mark.parametrize(("mutate", "match"), [
    (lambda d: d.update(format="other"), "not an LLM plan"),
    (lambda d: d["groups"][0].pop("tp"), "group 'g0' has no 'tp'"),  # names the field
    (lambda d: d["costs"].update(kind="magic"), "unknown cost kind"),
    (lambda d: d["settings"]["scheduler"].update(block_size=0), "block_size"),
])
def test_bad_plan_files(plan: LLMPlan, mutate: object, match: str) -> None:
    data = json.loads(dumps_strict(plan.to_dict()))
    mutate(data)  # type: ignore[operator]
    with pytest.raises(SpecError, match=match):
        LLMPlan.from_dict(data)
