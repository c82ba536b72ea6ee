from __future__ import annotations

import math

import numpy as np
import pulp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.device_spec import device_preset
from alpaserve.errors import SolverError
from alpaserve.model_presets import model_preset
from alpaserve.parallel import intra_op_ilp
from alpaserve.parallel.intra_op_ilp import ilp_frontier, solve_ilp
from alpaserve.parallel.logical_mesh import LogicalMesh
from alpaserve.parallel.op_graph import layer_graph
from alpaserve.parallel.problem import ShardingProblem
from alpaserve.parallel.sharding import build_sharding_problem
from tests._fixtures_parallel import random_problem

V100 = device_preset("v100-16gb")


@settings(max_examples=25)
@given(seed=st.integers(0, 2**32 - 1), nodes=st.integers(1, 6),
       tie=st.booleans(), quantile=st.sampled_from([None, 0.2, 0.5]))
def test_ilp_equals_brute_force(seed: int, nodes: int, tie: bool,
                                quantile: float | None) -> None:
    p = random_problem(np.random.default_rng(seed), nodes=nodes, tie=tie,
                       budget_quantile=quantile)
    brute = p.brute_force()
    sol = solve_ilp(p)
    if brute is None:
        assert sol is None
    else:
        assert sol is not None
        assert sol.optimal
        assert sol.cost == pytest.approx(brute.cost)
        assert sol.memory <= p.memory_budget


def test_cbc_matches_highs(rng: np.random.Generator) -> None:
    p = random_problem(rng, nodes=6, budget_quantile=0.5)
    a, b = solve_ilp(p, backend="highs"), solve_ilp(p, backend="cbc")
    assert a is not None
    assert b is not None
    assert a.cost == pytest.approx(b.cost)
    assert b.solver == "cbc"


def layer_plan(shape: tuple[int, int], bandwidth: float, budget_factor: float | None,
               batch: int = 1) -> dict[str, str]:
    space = build_sharding_problem(layer_graph(model_preset("bert-1.3b"), batch_size=batch),
                                   LogicalMesh.uniform(shape, bandwidth, 5e-6), V100)
    p = space.problem
    if budget_factor is not None:
        p = p.with_budget(sum(min(m) for m in p.node_memory) * budget_factor)
    sol = solve_ilp(p)
    assert sol is not None
    assert sol.optimal
    return sol.names(p)


@pytest.mark.parametrize("shape", [(1, 2), (1, 4)])
def test_megatron_sharding_on_fast_interconnect(shape: tuple[int, int]) -> None:
    plan = layer_plan(shape, 130e9, budget_factor=1.05)
    assert plan["qkv"] == "col@1"
    assert plan["ffn1"] == "col@1"
    assert plan["out_proj"] == "row@1"
    assert plan["ffn2"] == "row@1"
    assert plan["attn_score"] == plan["attn_context"] == "heads@1"
    # one all-reduce each for attention and FFN, nothing else communicates
    assert sum(s.startswith("row@") for s in plan.values()) == 2
    assert plan["input"] == plan["residual1"] == plan["residual2"] == "R"


@pytest.mark.parametrize("shape", [(1, 2), (1, 4)])
def test_replication_on_very_slow_interconnect(shape: tuple[int, int]) -> None:
    plan = layer_plan(shape, 1e6, budget_factor=None)
    assert set(plan.values()) <= {"replicated", "R"}


def test_ilp_frontier_is_pareto(rng: np.random.Generator) -> None:
    p = random_problem(rng, nodes=5)
    points = ilp_frontier(p)
    assert points
    costs = [s.cost for s in points]
    mems = [s.memory for s in points]
    assert costs == sorted(costs)
    assert mems == sorted(mems, reverse=True)
    # nothing beats the last point's memory
    assert solve_ilp(p.with_budget(mems[-1] - 0.5)) is None


def test_non_optimal_solve_is_reported(monkeypatch: pytest.MonkeyPatch,
                                       rng: np.random.Generator) -> None:
    real = pulp.LpProblem.solve

    def stopped_early(self: pulp.LpProblem, solver: object = None, **kw: object) -> int:
        status = real(self, solver, **kw)
        self.sol_status = pulp.LpSolutionIntegerFeasible  # as CBC at its time limit
        return status

    monkeypatch.setattr(pulp.LpProblem, "solve", stopped_early)
    p = random_problem(rng, nodes=4)
    sol = solve_ilp(p, backend="cbc", time_limit=1)
    assert sol is not None
    assert not sol.optimal
    assert sol.status == "time-limit"
    with pytest.raises(SolverError, match="without proving optimality"):
        solve_ilp(p, strict=True)


def test_bad_backend(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match="backend"):
        solve_ilp(random_problem(rng, nodes=2), backend="gurobi")  # type: ignore[arg-type]
    assert math.isinf(random_problem(rng, nodes=2).memory_budget)


@pytest.mark.parametrize("backend", ["highs", "cbc"])
def test_budget_is_exact_below_solver_tolerance(backend: str) -> None:
    # HiGHS's default MIP feasibility tolerance (1e-6) took the first strategy, 0.5 byte over
    p = ShardingProblem(node_names=("a",), strategy_names=(("x", "y"),),
                        node_costs=((1.0, 2.0),), node_memory=((1_000_001, 1_000_000),),
                        edges=(), edge_costs=())
    sol = solve_ilp(p.with_budget(1_000_000.5), backend=backend)
    assert sol is not None
    assert (sol.choice, sol.memory) == ((1,), 1_000_000.0)
    assert solve_ilp(p.with_budget(999_999.5), backend=backend) is None


def test_over_budget_answer_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    p = ShardingProblem(node_names=("a",), strategy_names=(("x", "y"),),
                        node_costs=((1.0, 2.0),), node_memory=((1_000_001, 1_000_000),),
                        edges=(), edge_costs=())
    # a solver as loose as HiGHS's defaults: the verification must still hold the budget
    monkeypatch.setattr(intra_op_ilp, "FEAS_TOL", 1e-5)
    sol = solve_ilp(p.with_budget(1_000_000.5))
    assert sol is not None
    assert sol.memory <= 1_000_000.5


def _exhaustive_frontier(p: ShardingProblem) -> list[tuple[float, float]]:
    grids = np.meshgrid(*[np.arange(p.num_strategies(v)) for v in range(p.num_nodes)],
                        indexing="ij")
    ch = [g.ravel() for g in grids]
    cost = sum(np.asarray(p.node_costs[v])[ch[v]] for v in range(p.num_nodes))
    for (u, v), table in zip(p.edges, p.edge_costs, strict=True):
        cost = cost + np.asarray(table)[ch[u], ch[v]]
    mem = sum(np.asarray(p.node_memory[v], dtype=float)[ch[v]] for v in range(p.num_nodes))
    ok = np.ones(cost.size, dtype=bool)
    for u, v in p.ties:
        ok &= ch[u] == ch[v]
    cost, mem = cost[ok], mem[ok]
    points: list[tuple[float, float]] = []
    for i in np.lexsort((mem, cost)):
        if not points or mem[i] < points[-1][1]:
            points.append((float(cost[i]), float(mem[i])))
    return points


def test_frontier_of_a_bert_layer_on_eight_devices_is_complete() -> None:
    space = build_sharding_problem(layer_graph(model_preset("bert-1.3b"), batch_size=8),
                                   LogicalMesh.uniform((1, 8), 12e9, 5e-6), V100)
    p = space.problem
    want = _exhaustive_frontier(p)
    got = [(s.cost, s.memory) for s in ilp_frontier(p)]
    assert len(want) == 9
    assert [m for _, m in got] == [m for _, m in want]
    assert [c for c, _ in got] == pytest.approx([c for c, _ in want], rel=1e-9)
