"""AlpaServe-style start points: equal groups shared by several models."""

from __future__ import annotations

from placement.llm.demand import model_demands
from placement.llm.layout import kv_budgets
from placement.llm.pooled import deal, pooled_layouts
from tests._fixtures_llm_plan import toy_problem, toy_workload

PROBLEM = toy_problem(num_devices=8)
DEMANDS = model_demands(toy_workload(duration=5.0), PROBLEM.model_names)


def test_deal_places_each_model_on_the_asked_number_of_groups() -> None:
    for replicas in (1, 2):
        layout = deal(PROBLEM, 4, replicas, DEMANDS, kv_sharing="shared")
        assert layout is not None
        assert sorted(s.devices for s in layout) == [(0, 1, 2, 3), (4, 5, 6, 7)]
        for m in PROBLEM.model_names:
            assert sum(m in s.models for s in layout) == replicas
        assert any(len(s.models) > 1 for s in layout)
        for s in layout:
            assert s.kv_sharing == "shared"
            assert s.tp * s.pp == s.size
            assert kv_budgets(PROBLEM, tp=s.tp, pp=s.pp, models=s.models, loads={}) is not None


def test_deal_refuses_what_cannot_be_dealt() -> None:
    assert deal(PROBLEM, 4, 3, DEMANDS, kv_sharing="shared") is None  # only two groups
    assert deal(PROBLEM, 3, 1, DEMANDS, kv_sharing="shared") is None  # not a group size
    assert deal(PROBLEM, 1, 1, DEMANDS, kv_sharing="shared") is None  # c fits no device


def test_pooled_layouts_one_per_size_best_first() -> None:
    found = pooled_layouts(PROBLEM, DEMANDS, limit=5)
    labels = [label for label, _ in found]
    assert labels
    assert all(label.startswith("pooled ") for label in labels)
    sizes = [label.split(" ")[1].split("x")[1] for label in labels]
    assert len(sizes) == len(set(sizes))
    for _, layout in found:
        assert {m for s in layout for m in s.models} == set(PROBLEM.model_names)
        assert any(len(s.models) > 1 for s in layout)
    assert pooled_layouts(PROBLEM, DEMANDS, limit=1) == found[:1]
