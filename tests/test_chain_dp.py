from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.device_spec import device_preset
from alpaserve.errors import SolverError, SpecError
from alpaserve.model_presets import model_preset
from alpaserve.parallel.chain_dp import dp_frontier, max_live_states, solve_chain, solve_dp
from alpaserve.parallel.intra_op_ilp import ilp_frontier, solve_ilp
from alpaserve.parallel.logical_mesh import LogicalMesh
from alpaserve.parallel.op_graph import layer_graph
from alpaserve.parallel.sharding import build_sharding_problem
from tests._fixtures_parallel import random_problem


@settings(max_examples=60)
@given(seed=st.integers(0, 2**32 - 1), nodes=st.integers(1, 7), chain=st.booleans(),
       tie=st.booleans(), quantile=st.sampled_from([None, 0.1, 0.4, 0.8]))
def test_dp_equals_brute_force(seed: int, nodes: int, chain: bool, tie: bool,
                               quantile: float | None) -> None:
    p = random_problem(np.random.default_rng(seed), nodes=nodes, chain=chain, tie=tie,
                       budget_quantile=quantile)
    brute, sol = p.brute_force(), solve_dp(p)
    if brute is None:
        assert sol is None
    else:
        assert sol is not None
        assert sol.cost == pytest.approx(brute.cost)
        assert sol.memory <= p.memory_budget
        assert p.evaluate(sol.choice) == (sol.cost, sol.memory)


def test_chain_fast_path(rng: np.random.Generator) -> None:
    p = random_problem(rng, nodes=6, chain=True)
    assert p.is_chain
    assert max_live_states(p) <= 3
    assert solve_chain(p).cost == pytest.approx(p.brute_force().cost)
    with pytest.raises(SpecError, match="not a pure chain"):
        solve_chain(random_problem(rng, nodes=4, tie=True))


@settings(max_examples=20)
@given(seed=st.integers(0, 2**32 - 1))
def test_frontier_matches_brute_force(seed: int) -> None:
    p = random_problem(np.random.default_rng(seed), nodes=5, tie=True)
    frontier = dp_frontier(p)
    for sol in frontier:  # each point is optimal for its own memory
        best = p.with_budget(sol.memory).brute_force()
        assert best is not None
        assert best.cost == pytest.approx(sol.cost)


@pytest.mark.parametrize("shape", [(1, 2), (1, 4)])
def test_layer_frontier_matches_ilp(shape: tuple[int, int]) -> None:
    g = layer_graph(model_preset("moe-1.3b"), batch_size=2, kind="moe")
    p = build_sharding_problem(g, LogicalMesh.uniform(shape, 20e9, 5e-6),
                               device_preset("v100-16gb")).problem
    dp = dp_frontier(p)
    ilp = ilp_frontier(p)
    exact = {(round(s.cost, 15), s.memory) for s in dp}
    # every ILP point is on the exact frontier ...
    assert {(round(s.cost, 15), s.memory) for s in ilp} <= exact
    # ... and the ILP only merges points whose memories differ by < 1e-6 (its step)
    for d in dp:
        assert any(i.memory <= d.memory * (1 + 1e-6) and i.cost <= d.cost + 1e-15
                   for i in ilp)
    assert solve_dp(p).cost == pytest.approx(solve_ilp(p).cost)


def test_state_limit(rng: np.random.Generator) -> None:
    p = random_problem(rng, nodes=6, max_strategies=3)
    with pytest.raises(SolverError, match="max_states"):
        dp_frontier(p, max_states=0)
