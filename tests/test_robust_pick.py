"""Tie-breaking among equally good plans: the stressed workload and the pick."""

from __future__ import annotations

import numpy as np

from placement._examples import tiny_problem
from placement.evaluator import Evaluator
from placement.robust_pick import pick_robust, stressed
from placement.selective_replication import sr_space


def test_stressed_keeps_each_requests_time_to_deadline() -> None:
    p = tiny_problem(num_models=2, num_devices=2)
    s = stressed(p.train, 2.0)
    np.testing.assert_allclose(s.arrival, p.train.arrival / 2.0)
    np.testing.assert_allclose(s.deadline - s.arrival, p.train.deadline - p.train.arrival)


def test_a_tie_goes_to_the_plan_that_holds_up_under_load() -> None:
    p = tiny_problem(num_models=2, num_devices=2, seed=3)
    space = sr_space(p)
    thin = space.empty()
    thin.add(0, 0)
    full = thin.copy()
    for g in range(space.num_groups):
        for m in range(space.num_models):
            if not full.hosts[g, m] and full.fits(g, m):
                full.add(g, m)
    hard = stressed(p.train)

    def under_load(a):
        return Evaluator(hard, group_stages=space.group_stages,
                         options=p.options).evaluate(a.arrays(), trace=False).good

    good, chosen = pick_robust([(7, thin), (7, full)], p.train, p)
    assert good == 7
    assert chosen is (full if under_load(full) > under_load(thin) else thin)
