"""Small random strategy-selection problems for the parallel-config tests."""

from __future__ import annotations

import numpy as np

from alpaserve.parallel.problem import ShardingProblem


def random_problem(rng: np.random.Generator, *, nodes: int, max_strategies: int = 3,
                   chain: bool = False, tie: bool = False,
                   budget_quantile: float | None = None) -> ShardingProblem:
    """A random DAG (or chain) with integer-ish costs and memories."""
    counts = [int(rng.integers(1, max_strategies + 1)) for _ in range(nodes)]
    if tie and nodes >= 2:
        counts[-1] = counts[0]
    edges = [(i, i + 1) for i in range(nodes - 1)]
    if not chain:
        for v in range(2, nodes):
            u = int(rng.integers(0, v - 1))
            if rng.random() < 0.5:
                edges.append((u, v))
    edges = sorted(set(edges))
    node_costs = tuple(tuple(float(rng.integers(0, 20)) for _ in range(c)) for c in counts)
    node_memory = tuple(tuple(float(rng.integers(0, 10)) for _ in range(c)) for c in counts)
    edge_costs = tuple(tuple(tuple(float(rng.integers(0, 8)) for _ in range(counts[v]))
                             for _ in range(counts[u])) for u, v in edges)
    ties = ((0, nodes - 1),) if tie and nodes >= 2 else ()
    problem = ShardingProblem(
        node_names=tuple(f"n{i}" for i in range(nodes)),
        strategy_names=tuple(tuple(f"s{j}" for j in range(c)) for c in counts),
        node_costs=node_costs, node_memory=node_memory, edges=tuple(edges),
        edge_costs=edge_costs, ties=ties)
    if budget_quantile is not None:
        lo = sum(min(m) for m in node_memory)
        hi = sum(max(m) for m in node_memory)
        problem = problem.with_budget(lo + budget_quantile * (hi - lo))
    return problem
