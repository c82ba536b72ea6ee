"""Exact dynamic programming for strategy selection: Viterbi along a chain, and beyond.

On a pure chain the best assignment ending in strategy ``s`` of node ``v`` only depends on
the best ones ending at node ``v - 1`` (Viterbi). A transformer layer is a chain with a few
skip edges (residuals, the V input of attention), so the DP walks the nodes in topological
order and keeps as state the strategies of the *live* nodes: those already decided that
still have an edge (or tie) to an undecided node. A pure chain has one live node; a layer has
at most three. The number of states is the product of the live nodes' strategy counts, so
this is the fast path while that stays small (``max_states``).

Memory makes it a constrained problem, so each state keeps a Pareto set of
(cost, memory) labels instead of one value. The labels left at the end are the exact
cost–memory frontier, which is what the stitching of identical layers needs.
"""

from __future__ import annotations

import math

from alpaserve.errors import SolverError, SpecError
from alpaserve.parallel.problem import ShardingProblem, ShardingSolution

# A label: (cost, memory, trace) where trace is (strategy, previous trace) or None.
Trace = tuple[int, "Trace"] | None
Label = tuple[float, float, Trace]

DEFAULT_MAX_STATES = 50_000


def _structure(problem: ShardingProblem
               ) -> tuple[list[list[tuple[int, int]]], list[list[int]], list[int]]:
    """Per node: (pred, edge index) list, tie partners decided earlier, last use index."""
    n = problem.num_nodes
    preds: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    tied: list[list[int]] = [[] for _ in range(n)]
    last = list(range(n))
    for i, (u, v) in enumerate(problem.edges):
        preds[v].append((u, i))
        last[u] = max(last[u], v)
    for a, b in problem.ties:
        u, v = min(a, b), max(a, b)
        if u != v:
            tied[v].append(u)
            last[u] = max(last[u], v)
    return preds, tied, last


def max_live_states(problem: ShardingProblem) -> int:
    """The largest state count the DP meets (its cost driver).

    Parameters
    ----------
    problem : ShardingProblem
        The operator graph with per-strategy costs and memories, and edge resharding costs.

    Returns
    -------
    int
        The largest number of joint strategy states alive at one step of the elimination order.

    Examples
    --------
    >>> p = ShardingProblem(node_names=("a", "b", "c"), strategy_names=(("x", "y"),) * 3,
    ...                     node_costs=((0, 0),) * 3, node_memory=((0, 0),) * 3,
    ...                     edges=((0, 1), (1, 2), (0, 2)),
    ...                     edge_costs=(((0, 0), (0, 0)),) * 3)
    >>> max_live_states(p)
    4
    """
    _, _, last = _structure(problem)
    worst, live = 1, list[int]()
    for v in range(problem.num_nodes):
        live = [u for u in live if last[u] > v] + ([v] if last[v] > v else [])
        worst = max(worst, math.prod(problem.num_strategies(u) for u in live))
    return worst


def _pareto(labels: list[Label]) -> list[Label]:
    labels.sort(key=lambda lab: (lab[0], lab[1]))
    kept: list[Label] = []
    for lab in labels:
        if not kept or lab[1] < kept[-1][1]:
            kept.append(lab)
    return kept


def dp_frontier(problem: ShardingProblem, *, max_states: int = DEFAULT_MAX_STATES
                ) -> list[ShardingSolution]:
    """Every Pareto-optimal (cost, memory) assignment within the budget, fastest first.

    Raises :class:`SolverError` when the live-node state space exceeds ``max_states``.

    Parameters
    ----------
    problem : ShardingProblem
        The operator graph with per-strategy costs and memories, and edge resharding costs.
    max_states : int, default 50000
        The largest state count allowed before giving up.

    Returns
    -------
    list of ShardingSolution
        The Pareto points within ``problem.memory_budget``, fastest first (memory falling);
        empty when no assignment fits.

    Raises
    ------
    SolverError
        When the live-node state space exceeds ``max_states``.

    Examples
    --------
    >>> p = ShardingProblem(node_names=("a", "b"), strategy_names=(("x", "y"), ("x", "y")),
    ...                     node_costs=((1.0, 2.0), (1.0, 0.5)), node_memory=((2, 1), (2, 1)),
    ...                     edges=((0, 1),), edge_costs=(((0.0, 3.0), (3.0, 0.0)),))
    >>> [(s.choice, s.cost, s.memory) for s in dp_frontier(p)]
    [((0, 0), 2.0, 4.0), ((1, 1), 2.5, 2.0)]
    """
    width = max_live_states(problem)
    if width > max_states:
        raise SolverError(f"DP needs {width} live states, more than max_states={max_states}; "
                          "use the ILP")
    preds, tied, last = _structure(problem)
    budget = problem.memory_budget
    live: list[int] = []
    states: dict[tuple[int, ...], list[Label]] = {(): [(0.0, 0.0, None)]}
    for v in range(problem.num_nodes):
        pos = {u: i for i, u in enumerate(live)}
        new_live = [u for u in live if last[u] > v] + ([v] if last[v] > v else [])
        keep = [pos[u] for u in new_live if u != v]
        costs, mems = problem.node_costs[v], problem.node_memory[v]
        in_edges = [(pos[u], problem.edge_costs[e]) for u, e in preds[v]]
        tie_pos = [pos[u] for u in tied[v]]
        nxt: dict[tuple[int, ...], list[Label]] = {}
        for state, labels in states.items():
            base = tuple(state[i] for i in keep)
            for s in range(problem.num_strategies(v)):
                if any(state[i] != s for i in tie_pos):
                    continue
                add = costs[s] + sum(table[state[i]][s] for i, table in in_edges)
                if not math.isfinite(add):
                    continue
                key = (*base, s) if last[v] > v else base
                bucket = nxt.setdefault(key, [])
                for cost, mem, trace in labels:
                    if mem + mems[s] <= budget:
                        bucket.append((cost + add, mem + mems[s], (s, trace)))
        states = {k: _pareto(labs) for k, labs in nxt.items() if labs}
        live = new_live
    final = states.get((), [])
    out = []
    for _, _, trace in final:
        choice: list[int] = []
        while trace is not None:
            choice.append(trace[0])
            trace = trace[1]
        choice.reverse()
        cost, memory = problem.evaluate(tuple(choice))
        out.append(ShardingSolution(choice=tuple(choice), cost=cost, memory=memory,
                                    optimal=True, status="optimal", solver="dp"))
    return out


def solve_dp(problem: ShardingProblem, *, max_states: int = DEFAULT_MAX_STATES
             ) -> ShardingSolution | None:
    """The cheapest assignment within the memory budget, or ``None`` if none fits.

    Parameters
    ----------
    problem : ShardingProblem
        The operator graph with per-strategy costs and memories, and edge resharding costs.
    max_states : int, default 50000
        The largest state count allowed before giving up.

    Returns
    -------
    ShardingSolution or None
        The optimal assignment (``optimal=True``), or ``None`` when nothing fits the budget.

    Raises
    ------
    SolverError
        When the live-node state space exceeds ``max_states``.

    Examples
    --------
    >>> p = ShardingProblem(node_names=("a", "b"), strategy_names=(("x", "y"), ("x", "y")),
    ...                     node_costs=((1.0, 2.0), (1.0, 0.5)), node_memory=((2, 1), (2, 1)),
    ...                     edges=((0, 1),), edge_costs=(((0.0, 3.0), (3.0, 0.0)),))
    >>> solve_dp(p.with_budget(3.0)).choice
    (1, 1)
    """
    frontier = dp_frontier(problem, max_states=max_states)
    return frontier[0] if frontier else None


def solve_chain(problem: ShardingProblem) -> ShardingSolution | None:
    """Viterbi on a pure chain (edges ``(i, i + 1)`` only, no ties); see :func:`solve_dp`.

    Parameters
    ----------
    problem : ShardingProblem
        The operator graph with per-strategy costs and memories, and edge resharding costs.
        Its edges must be ``(i, i + 1)`` only.

    Returns
    -------
    ShardingSolution or None
        The optimal assignment within the memory budget, or ``None`` when nothing fits.
    """
    if not problem.is_chain:
        raise SpecError(f"problem with edges {problem.edges[:4]}... and ties "
                        f"{problem.ties} is not a pure chain")
    return solve_dp(problem)
