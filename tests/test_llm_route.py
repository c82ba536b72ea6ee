"""The compiled smooth weighted round robin picks exactly what the written rule picks."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.llm.engine.route import smooth_round_robin


def rule_as_written(weights: list[float], count: int) -> list[int]:
    credit = [0.0] * len(weights)
    total = float(sum(weights))
    picks = []
    for _ in range(count):
        best = 0
        for k, w in enumerate(weights):
            credit[k] += w
            if credit[k] > credit[best]:
                best = k
        credit[best] -= total
        picks.append(best)
    return picks


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.001, max_value=10.0), min_size=1, max_size=6),
       st.integers(min_value=0, max_value=200))
def test_compiled_routing_matches_the_rule(weights: list[float], count: int) -> None:
    got = smooth_round_robin(np.array(weights, dtype=np.float64), count)
    assert got.tolist() == rule_as_written(weights, count)


def test_picks_follow_the_weights_over_a_cycle() -> None:
    picks = smooth_round_robin(np.array([3.0, 1.0, 2.0]), 600)
    assert np.bincount(picks).tolist() == [300, 100, 200]
