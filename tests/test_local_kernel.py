"""The compiled local search and memory filling equal their Python loops."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from placement.greedy import GreedyOptions, construct
from placement.local_search import fill_free_memory, local_search
from tests._fixtures_greedy import random_case as _case


def _start(seed: int, fraction: float):
    ev, space, _ = _case(seed)
    rng = np.random.default_rng(seed + 1)
    begin = space.empty()
    for g in range(space.num_groups):
        for m in rng.permutation(space.num_models).tolist():
            if rng.random() < fraction and begin.fits(g, m):
                begin.add(g, m)
    return ev, space, begin


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10**6), fraction=st.floats(0.0, 1.0),
       rounds=st.integers(1, 6), top_models=st.integers(1, 4), top_groups=st.integers(1, 3),
       swaps=st.integers(1, 3), moves=st.integers(1, 8), apply=st.integers(1, 4))
def test_compiled_local_search_equals_python(seed, fraction, rounds, top_models, top_groups,
                                             swaps, moves, apply):
    ev, _, begin = _start(seed, fraction)
    opts = GreedyOptions(local_rounds=rounds, moves_per_round=moves, apply_per_round=apply)
    kw = {"options": opts, "top_models": top_models, "top_groups": top_groups,
          "swaps_per_group": swaps}
    fast = local_search(ev, begin, compiled=True, **kw)
    slow = local_search(ev, begin, compiled=False, **kw)
    np.testing.assert_array_equal(fast.assignment.hosts, slow.assignment.hosts)
    assert (fast.good, fast.steps, fast.evaluations) == (slow.good, slow.steps,
                                                         slow.evaluations)


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10**6), fraction=st.floats(0.0, 0.6), batch=st.integers(1, 4),
       known=st.booleans())
def test_compiled_fill_equals_python(seed, fraction, batch, known):
    ev, _, begin = _start(seed, fraction)
    good = ev.evaluate(begin.arrays()).good if known else None
    fast = fill_free_memory(ev, begin, batch=batch, start_good=good, compiled=True)
    slow = fill_free_memory(ev, begin, batch=batch, compiled=False)
    np.testing.assert_array_equal(fast.assignment.hosts, slow.assignment.hosts)
    np.testing.assert_array_equal(fast.assignment.used, slow.assignment.used)
    assert (fast.good, fast.steps) == (slow.good, slow.steps)
    # a rejected step's state is not simulated again, nor a known start
    assert fast.evaluations <= slow.evaluations - (1 if known else 0)


def test_local_search_moves_happen():
    """Over fixed seeds the local search applies swaps and several moves a round."""
    improved = 0
    for seed in range(60):
        ev, _, begin = _start(seed, 0.5)
        built = construct(ev, begin, options=GreedyOptions(batch=2))
        opts = GreedyOptions(local_rounds=10)
        fast = local_search(ev, built.assignment, options=opts, compiled=True)
        slow = local_search(ev, built.assignment, options=opts, compiled=False)
        np.testing.assert_array_equal(fast.assignment.hosts, slow.assignment.hosts)
        assert fast.good == slow.good
        improved += fast.good > built.good
    assert improved >= 5
