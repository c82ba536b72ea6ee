"""LLMPlanProblem: validation, SLOs per model, group sizes and shapes."""

from __future__ import annotations

import pytest

from alpaserve.errors import SpecError
from placement.llm import LLMPlanProblem
from tests._fixtures_llm_plan import TOY, toy_costs, toy_problem


def test_slos_expand_to_every_model() -> None:
    p = toy_problem(ttft_slo={"a": 0.1, "b": 0.2, "c": 0.3})
    assert p.slo("b") == (0.2, 0.05)
    assert p.model_names == ("a", "b", "c")


def test_group_sizes_and_shapes_stay_in_a_node() -> None:
    p = toy_problem(num_devices=8)
    assert p.group_sizes() == (1, 2, 4, 8)
    assert p.group_shapes(4) == ((4, 1), (2, 2), (1, 4))
    assert p.group_shapes(8) == ((4, 2), (2, 4))  # tp <= gpus_per_node = 4


def test_min_kv_blocks_and_budget() -> None:
    p = toy_problem(min_kv_tokens=100, memory_fraction=0.5)
    assert p.min_kv_blocks == 7  # ceil(100 / 16)
    assert p.memory_budget_bytes == pytest.approx(5e9)


def test_describe_names_every_setting() -> None:
    d = toy_problem().describe()
    assert d["models"] == {"a": None, "b": None, "c": None}
    assert d["ttft_slo"] == {"a": 0.5, "b": 0.5, "c": 0.5}
    assert d["device"]["name"] == "toy"


@pytest.mark.parametrize(("changes", "match"), [
    ({"models": []}, "models is empty"),
    ({"models": ["a", "a"]}, "names 'a' twice"),
    ({"models": "abc"}, "mapping or a sequence"),
    ({"num_devices": 6}, "multiple of gpus_per_node"),
    ({"num_devices": 0}, "num_devices must be a positive int"),
    ({"gpus_per_node": 3}, "power of two"),
    ({"device": "toy"}, "DeviceSpec"),
    ({"ttft_slo": -1.0}, "ttft_slo of 'a'"),
    ({"tpot_slo": {"a": 0.1}}, r"missing \['b', 'c'\]"),
    ({"tensor_degrees": (3,)}, "powers of two"),
    ({"kv_sharing": ("pooled",)}, "kv_sharing"),
    ({"memory_fraction": 1.5}, "memory_fraction"),
    ({"costs": object()}, "LLMCostModel"),
    ({"scheduler": {}}, "SchedulerConfig"),
])
def test_bad_inputs_name_the_value(changes: dict[str, object], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        toy_problem(**changes)


def test_presets_resolve_without_costs() -> None:
    from alpaserve.device_spec import device_preset
    p = LLMPlanProblem(models=["llama-2-7b#1", "llama-2-7b#2"], num_devices=8,
                       device=device_preset("a100-80gb"), ttft_slo=1.0, tpot_slo=0.1)
    assert p.cost_model.weight_bytes("llama-2-7b#1", 1, 1) > 13e9
    with pytest.raises(SpecError, match="unknown LLM preset"):
        LLMPlanProblem(models=["gpt-9"], num_devices=8, device=TOY, ttft_slo=1.0,
                       tpot_slo=0.1)
    assert toy_costs().models == ("a", "b", "c")
