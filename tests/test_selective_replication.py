"""Selective replication: single-device groups, never over memory, deterministic."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from placement._examples import tiny_problem
from placement.selective_replication import selective_replication


@settings(max_examples=10)
@given(seed=st.integers(0, 1000), models=st.integers(1, 5), memory=st.sampled_from([1.2, 2.5,
                                                                                     3.7]))
def test_never_exceeds_memory(seed, models, memory):
    p = tiny_problem(num_models=models, seed=seed, memory_models=memory, duration=10.0)
    res, space, entry = selective_replication(p)
    assert (res.assignment.used <= space.capacity).all()
    placement = res.assignment.to_placement()  # Placement re-validates memory
    assert all(g.num_devices == 1 for g in placement.groups)
    assert entry.good == res.good <= p.train.num_requests


def test_deterministic():
    p = tiny_problem(seed=3, cv=4.0)
    a = selective_replication(p)[0].assignment.hosts
    b = selective_replication(p)[0].assignment.hosts
    assert (a == b).all()
