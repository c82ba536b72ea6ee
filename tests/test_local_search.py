"""Local search never lowers the score, keeps memory within the devices and is deterministic."""

from __future__ import annotations

import pytest

import placement.greedy
from placement._examples import tiny_problem
from placement.buckets import layouts
from placement.evaluator import Evaluator
from placement.greedy import GreedyOptions
from placement.local_search import local_search
from placement.space import SearchSpace


def test_improves_and_is_deterministic():
    p = tiny_problem(num_models=3, seed=7, cv=4.0, slo=0.2, rate=15.0)
    lay = layouts(p.cluster, range(p.cluster.num_devices))[0]
    space = SearchSpace.build(cluster=p.cluster, models=p.models, groups=lay.groups(),
                              profiles=p.profiles)
    start = space.empty()
    start.add(0, 0)
    runs = []
    for _ in range(2):
        ev = Evaluator(p.train, group_stages=space.group_stages)
        base = ev.evaluate(start.arrays()).good
        res = local_search(ev, start, options=GreedyOptions(local_rounds=10))
        assert res.good >= base
        assert res.good == ev.evaluate(res.assignment.arrays()).good
        assert (res.assignment.used <= space.capacity).all()
        runs.append(res.assignment.hosts.tolist())
    assert runs[0] == runs[1]
    assert start.num_replicas == 1  # the start is not modified


def test_old_import_path():
    assert placement.greedy.local_search is local_search
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = placement.greedy.nope


def test_start_outcome_spares_a_simulation_and_changes_nothing():
    from placement.greedy import construct, fill_free_memory

    p = tiny_problem(num_models=4, num_devices=4, seed=2, cv=4.0, slo=0.2)
    space = p.search_space(layouts(p.cluster, range(4))[0].groups())
    results = []
    for reuse in (False, True):
        ev = Evaluator(p.train, group_stages=space.group_stages)
        opts = GreedyOptions(top_models=3, top_groups=2, local_rounds=10)
        # the Python paths hand traces on (the compiled ones keep counts instead)
        built = construct(ev, space.empty(), options=opts, compiled=False)
        res = local_search(ev, built.assignment, options=opts,
                           start_outcome=built.outcome if reuse else None, compiled=False)
        filled = fill_free_memory(ev, res.assignment, batch=2,
                                  start_outcome=res.outcome if reuse else None,
                                  compiled=False)
        assert res.outcome is not None
        assert res.outcome.good == res.good
        results.append((res.good, filled.good, filled.assignment.hosts.tolist(),
                        res.evaluations + filled.evaluations))
    assert results[0][:3] == results[1][:3]
    assert results[1][3] <= results[0][3] - 1  # the fill did not simulate its start again
