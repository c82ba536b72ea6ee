"""The greedy routines are near the exhaustive optimum on tiny cases, and deterministic."""

from __future__ import annotations

import pytest

from placement._examples import tiny_problem
from placement.buckets import layouts
from placement.evaluator import Evaluator
from placement.exact import exact_assignment
from placement.greedy import GreedyOptions, construct, fill_free_memory, full_greedy, local_search
from placement.space import SearchSpace


def _space(p, index):
    lay = layouts(p.cluster, range(p.cluster.num_devices))[index]
    return SearchSpace.build(cluster=p.cluster, models=p.models, groups=lay.groups(),
                             profiles=p.profiles)


@pytest.mark.parametrize(("seed", "cv", "slo", "layout"),
                         [(0, 4.0, 0.15, 0), (1, 4.0, 0.4, 1), (2, 1.0, 0.25, 0),
                          (3, 6.0, 0.2, 2)])
def test_near_exact_optimum(seed, cv, slo, layout):
    p = tiny_problem(seed=seed, cv=cv, slo=slo, rate=15.0)
    space = _space(p, layout)
    ev = Evaluator(p.train, group_stages=space.group_stages)
    _, best = exact_assignment(space, ev)
    opts = GreedyOptions(top_models=3, top_groups=3, local_rounds=20)
    built = construct(ev, space.empty(), options=opts)
    improved = local_search(ev, built.assignment, options=opts)
    published = full_greedy(ev, space.empty())
    n = p.train.num_requests
    assert improved.good >= built.good
    assert improved.good >= best - 0.02 * n  # within 2 points of the optimum
    assert published.good >= best - 0.05 * n
    assert improved.good <= best
    assert published.good <= best


def test_deterministic_and_memory_safe():
    p = tiny_problem(num_models=3, seed=5, cv=4.0, slo=0.2)
    space = _space(p, 0)
    runs = []
    for _ in range(2):
        ev = Evaluator(p.train, group_stages=space.group_stages)
        res = construct(ev, space.empty(), options=GreedyOptions(batch=2))
        filled = fill_free_memory(ev, res.assignment, batch=2)
        runs.append(filled.assignment.hosts.tolist())
        assert filled.good >= res.good
        assert (filled.assignment.used <= space.capacity).all()
        filled.assignment.to_placement()  # validates memory again
    assert runs[0] == runs[1]
