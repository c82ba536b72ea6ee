"""plan_llm: every model served within memory, at least as good as the baselines on the
training workload, deterministic, bounded, and clear about bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from alpaserve.errors import PlacementError, SpecError
from placement.llm import LLMPlan, plan_llm
from placement.llm.layout import candidate_partitions, kv_budgets
from placement.llm.score import Objective, Score, at_load
from placement.llm.search import training_window
from tests._fixtures_llm_plan import toy_problem, toy_workload


def _check_memory(plan: LLMPlan) -> None:
    """Weights, the largest activation reserve and every KV block fit each device."""
    problem = toy_problem()
    costs = problem.cost_model
    for g in plan.groups:
        used = sum(costs.weight_bytes(m, g.tp, g.pp) + b * costs.kv_block_bytes(m, g.tp, g.pp, 16)
                   for m, b in zip(g.models, g.kv_blocks, strict=True))
        used += max(costs.activation_bytes(m, g.tp, g.pp) for m in g.models)
        assert used <= problem.memory_budget_bytes
        assert all(b >= problem.min_kv_blocks for b in g.kv_blocks)


def test_search_serves_every_model_and_beats_the_baselines() -> None:
    problem = toy_problem()
    work = toy_workload(rates=(120.0, 40.0, 15.0), duration=10.0)  # overloads the baselines
    plans = {m: plan_llm(problem, work, method=m) for m in ("search", "dedicated", "muxserve")}
    for plan in plans.values():
        assert set(plan.deployment.model_names) == {"a", "b", "c"}
        assert plan.num_devices <= 4
        assert len({d for g in plan.groups for d in g.devices}) == plan.num_devices
        _check_memory(plan)
        assert plan.train_requests == len(work)
    search = plans["search"]
    assert search.train_good >= plans["dedicated"].train_good
    assert search.train_good >= plans["muxserve"].train_good
    assert search.train_good > plans["dedicated"].train_good  # co-location pays here
    assert 0 < search.train_goodput <= 1
    assert search.simulations <= 120
    assert "simulations" in search.explain()


def test_search_is_deterministic_and_respects_the_budget() -> None:
    problem = toy_problem()
    work = toy_workload(rates=(120.0, 40.0, 15.0), duration=5.0)
    one = plan_llm(problem, work, seed=3, max_simulations=5)
    two = plan_llm(problem, work, seed=3, max_simulations=5)
    assert one.simulations == 5
    assert [g.to_dict() for g in one.groups] == [g.to_dict() for g in two.groups]
    assert one.train_good == two.train_good


def test_a_large_workload_is_scored_on_a_window() -> None:
    work = toy_workload(duration=30.0)
    rng = np.random.default_rng(0)
    window = training_window(work, 100, rng)
    assert len(window) == 100
    plan = plan_llm(toy_problem(), work, max_requests=200, max_simulations=3)
    assert plan.train_requests == 200
    assert any("window of 200" in n for n in plan.notes)


def test_kv_budgets_split_by_load_and_refuse_overfull_groups() -> None:
    problem = toy_problem()
    blocks = kv_budgets(problem, tp=1, pp=1, models=["a", "b"], loads={"a": 3.0, "b": 1.0})
    assert blocks is not None
    assert blocks[0] > 2 * blocks[1]
    assert kv_budgets(problem, tp=1, pp=1, models=["c"], loads={}) is None  # 12 GB > 9 GB
    assert kv_budgets(problem, tp=2, pp=1, models=["c"], loads={}) is not None


def test_partitions_are_node_aligned() -> None:
    parts = candidate_partitions(toy_problem(num_devices=8), min_size=2)
    assert (8,) in parts
    assert (4, 4) in parts
    assert (4, 2, 2) in parts
    assert all(sum(p) == 8 and min(p) >= 2 for p in parts)


def test_bad_inputs() -> None:
    problem = toy_problem()
    work = toy_workload(duration=5.0)
    with pytest.raises(SpecError, match="method must be one of"):
        plan_llm(problem, work, method="random")
    with pytest.raises(SpecError, match="max_simulations must be a positive int"):
        plan_llm(problem, work, max_simulations=0)
    with pytest.raises(SpecError, match="pooled must be a non-negative int"):
        plan_llm(problem, work, pooled=-1)
    with pytest.raises(SpecError, match="compounds must be a non-negative int"):
        plan_llm(problem, work, compounds=True)
    with pytest.raises(PlacementError, match="non-empty Workload"):
        plan_llm(problem, work.filter_models([]))
    with pytest.raises(PlacementError, match="fits no group"):
        plan_llm(toy_problem(num_devices=1, gpus_per_node=1), work)
    with pytest.raises(PlacementError, match="does not serve"):
        plan_llm(toy_problem(models=["a", "b"], costs=toy_problem().costs), work)


def test_objective_keeps_every_model_above_the_floor_and_needs_a_margin() -> None:
    ref = Score(good=150, requests=200, per_model={"a": (90, 100), "b": (60, 100)})
    objective = Objective(0.9, ref, min_gain=0.05)
    assert objective.floor == pytest.approx(0.54)
    starved = Score(good=160, requests=200, per_model={"a": (100, 100), "b": (60, 100)})
    assert objective.key(starved)[0]
    unfair = Score(good=170, requests=200, per_model={"a": (100, 100), "b": (50, 100)})
    assert not objective.key(unfair)[0]
    assert objective.better(starved, unfair)  # fair beats more goodput
    assert not objective.better(starved, ref)  # +10 is within the 5% margin
    big = Score(good=175, requests=200, per_model={"a": (100, 100), "b": (75, 100)})
    assert objective.better(big, ref)
    assert Objective(0.0, None).better(unfair, starved)


def test_loads_are_scored_and_counted_as_simulations() -> None:
    problem = toy_problem()
    work = toy_workload(rates=(60.0, 20.0, 8.0), duration=4.0)
    one = plan_llm(problem, work, method="dedicated")
    three = plan_llm(problem, work, method="dedicated", loads=(1.0, 0.5, 0.25))
    assert three.simulations == 3
    assert three.train_requests == 3 * one.train_requests
    assert three.train_goodput >= one.train_goodput  # lighter loads are easier
    plan = plan_llm(problem, work, loads=(1.0, 0.5), max_simulations=9)
    assert plan.simulations <= 9
    assert plan.simulations % 2 == 0
    with pytest.raises(SpecError, match="loads must be a non-empty tuple"):
        plan_llm(problem, work, loads=(1.0, 0.0))
    with pytest.raises(SpecError, match="fairness must be in"):
        plan_llm(problem, work, fairness=1.5)
    with pytest.raises(SpecError, match="min_gain must be in"):
        plan_llm(problem, work, min_gain=-0.1)


def test_at_load_compresses_or_stretches_the_gaps() -> None:
    work = toy_workload(duration=5.0)
    fast = at_load(work, 2.0)
    assert fast.arrival[0] == work.arrival[0]
    assert fast.duration == pytest.approx(work.duration / 2)
    assert at_load(work, 1.0) is work
    with pytest.raises(PlacementError, match="load factor must be positive"):
        at_load(work, 0.0)


def test_start_points_include_pooled_groups_and_compounds_are_tried() -> None:
    problem = toy_problem(num_devices=8)
    work = toy_workload(rates=(500.0, 150.0, 60.0), duration=2.0)  # overloaded
    plan = plan_llm(problem, work, max_simulations=50)
    starts = next(n for n in plan.notes if n.startswith("start points: "))
    assert "dedicated" in starts
    assert "pooled " in starts
    assert "partition " in starts
    assert "compound " in next(n for n in plan.notes if n.startswith("moves "))
    assert plan.simulations <= 50
    bare = plan_llm(problem, work, max_simulations=50, pooled=0, compounds=0)
    assert "pooled " not in next(n for n in bare.notes if n.startswith("start points: "))
    assert "compound" not in next(n for n in bare.notes if n.startswith("moves "))
