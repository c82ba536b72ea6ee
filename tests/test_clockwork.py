"""Clockwork++: one SR placement per window; swaps pay the load time."""

from __future__ import annotations

import math

import pytest

from alpaserve.errors import PlacementError
from placement._examples import tiny_problem
from placement.clockwork import (
    ClockworkOptions,
    clockwork_pp,
    schedule_replicas,
    time_slice,
    window_starts,
)


def test_windows_and_slices():
    p = tiny_problem(duration=30.0)
    assert window_starts(0.0, 25.0, 10.0) == [0.0, 10.0, 20.0]
    part = time_slice(p.train, 10.0, 20.0)
    assert ((part.arrival >= 10.0) & (part.arrival < 20.0)).all()
    assert part.counts.sum() == part.num_requests


def test_new_replicas_wait_for_their_weights():
    p = tiny_problem(seed=4, cv=4.0, duration=30.0)
    out = clockwork_pp(p, window=10.0)
    bw = p.cluster.host_to_device_bandwidth
    reps = schedule_replicas(out.space, out.starts, out.assignments, bw)
    for r in reps:
        if r.ready_at > -math.inf:
            assert r.ready_at == pytest.approx(r.active_from + p.models[r.model].weight_bytes
                                               / bw, rel=1e-6)
        if r.active_from == -math.inf:
            assert r.ready_at == -math.inf  # the first window is loaded before serving


def test_errors():
    with pytest.raises(PlacementError, match="window must be positive"):
        ClockworkOptions(window=0.0)


def test_load_delays_use_profile_weights():
    import dataclasses

    from tests._fixtures_profiles import scaled_weights

    base = tiny_problem(seed=4, cv=4.0, duration=30.0)
    p = dataclasses.replace(base, profiles=scaled_weights(base.profiles, 0.9))
    out = clockwork_pp(p, window=10.0)
    bw = p.cluster.host_to_device_bandwidth
    reps = schedule_replicas(out.space, out.starts, out.assignments, bw)
    delayed = [r for r in reps if r.ready_at > -math.inf]
    assert delayed
    for r in delayed:
        assert r.ready_at == pytest.approx(
            r.active_from + int(p.models[r.model].weight_bytes * 0.9) / bw, rel=1e-6)
