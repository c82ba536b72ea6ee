"""The intra-operator ILP (Alpa's formulation), solved with PuLP.

One binary ``x[v, s]`` per node and strategy with ``sum_s x[v, s] = 1``; one continuous
``e[uv, a, b] >= 0`` per edge and strategy pair, tied to the node choices by
``sum_b e[uv, a, b] = x[u, a]`` and ``sum_a e[uv, a, b] = x[v, b]`` (exact once ``x`` is
binary). The objective is node costs plus ``sum e · resharding``; the memory constraint is
``sum x · memory <= budget``. Ties are ``x[u, s] = x[v, s]``.

HiGHS (``pulp.HiGHS``) is used when ``highspy`` imports, else CBC. Budgets are exact: the
solvers' feasibility tolerances are set explicitly (HiGHS's MIP default, 1e-6, let a solution
over the budget by a relative 5e-7 through), and every answer is checked against the budget
in exact arithmetic; one over it is cut off (no-good cut) and the ILP re-solved. PuLP reports
``status == Optimal`` even when CBC stops at its time limit with an unproven incumbent, so the
result's ``optimal`` flag comes from ``sol_status``; ``strict=True`` raises
:class:`SolverError` for such a solve.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import warnings
from typing import Literal

import pulp

from alpaserve.errors import SolverError, SpecError
from alpaserve.parallel.problem import ShardingProblem, ShardingSolution

logger = logging.getLogger(__name__)

Backend = Literal["auto", "highs", "cbc"]

# Costs are seconds (often ~1e-3); the objective is scaled to microseconds and the MIP gaps
# tightened, else the solvers' default absolute gap (1e-6) accepts visibly worse plans.
OBJECTIVE_SCALE = 1e6
GAP_REL = 1e-9
GAP_ABS = 1e-9
# Feasibility tolerance of both solvers (the smallest HiGHS accepts is 1e-10).
FEAS_TOL = 1e-9
# Re-solves after an answer over the budget before giving up.
MAX_CUTS = 64


def _highs_available() -> bool:
    return importlib.util.find_spec("highspy") is not None


def _solver(backend: Backend, time_limit: float | None) -> tuple[str, pulp.LpSolver]:
    if backend not in ("auto", "highs", "cbc"):
        raise SpecError(f"ILP backend must be 'auto', 'highs' or 'cbc', got {backend!r}")
    if backend == "highs" or (backend == "auto" and _highs_available()):
        if not _highs_available():
            raise SolverError("ILP backend 'highs' needs the highspy package")
        return "highs", pulp.HiGHS(msg=False, timeLimit=time_limit, gapRel=GAP_REL,
                                   gapAbs=GAP_ABS, mip_feasibility_tolerance=FEAS_TOL,
                                   primal_feasibility_tolerance=FEAS_TOL)
    tol = [f"primalTolerance {FEAS_TOL}", f"integerTolerance {FEAS_TOL}"]
    coin = pulp.COIN_CMD(msg=False, timeLimit=time_limit, gapRel=GAP_REL, gapAbs=GAP_ABS,
                         options=tol)
    if coin.available():
        return "cbc", coin
    with warnings.catch_warnings():  # PuLP 3.3 deprecates its bundled CBC for 4.0
        warnings.simplefilter("ignore", DeprecationWarning)
        return "cbc", pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, gapRel=GAP_REL,
                                        gapAbs=GAP_ABS, options=tol)


def _argmax(values: list[float]) -> int:
    return max(range(len(values)), key=values.__getitem__)


def solve_ilp(problem: ShardingProblem, *, backend: Backend = "auto",
              time_limit: float | None = None, strict: bool = False
              ) -> ShardingSolution | None:
    """Solve ``problem`` exactly; ``None`` when no assignment fits the memory budget.

    Raises :class:`SolverError` when the solver fails, and, with ``strict``, when it stops
    without proving optimality. Otherwise such a solve comes back with ``optimal=False``.

    Parameters
    ----------
    problem : ShardingProblem
        The operator graph with per-strategy costs and memories and its memory budget.
    backend : {"auto", "highs", "cbc"}, default "auto"
        The MILP solver; ``"auto"`` takes HiGHS when ``highspy`` is installed, else CBC.
    time_limit : float, optional
        Wall-clock limit in seconds for one solve; none by default.
    strict : bool, default False
        Raise instead of returning a solution whose optimality was not proven.

    Returns
    -------
    ShardingSolution or None
        The cheapest assignment within the budget, or ``None`` when nothing fits.

    Raises
    ------
    SolverError
        When the solver fails, or (with ``strict``) stops without proving optimality.

    Examples
    --------
    >>> p = ShardingProblem(node_names=("a", "b"), strategy_names=(("x", "y"), ("x", "y")),
    ...                     node_costs=((1.0, 2.0), (1.0, 0.5)), node_memory=((2, 1), (2, 1)),
    ...                     edges=((0, 1),), edge_costs=(((0.0, 3.0), (3.0, 0.0)),))
    >>> sol = solve_ilp(p)
    >>> sol.choice, sol.cost, sol.optimal
    ((0, 0), 2.0, True)
    >>> solve_ilp(p.with_budget(3.0)).choice
    (1, 1)
    >>> solve_ilp(p.with_budget(1.0)) is None
    True
    """
    name, solver = _solver(backend, time_limit)
    lp = pulp.LpProblem("intra_op", pulp.LpMinimize)
    x = [[lp.add_variable(f"x_{v}_{s}", cat=pulp.LpBinary)
          for s in range(problem.num_strategies(v))] for v in range(problem.num_nodes)]
    scale = OBJECTIVE_SCALE
    objective = [problem.node_costs[v][s] * scale * x[v][s]
                 for v in range(problem.num_nodes) for s in range(problem.num_strategies(v))
                 if problem.node_costs[v][s]]
    for v in range(problem.num_nodes):
        lp += pulp.lpSum(x[v]) == 1, f"one_{v}"
    for i, ((u, v), table) in enumerate(zip(problem.edges, problem.edge_costs, strict=True)):
        if all(c == table[0][0] for row in table for c in row):
            # A constant table needs no edge variables.
            if table[0][0]:
                objective.append(pulp.lpSum(x[u]) * (table[0][0] * scale))
            continue
        e = [[lp.add_variable(f"e_{i}_{a}_{b}", lowBound=0)
              for b in range(len(table[0]))] for a in range(len(table))]
        for a in range(len(table)):
            lp += pulp.lpSum(e[a]) == x[u][a], f"eu_{i}_{a}"
        for b in range(len(table[0])):
            lp += pulp.lpSum(e[a][b] for a in range(len(table))) == x[v][b], f"ev_{i}_{b}"
        objective.extend(table[a][b] * scale * e[a][b] for a in range(len(table))
                         for b in range(len(table[0])) if table[a][b])
    for j, (u, v) in enumerate(problem.ties):
        for s in range(problem.num_strategies(u)):
            lp += x[u][s] == x[v][s], f"tie_{j}_{s}"
    if math.isfinite(problem.memory_budget):
        # Scaled by the budget so the solver's feasibility tolerance (about 1e-7) is relative
        # to it, finer than the 1e-6 steps of :func:`ilp_frontier`; scaling by the total
        # memory of the costliest choices let solutions overshoot a tight budget.
        mem_scale = max(problem.memory_budget, 1.0)
        lp += pulp.lpSum(problem.node_memory[v][s] / mem_scale * x[v][s]
                         for v in range(problem.num_nodes)
                         for s in range(problem.num_strategies(v))) \
            <= problem.memory_budget / mem_scale, "memory"
    lp += pulp.lpSum(objective)
    for cut in range(MAX_CUTS + 1):
        solved = _solve_once(lp, solver, name, problem, x)
        if solved is None:
            return None
        choice, status = solved
        cost, memory = problem.evaluate(choice)
        if memory <= problem.memory_budget:
            break
        # Within the solver's tolerance but over the budget: forbid exactly this choice.
        logger.info("%s answered memory %r over the budget %r; cutting it off and re-solving",
                    name, memory, problem.memory_budget)
        lp += pulp.lpSum(x[v][c] for v, c in enumerate(choice)) <= problem.num_nodes - 1, \
            f"cut_{cut}"
    else:
        raise SolverError(f"{name} kept answering over the memory budget "
                          f"{problem.memory_budget!r} after {MAX_CUTS} cuts")
    optimal = status == pulp.LpSolutionOptimal
    if not optimal:
        message = (f"{name} stopped without proving optimality (sol_status "
                   f"{pulp.LpSolution.get(status, status)}); best cost {cost:.6g}")
        if strict:
            raise SolverError(message)
        logger.warning(message)
    return ShardingSolution(choice=choice, cost=cost, memory=memory, optimal=optimal,
                            status="optimal" if optimal else "time-limit", solver=name)


def _solve_once(lp: pulp.LpProblem, solver: pulp.LpSolver, name: str,
                problem: ShardingProblem, x: list[list[pulp.LpVariable]]
                ) -> tuple[tuple[int, ...], int] | None:
    """One solve: the chosen strategy per node and the solution status, or None."""
    try:
        lp.solve(solver)
    except pulp.PulpSolverError as exc:
        raise SolverError(f"{name} failed on a {problem.num_nodes}-node problem: {exc}") \
            from exc
    status = lp.sol_status
    if status == pulp.LpSolutionInfeasible or lp.status == pulp.LpStatusInfeasible:
        return None
    if status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        raise SolverError(f"{name} found no solution: status "
                          f"{pulp.LpStatus.get(lp.status, lp.status)}, "
                          f"sol_status {pulp.LpSolution.get(status, status)}")
    return tuple(_argmax([var.value() or 0.0 for var in xs]) for xs in x), status


def ilp_frontier(problem: ShardingProblem, *, backend: Backend = "auto",
                 time_limit: float | None = None, max_points: int = 64
                 ) -> list[ShardingSolution]:
    """The (cost, memory) Pareto frontier by repeated ILP solves with a shrinking budget.

    Starts from the unconstrained optimum and re-solves with the budget just below the last
    point's memory until nothing fits: half a byte below when every memory is a whole number
    (the usual case), a relative 1e-12 below otherwise. Budgets are exact (see
    :func:`solve_ilp`), so no Pareto point is skipped. Points come fastest first, memory
    falling.

    Parameters
    ----------
    problem : ShardingProblem
        The operator graph; its memory budget bounds the first solve.
    backend : {"auto", "highs", "cbc"}, default "auto"
        The MILP solver, as in :func:`solve_ilp`.
    time_limit : float, optional
        Wall-clock limit in seconds for each solve.
    max_points : int, default 64
        The most frontier points returned.

    Returns
    -------
    list of ShardingSolution
        The Pareto points, fastest first with memory falling; empty when nothing fits.

    Examples
    --------
    >>> p = ShardingProblem(node_names=("a",), strategy_names=(("x", "y", "z"),),
    ...                     node_costs=((1.0, 2.0, 3.0),), node_memory=((4, 2, 3),),
    ...                     edges=(), edge_costs=())
    >>> [(s.cost, s.memory) for s in ilp_frontier(p)]
    [(1.0, 4.0), (2.0, 2.0)]
    """
    points: list[ShardingSolution] = []
    budget = problem.memory_budget
    integral = all(float(m).is_integer() for row in problem.node_memory for m in row)
    for _ in range(max_points):
        sol = solve_ilp(problem.with_budget(budget), backend=backend, time_limit=time_limit)
        if sol is None or (points and sol.memory >= points[-1].memory):
            break
        if points and sol.cost <= points[-1].cost:
            # Same cost with less memory: the earlier point was not on the frontier.
            points.pop()
        points.append(sol)
        budget = sol.memory - 0.5 if integral else sol.memory - max(1e-12 * sol.memory, 1e-300)
        if budget < 0:
            break
    return points
