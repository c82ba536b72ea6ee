"""Exhaustive search: optimal by construction, and refuses searches that are too big."""

from __future__ import annotations

import pytest

from alpaserve.errors import PlacementError
from placement._examples import tiny_problem
from placement.evaluator import Evaluator
from placement.exact import exact_assignment, exact_search, feasible_subsets
from placement.selective_replication import sr_space


def test_subsets_fit_memory():
    p = tiny_problem(num_models=3, num_devices=2, memory_models=2.5)
    space = sr_space(p)
    subs = feasible_subsets(space, 0)
    assert () in subs
    assert (0, 1) in subs
    assert (0, 1, 2) not in subs


def test_exact_beats_every_single_assignment():
    p = tiny_problem(num_models=2, num_devices=2, cv=4.0, slo=0.2)
    _assign, good, key = exact_search(p)
    assert 0 < good <= p.train.num_requests
    assert key
    space = sr_space(p)
    ev = Evaluator(p.train, group_stages=space.group_stages)
    for sub0 in feasible_subsets(space, 0):
        a = space.empty()
        for m in sub0:
            a.add(0, m)
        assert ev.evaluate(a.arrays()).good <= good


def test_too_many_combinations():
    p = tiny_problem(num_models=3, num_devices=4)
    space = sr_space(p)
    with pytest.raises(PlacementError, match="max_combinations=10"):
        exact_assignment(space, Evaluator(p.train, group_stages=space.group_stages),
                         max_combinations=10)
