"""AlpaServe's published placement policy, written from the paper's description.

Algorithm 2 of the paper enumerates model buckets, device splits between buckets, group
partitions (equal power-of-two groups) and the pipeline × tensor configs of the groups;
for each candidate it runs Algorithm 1, the simulator-guided greedy with beam width 1:
at every step, simulate *every* feasible (model, group) addition and keep the one with the
highest goodput, until nothing fits; the best assignment seen wins.

It shares our layouts, bucketing and evaluator, so the comparison isolates the replica
assignment algorithm. Its cost is (steps × models × groups) simulations per layout.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from placement.alpaserve_search import (
    BucketResult,
    LogEntry,
    SearchOptions,
    SearchOutcome,
    bucketed_search,
)
from placement.buckets import Layout, layouts
from placement.evaluator import Evaluator, EvalWorkload
from placement.greedy import GreedyResult, _add_moves
from placement.problem import Problem, subset_workload
from placement.space import Assignment
from placement.task_pool import map_tasks


def full_greedy(ev: Evaluator, start: Assignment, *, max_steps: int | None = None
                ) -> GreedyResult:
    """AlpaServe's Algorithm 1 (beam 1): add the best of *all* feasible replicas each step.

    It keeps adding until nothing fits and returns the best assignment it passed through.

    Parameters
    ----------
    ev : Evaluator
        Scores assignments.
    start : Assignment
        The starting point; not modified.
    max_steps : int, optional
        Most additions; default until nothing fits.

    Returns
    -------
    GreedyResult
        The best assignment passed through.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> from placement.selective_replication import sr_space
    >>> p = tiny_problem(num_models=2, num_devices=2)
    >>> sp = sr_space(p)
    >>> res = full_greedy(Evaluator(p.train, group_stages=sp.group_stages), sp.empty())
    >>> 0 < res.good <= p.train.num_requests
    True
    """
    state = start.copy()
    evals0 = ev.num_evaluations
    best_state, best_good = state.copy(), ev.evaluate(state.arrays(), trace=False).good
    steps = 0
    limit = math.inf if max_steps is None else max_steps
    if best_good >= ev.prepared.num_requests:
        limit = 0
    while steps < limit:
        fit = state.fit_matrix()
        gs, ms = np.nonzero(fit)
        if gs.size == 0:
            break
        order = np.lexsort((gs, ms))  # model-major: (model, group) order
        gs, ms = gs[order], ms[order]
        goods = ev.evaluate_move_arrays(state.arrays(),
                                        *_add_moves(state.space, gs, ms, ev.max_stages))
        i = int(np.argmax(goods))
        state.add(int(gs[i]), int(ms[i]))
        steps += 1
        if goods[i] > best_good:
            best_state, best_good = state.copy(), int(goods[i])
        if best_good >= ev.prepared.num_requests:
            break  # exact shortcut: no later state can score higher
    return GreedyResult(assignment=best_state, good=best_good, steps=steps,
                        evaluations=ev.num_evaluations - evals0)


def _run_full(task: tuple[Layout, Problem, Sequence[int], EvalWorkload]
              ) -> tuple[Assignment | None, int, int, float]:
    layout, problem, model_idx, work = task
    t0 = time.perf_counter()
    groups = layout.groups()
    if not problem.can_host(groups, model_idx):  # no replica fits: no space to build
        return None, 0, 0, time.perf_counter() - t0
    space = problem.search_space(groups, model_idx)
    ev = Evaluator(work, group_stages=space.group_stages, options=problem.options)
    res = full_greedy(ev, space.empty())
    return res.assignment, res.good, res.evaluations, time.perf_counter() - t0


def solve_bucket_published(problem: Problem, model_idx: Sequence[int],
                           device_ids: Sequence[int], opts: SearchOptions,
                           label: str) -> BucketResult:
    """Algorithm 1 (:func:`full_greedy`) on every layout of one bucket.

    Parameters
    ----------
    problem : Problem
        The placement problem.
    model_idx : Sequence[int]
        The bucket's models (indices into ``problem.models``).
    device_ids : Sequence[int]
        The bucket's devices.
    opts : SearchOptions
        Only ``max_group_size``, ``n_jobs`` and ``progress`` are read.
    label : str
        The bucket's name in the log.

    Returns
    -------
    BucketResult
        The layout with the most good training requests (ties: the first); no
        assignment when no layout can host a model.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> p = tiny_problem(num_models=2, num_devices=2)
    >>> res = solve_bucket_published(p, [0, 1], [0, 1], SearchOptions(), "all")
    >>> {e.phase for e in res.log}, 0 < res.good <= p.train.num_requests
    ({'published-greedy'}, True)
    """
    work = subset_workload(problem.train, model_idx)
    max_size = opts.max_group_size or min(len(device_ids), 4 * problem.cluster.devices_per_node)
    lays = layouts(problem.cluster, device_ids, max_size)
    # each step scores every (model, group) addition in one compiled call: for the thread
    # rule its work counts as that many passes over the requests
    results = map_tasks(_run_full, [(lay, problem, list(model_idx), work) for lay in lays],
                        opts, f"published {label}",
                        requests=work.num_requests * len(model_idx))
    log, best_good, best = [], -1, None
    for lay, (assign, good, evals, secs) in zip(lays, results, strict=True):
        if assign is None:
            continue
        log.append(LogEntry(bucket=label, devices=len(device_ids), layout=lay.key,
                            phase="published-greedy", good=good, requests=work.num_requests,
                            evaluations=evals, seconds=secs))
        if good > best_good:
            best_good, best = good, assign
    return BucketResult(good=max(best_good, 0), assignment=best, log=log)


def published_alpaserve(problem: Problem, options: SearchOptions | None = None
                        ) -> SearchOutcome:
    """AlpaServe's published policy (Algorithms 1 and 2, beam width 1).

    Parameters
    ----------
    problem : Problem
        Models, cluster, profiles, SLOs and the training workload.
    options : SearchOptions, optional
        Layout limits, bucketing and parallelism; default ``SearchOptions()``.

    Returns
    -------
    SearchOutcome
        The best placement, its training score and the log.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> out = published_alpaserve(tiny_problem(num_models=2, num_devices=2))
    >>> 0 < out.good <= out.requests
    True
    """
    return bucketed_search(problem, options or SearchOptions(), solve_bucket_published)
