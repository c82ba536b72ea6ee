"""Selective replication (SR): single-device groups filled by a simulator-guided greedy.

Each step simulates the current placement, takes the model with the most unmet requests
(not served within the SLO) and adds its replica to the least-loaded device that still has
room. An addition that does not raise the number of good requests is undone and that model
is set aside. The loop stops when nothing fits or no model is left to try. Memory still free
then is filled as the AlpaServe search fills it (:func:`~placement.greedy.fill_free_memory`):
a greedy that already serves every *training* request would otherwise leave devices idle and
overfit the training sample, which would make the baseline look worse than it is.
"""

from __future__ import annotations

import time

from placement.alpaserve_search import LogEntry
from placement.evaluator import Evaluator, EvalWorkload
from placement.greedy import GreedyResult, construct
from placement.local_search import fill_free_memory
from placement.partitions import GroupShape
from placement.problem import Problem
from placement.space import SearchSpace

SINGLE = GroupShape(pipeline=1, tensor=1)


def sr_space(problem: Problem) -> SearchSpace:
    """One group per device, every model with its single-device config.

    Parameters
    ----------
    problem : Problem
        The placement problem.

    Returns
    -------
    SearchSpace
        ``num_devices`` single-device groups.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> sr_space(tiny_problem(num_devices=2)).group_stages
    [1, 1]
    """
    groups = [((d,), SINGLE) for d in range(problem.cluster.num_devices)]
    return problem.search_space(groups)


def selective_replication(problem: Problem, *, work: EvalWorkload | None = None,
                          space: SearchSpace | None = None
                          ) -> tuple[GreedyResult, SearchSpace, LogEntry]:
    """Run SR on ``work`` (default: the problem's training workload).

    Parameters
    ----------
    problem : Problem
        The placement problem.
    work : EvalWorkload, optional
        The traffic to solve on; default ``problem.train``.
    space : SearchSpace, optional
        The groups; default :func:`sr_space` of ``problem``.

    Returns
    -------
    result : GreedyResult
        The assignment after construction and filling, its good requests and the steps
        and simulations of both.
    space : SearchSpace
        The groups used.
    entry : LogEntry
        The run as one log entry (phase ``"sr"``).

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> res, space, entry = selective_replication(tiny_problem())
    >>> entry.phase, res.assignment.num_replicas > 0
    ('sr', True)
    """
    t0 = time.perf_counter()
    sp = space or sr_space(problem)
    w = work or problem.train
    ev = Evaluator(w, group_stages=sp.group_stages, options=problem.options)
    built = construct(ev, sp.empty(), stop_without_gain=True)
    filled = fill_free_memory(ev, built.assignment)
    res = GreedyResult(assignment=filled.assignment, good=filled.good,
                       steps=built.steps + filled.steps,
                       evaluations=built.evaluations + filled.evaluations)
    entry = LogEntry(bucket="all", devices=problem.cluster.num_devices,
                     layout=f"{sp.num_groups}x1 pp1-tp1", phase="sr", good=res.good,
                     requests=w.num_requests, evaluations=res.evaluations,
                     seconds=time.perf_counter() - t0)
    return res, sp, entry
