"""Our search beats SR where multiplexing matters, loses nothing where it does not, and
matches the published policy."""

from __future__ import annotations

import pytest

from alpaserve.errors import SpecError
from placement._examples import tiny_problem
from placement.alpaserve_search import SearchOptions, alpaserve_search
from placement.exact import exact_search
from placement.published import published_alpaserve
from placement.selective_replication import selective_replication


@pytest.mark.parametrize("seed", [0, 1])
def test_beats_sr_at_high_cv_and_tight_slo(seed):
    p = tiny_problem(seed=seed, cv=4.0, slo=0.15, rate=15.0)
    ours = alpaserve_search(p)
    sr = selective_replication(p)[0]
    n = p.train.num_requests
    assert ours.good >= sr.good + 0.1 * n  # a wide margin: 10+ points of attainment
    assert ours.good == exact_search(p)[1]


def test_loses_nothing_where_replication_is_enough():
    p = tiny_problem(seed=2, cv=1.0, slo=0.4, rate=10.0)
    ours = alpaserve_search(p)
    sr = selective_replication(p)[0]
    assert sr.good == p.train.num_requests
    assert ours.good == sr.good


def test_matches_published_policy_and_is_deterministic():
    p = tiny_problem(seed=3, cv=4.0, slo=0.3, rate=15.0, num_models=4)
    a = alpaserve_search(p, SearchOptions(refine_top=2))
    b = alpaserve_search(p, SearchOptions(refine_top=2))
    pub = published_alpaserve(p)
    assert a.good >= pub.good
    assert a.placement == b.placement
    assert {e.phase for e in a.log} >= {"screen", "lookahead"}


def test_processes_give_the_same_plan():
    p = tiny_problem(seed=4, cv=4.0, slo=0.2, rate=12.0)
    one = alpaserve_search(p, SearchOptions(n_jobs=1))
    two = alpaserve_search(p, SearchOptions(n_jobs=2))
    assert one.placement == two.placement
    assert one.good == two.good


def test_threads_do_not_change_the_plan():
    p = tiny_problem(num_models=4, num_devices=4, seed=3, cv=4.0)
    one = alpaserve_search(p, SearchOptions(threads=1))
    two = alpaserve_search(p, SearchOptions(threads=3))
    four = alpaserve_search(p, SearchOptions(threads=4))  # 2 refinements split their batches
    assert one.good == two.good == four.good
    assert one.placement == two.placement == four.placement
    with pytest.raises(SpecError, match="threads must be an integer >= 0"):
        SearchOptions(threads=-1)


def test_automatic_threads_give_the_plan_of_one_thread(monkeypatch):
    from placement import task_pool as search

    p = tiny_problem(num_models=4, num_devices=4, seed=6, cv=4.0, slo=0.2)
    one = alpaserve_search(p, SearchOptions(threads=1))
    used = []
    real = search.search_threads

    def spy(opts, tasks, requests):
        used.append(real(opts, tasks, requests))
        return used[-1]

    monkeypatch.setattr(search, "MIN_THREADED_REQUESTS", 0)  # a tiny search threads too
    monkeypatch.setattr(search.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(search, "search_threads", spy)
    auto = alpaserve_search(p, SearchOptions())
    assert max(used) == 2
    assert auto.placement == one.placement
    assert [(e.layout, e.phase, e.good, e.evaluations) for e in auto.log] == \
        [(e.layout, e.phase, e.good, e.evaluations) for e in one.log]


def test_refine_gap_skips_layouts_screened_far_below_the_best():
    p = tiny_problem(num_models=4, num_devices=4, seed=3, cv=4.0, slo=0.2, rate=15.0)
    n = p.train.num_requests

    def refined(gap):
        out = alpaserve_search(p, SearchOptions(refine_top=3, refine_gap=gap, bucketing=False))
        screened = {e.layout: e.good for e in out.log if e.phase == "screen"}
        return out, screened, {e.layout for e in out.log if e.phase != "screen"}

    full, screened, all_refined = refined(None)
    best = max(screened.values())
    assert len(all_refined) == 3
    for gap in (0.0, 0.02, 1.0):
        cut, _, kept = refined(gap)
        assert kept == {lay for lay in all_refined if screened[lay] >= best - gap * n}
        assert cut.good <= full.good  # it only ever refines fewer layouts
    assert refined(0.0)[2] < all_refined  # this case has layouts screened below the best
    for bad in (-0.1, 1.5, True):
        with pytest.raises(SpecError, match="refine_gap must be None or in"):
            SearchOptions(refine_gap=bad)
