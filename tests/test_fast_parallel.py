"""Time-parallel runs: spans on threads, repaired to the exact one-thread result."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.errors import SimulationError
from simulator import SimulationOptions, attainment, prepare, simulate
from simulator.engine import parallel as fast_parallel
from simulator.engine.parallel import run_time_parallel, span_bounds
from tests._fixtures_simulator import build_placement, build_profiles, random_scenario
from workloads.workload import Workload

OUTCOMES = ("status", "group", "start", "finish", "batch_size")


def test_span_bounds_cover_the_requests() -> None:
    assert span_bounds(10, 3, min_span=2) == [0, 3, 6, 10]
    assert span_bounds(10, 8, min_span=4) == [0, 5, 10]  # spans stay >= min_span
    assert span_bounds(0, 4, min_span=4) == [0, 0]


def test_stride_must_be_a_power_of_two() -> None:
    with pytest.raises(SimulationError, match="power of two, got 3"):
        run_time_parallel([0, 4, 8], (1, 1), lambda *args: 0, stride=3)


def small_spans(mp: pytest.MonkeyPatch, stride: int) -> None:
    """Let hypothesis-sized workloads take the time-parallel path, checkpoints dense."""
    mp.setattr(fast_parallel, "MIN_SPAN_REQUESTS", 8)
    mp.setattr(fast_parallel, "CHECKPOINT_STRIDE", stride)


@settings(max_examples=120, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([0.3, 1.0, 4.0, 10.0]),
       st.sampled_from([0.5, 1.5, 4.0]), st.booleans(), st.booleans(), st.booleans(),
       st.sampled_from([0.0, 0.004]), st.sampled_from([2, 3, 5]), st.sampled_from([1, 4, 32]))
def test_threads_give_the_one_thread_result(seed: int, cv: float, slo_scale: float,
                                            admission: bool, grid: bool, per_request: bool,
                                            overhead: float, threads: int,
                                            stride: int) -> None:
    sc = random_scenario(seed, n=400, cv=cv, slo_scale=slo_scale, grid=grid,
                         per_request_slo=per_request)
    one = SimulationOptions(admission=admission, request_overhead=overhead, threads=1)
    prepared = prepare(sc.workload, sc.slo)
    base = simulate(sc.placement, sc.profiles, sc.workload, one, slo=sc.slo)
    base_counts = attainment(prepared, sc.placement, sc.profiles, one)
    windowed = one.with_(warmup=0.1 * sc.workload.duration)
    base_window = attainment(prepared, sc.placement, sc.profiles, windowed)
    with pytest.MonkeyPatch.context() as mp:
        small_spans(mp, stride)
        par = simulate(sc.placement, sc.profiles, sc.workload, one.with_(threads=threads),
                       slo=sc.slo)
        counts = attainment(prepared, sc.placement, sc.profiles, one.with_(threads=threads))
        window = attainment(prepared, sc.placement, sc.profiles,
                            windowed.with_(threads=threads))
    for name in OUTCOMES:
        np.testing.assert_array_equal(getattr(par, name), getattr(base, name))
    assert (par.latency_mean, par.latency_p50, par.latency_p99) == \
        (base.latency_mean, base.latency_p50, base.latency_p99) or base.num_served == 0
    assert dict(par.group_busy_fraction) == dict(base.group_busy_fraction)
    assert dict(par.attainment_per_model) == dict(base.attainment_per_model)
    for a, b in ((counts, base_counts), (window, base_window)):
        np.testing.assert_array_equal(a.good_per_model, b.good_per_model)
        np.testing.assert_array_equal(a.requests_per_model, b.requests_per_model)


def test_a_cluster_that_never_drains_is_repaired_whole(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Overload without admission: the spans' states never coincide, so each repair reruns
    its whole span, and the result is still exact."""
    small_spans(monkeypatch, 4)
    models = ["a"]
    placement = build_placement(models, [2], [models])
    profiles = build_profiles(placement, np.random.default_rng(0))
    w = Workload.from_arrays(arrival=np.linspace(0.0, 1.0, 200), model="a")
    options = SimulationOptions(admission=False, threads=1)
    base = simulate(placement, profiles, w, options, slo=0.5)
    with caplog.at_level(logging.DEBUG, logger="simulator.engine.record"):
        par = simulate(placement, profiles, w, options.with_(threads=2), slo=0.5)
    assert "repairs reran [0, 100] requests" in caplog.text
    for name in OUTCOMES:
        np.testing.assert_array_equal(getattr(par, name), getattr(base, name))


def test_a_cluster_that_drains_is_repaired_briefly(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sparse arrivals: the true state at the cut is idle, equivalent to the empty one the
    speculative span started from, so the repair stops at its first checkpoint."""
    small_spans(monkeypatch, 4)
    placement = build_placement(["a"], [3], [["a"]])
    profiles = build_profiles(placement, np.random.default_rng(0))
    w = Workload.from_arrays(arrival=np.arange(200) * 10.0, model="a")
    with caplog.at_level(logging.DEBUG, logger="simulator.engine.attainment"):
        counts = attainment(prepare(w, 1.0), placement, profiles,
                            SimulationOptions(threads=4))
    assert "repairs reran [0, 0, 0, 0] requests" in caplog.text
    assert counts.good_per_model.tolist() == [200]


def test_threads_option_is_validated() -> None:
    with pytest.raises(SimulationError, match="threads must be an integer >= 0, got -1"):
        SimulationOptions(threads=-1)
    assert SimulationOptions().threads == 0  # the default: one per CPU
