"""Re-simulating a change's component alone equals a full run, per model and in total."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from placement._component_kernel import connect, run_component
from placement._greedy_kernel import _simulate
from tests._fixtures_greedy import random_case


def _buffers(ev, space):
    n_grp, n_m = space.num_groups, space.num_models
    cap = n_grp * n_m + 1
    return (np.zeros(n_m + 1, dtype=np.int64), np.zeros(cap, dtype=np.int64),
            np.zeros((cap, ev.max_stages)), np.empty((n_grp, ev.max_stages)),
            np.zeros(n_m, dtype=np.int64), np.zeros(cap, dtype=np.int64))


def _full(ev, space, hosts):
    ptr, rgroup, rlat, free, good_pm, rep_good = _buffers(ev, space)
    p = ev.prepared
    good = _simulate(p.arrival, p.code, p.deadline, ev.group_stages, ev.mode,
                     ev.options.admission, space.group_latency, hosts, ptr, rgroup, rlat, free,
                     good_pm, rep_good)
    return good, good_pm


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 10**6), picks=st.lists(st.integers(0, 10**6), min_size=1,
                                                  max_size=3),
       beat_shift=st.integers(-3, 3), swap=st.booleans())
def test_component_run_equals_a_full_run(seed, picks, beat_shift, swap):
    """Added replicas (and, for a swap, one dropped from a changed group: its component is
    taken with the dropped replica still there)."""
    ev, space, start = random_case(seed)
    base = start.copy()
    after = start.copy()
    seeds = np.zeros(space.num_groups, dtype=bool)
    for k in picks:  # add replicas (or none, if hosted already) on a few groups
        g, m = k % space.num_groups, (k // space.num_groups) % space.num_models
        after[g, m] = True
        seeds[g] = True
    union = after.copy()
    if swap:  # drop the first other replica of the last changed group
        others = np.flatnonzero(base[g] & (np.arange(space.num_models) != m))
        if others.size:
            after[g, others[0]] = False
    base_good, base_pm = _full(ev, space, base)
    want, want_pm = _full(ev, space, after)
    in_grp, in_mod = seeds.copy(), np.zeros(space.num_models, dtype=bool)
    connect(union, in_grp, in_mod)
    # the component is closed: no replica joins it to a group or model outside
    assert not union[np.ix_(in_grp, ~in_mod)].any()
    assert not union[np.ix_(~in_grp, in_mod)].any()
    p = ev.prepared
    ptr, rgroup, rlat, free, good_pm, rep_good = _buffers(ev, space)

    def run(beat):
        return run_component(p.arrival, p.code, p.deadline, ev.group_stages, ev.mode,
                             ev.options.admission, space.group_latency, after, in_mod,
                             p.counts, base_good, base_pm, ptr, rgroup, rlat, free, good_pm,
                             rep_good, beat)

    assert run(-1) == want
    np.testing.assert_array_equal(good_pm, want_pm)
    beat = max(0, want + beat_shift)  # a run stops exactly when it cannot beat ``beat``
    got = run(beat)
    assert got == (want if want > beat else -1)
    if got >= 0:
        np.testing.assert_array_equal(good_pm, want_pm)
