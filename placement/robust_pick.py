"""Choosing among equally good plans: the one that holds up best under more load.

:func:`pick_robust` breaks ties between finalists with the same good training requests by
scoring them on :func:`stressed`, the same requests arriving 1.5 times faster.
"""

from __future__ import annotations

import numpy as np

from placement.evaluator import Evaluator, EvalWorkload
from placement.problem import Problem
from placement.space import Assignment

__all__ = ["pick_robust", "stressed"]


def stressed(work: EvalWorkload, factor: float = 1.5) -> EvalWorkload:
    """The same requests arriving ``factor`` times faster (same SLOs).

    Parameters
    ----------
    work : EvalWorkload
        The workload.
    factor : float, default 1.5
        Rate multiplier (> 0); arrival times are divided by it.

    Returns
    -------
    EvalWorkload
        Arrivals and deadlines moved; each request keeps its time to deadline.

    Examples
    --------
    >>> from placement.evaluator import prepare_workload
    >>> from workloads.workload import Workload
    >>> w = prepare_workload(Workload.from_arrays(arrival=[0.0, 3.0], model="a"), ["a"],
    ...                      slo=1.0)
    >>> s = stressed(w, 3.0)
    >>> s.arrival.tolist(), s.deadline.tolist()
    ([0.0, 1.0], [1.0, 2.0])
    """
    arrival = work.arrival / factor
    return EvalWorkload(model_names=work.model_names, arrival=arrival, code=work.code,
                            slo=work.slo, deadline=arrival + (work.deadline - work.arrival),
                            counts=work.counts)


def pick_robust(finalists: list[tuple[int, Assignment]], work: EvalWorkload,
                problem: Problem) -> tuple[int, Assignment]:
    """The most good requests; ties go to the plan that does best under 1.5x the load.

    Parameters
    ----------
    finalists : list of (int, Assignment)
        Good training requests and the plan, per candidate (at least one).
    work : EvalWorkload
        The training workload the counts were taken on.
    problem : Problem
        The placement problem (its ``options`` score the tie-break).

    Returns
    -------
    tuple of (int, Assignment)
        The top count and the chosen plan; among equals, the first of the best under
        :func:`stressed` load.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> from placement.selective_replication import sr_space
    >>> p = tiny_problem(num_models=2, num_devices=2)
    >>> plan_a = sr_space(p).empty()
    >>> good, chosen = pick_robust([(5, plan_a), (3, plan_a.copy())], p.train, p)
    >>> good, chosen is plan_a
    (5, True)
    """
    top = max(g for g, _ in finalists)
    tied = [a for g, a in finalists if g == top]
    if len(tied) == 1:
        return top, tied[0]
    hard = stressed(work)
    scores = [Evaluator(hard, group_stages=a.space.group_stages,
                        options=problem.options).evaluate(a.arrays(), trace=False).good
              for a in tied]
    return top, tied[int(np.argmax(scores))]
