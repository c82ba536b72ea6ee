"""Exhaustive search for tiny problems: the optimum the greedy routines are checked against.

For a fixed set of groups, every group independently takes any subset of models that fits
its memory; the search simulates every combination (the product of the per-group choices)
and keeps the best. :func:`exact_search` also tries every layout of the cluster. The count
of combinations is checked up front against ``max_combinations``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from alpaserve.errors import PlacementError
from placement.buckets import layouts
from placement.evaluator import Evaluator
from placement.problem import Problem
from placement.space import Assignment, SearchSpace


def feasible_subsets(space: SearchSpace, group: int) -> list[tuple[int, ...]]:
    """Every set of models (as sorted indices) that group ``group`` can hold at once.

    Parameters
    ----------
    space : SearchSpace
        The groups and models.
    group : int
        Index of the group.

    Returns
    -------
    list of tuple of int
        Every subset of the models the group can run whose weights fit each stage's
        memory, the empty one first, by size.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> from placement.selective_replication import sr_space
    >>> feasible_subsets(sr_space(tiny_problem(num_models=2, num_devices=1)), 0)
    [(), (0,), (1,), (0, 1)]
    """
    mask = space.replica_mask()[group]
    cands = [int(m) for m in np.flatnonzero(mask)]
    mem = space.memory[space.group_shape[group]]
    out = []
    for r in range(len(cands) + 1):
        for sub in itertools.combinations(cands, r):
            if not sub or np.all(mem[list(sub)].sum(axis=0) <= space.capacity):
                out.append(sub)
    return out


def exact_assignment(space: SearchSpace, ev: Evaluator, *,
                     max_combinations: int = 200_000) -> tuple[Assignment, int]:
    """The assignment with the most good requests on ``space`` (ties: first enumerated).

    Parameters
    ----------
    space : SearchSpace
        The groups and models.
    ev : Evaluator
        Scores each combination.
    max_combinations : int, default 200000
        Most simulations allowed.

    Returns
    -------
    assignment : Assignment
        The best assignment.
    good : int
        Its good requests.

    Raises
    ------
    PlacementError
        If the number of combinations exceeds ``max_combinations``.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> from placement.selective_replication import sr_space
    >>> p = tiny_problem(num_models=2, num_devices=2)
    >>> sp = sr_space(p)
    >>> best, good = exact_assignment(sp, Evaluator(p.train, group_stages=sp.group_stages))
    >>> 0 < good <= p.train.num_requests
    True
    """
    choices = [feasible_subsets(space, g) for g in range(space.num_groups)]
    total = math.prod(len(c) for c in choices)
    if total > max_combinations:
        raise PlacementError(f"exhaustive search needs {total} simulations, more than "
                             f"max_combinations={max_combinations}")
    best, best_good = space.empty(), -1
    for combo in itertools.product(*choices):
        assign = space.empty()
        for g, sub in enumerate(combo):
            for m in sub:
                assign.add(g, m)
        good = ev.evaluate(assign.arrays(), trace=False).good
        if good > best_good:
            best, best_good = assign, good
    return best, best_good


def exact_search(problem: Problem, *, max_group_size: int | None = None,
                 max_combinations: int = 200_000) -> tuple[Assignment, int, str]:
    """The best assignment over every layout of the cluster.

    Parameters
    ----------
    problem : Problem
        The placement problem.
    max_group_size : int, optional
        Largest group size in devices; default no limit.
    max_combinations : int, default 200000
        Most simulations per layout.

    Returns
    -------
    assignment : Assignment
        The best assignment (ties: the first layout).
    good : int
        Its good training requests.
    layout : str
        Its layout's key.

    Raises
    ------
    PlacementError
        If the cluster has no layout, or a layout needs too many simulations.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> p = tiny_problem(num_models=2, num_devices=2)
    >>> best, good, layout = exact_search(p)
    >>> 0 < good <= p.train.num_requests, layout in ("2x1 pp1-tp1", "1x2 pp2-tp1", "1x2 pp1-tp2")
    (True, True)
    """
    best: tuple[Assignment, int, str] | None = None
    for lay in layouts(problem.cluster, range(problem.cluster.num_devices), max_group_size):
        space = problem.search_space(lay.groups())
        ev = Evaluator(problem.train, group_stages=space.group_stages, options=problem.options)
        assign, good = exact_assignment(space, ev, max_combinations=max_combinations)
        if best is None or good > best[1]:
            best = (assign, good, lay.key)
    if best is None:
        raise PlacementError("the cluster has no layout to search")
    return best
