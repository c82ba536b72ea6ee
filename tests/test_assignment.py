"""Assignments keep their fit matrix row by row and copy without sharing state."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from placement._examples import tiny_problem
from placement.buckets import layouts
from placement.space import Assignment

PROBLEM = tiny_problem(num_models=4, num_devices=4, memory_models=2.5)
SPACES = [PROBLEM.search_space(lay.groups()) for lay in
          layouts(PROBLEM.cluster, range(PROBLEM.cluster.num_devices))]


def _fresh_fit(a: Assignment) -> np.ndarray:
    sp = a.space
    room = sp.capacity - a.used
    mem = sp.memory[sp.group_shape]
    return sp.replica_mask() & ~a.hosts & (mem <= room[:, None, :]).all(axis=2)


@settings(max_examples=30, deadline=None)
@given(layout=st.integers(0, len(SPACES) - 1),
       steps=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 3)), max_size=12))
def test_kept_fit_matrix_equals_a_fresh_one(layout, steps):
    a = SPACES[layout].empty()
    for g, m in steps:
        g %= a.space.num_groups
        assert np.array_equal(a.fit_matrix(), _fresh_fit(a))
        if a.hosts[g, m]:
            a.remove(g, m)
        elif a.fits(g, m):
            a.add(g, m)
    assert np.array_equal(a.fit_matrix(), _fresh_fit(a))
    rebuilt = Assignment(a.space, a.hosts)
    assert np.array_equal(rebuilt.used, a.used)
    assert np.array_equal(rebuilt.fit_matrix(), a.fit_matrix())


def test_copies_are_independent_and_results_writable():
    a = SPACES[0].empty()
    a.fit_matrix()
    b = a.copy()
    b.add(0, 0)
    assert not a.hosts[0, 0]
    assert b.hosts[0, 0]
    assert a.fit_matrix()[0, 0]
    assert not b.fit_matrix()[0, 0]
    fit = a.fit_matrix()
    fit[:] = False  # the caller's copy: the kept matrix is untouched
    assert a.fit_matrix()[0, 0]
    assert not a.space.group_memory.flags.writeable  # shared by every assignment


def test_arrays_follow_the_space_latencies():
    sp = SPACES[1]
    a = sp.empty()
    a.add(1, 2)
    a.add(0, 2)
    a.add(0, 1)
    ra = a.arrays()
    assert ra.model.tolist() == [1, 2, 2]
    assert ra.group.tolist() == [0, 0, 1]
    assert ra.ptr.tolist() == [0, 0, 1, 3, 3]
    for i in range(ra.size):
        s = sp.group_shape[ra.group[i]]
        assert ra.latencies[i].tolist() == sp.latency[s, ra.model[i]].tolist()
