"""Per-window statistics and workload summaries."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _fixtures_workloads import workloads
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads.arrivals import GammaProcess
from workloads.errors import WorkloadError
from workloads.mixes import MixSpec, generate_mix
from workloads.stats import interarrival_cv, summarize, window_stats, window_stats_by_model
from workloads.workload import Workload


def test_known_windows() -> None:
    s = window_stats([10.0, 11.0, 12.0, 14.0, 25.0, 26.0], window=10.0)
    np.testing.assert_array_equal(s.start, [10.0, 20.0])
    assert s.count.tolist() == [4, 2]
    np.testing.assert_allclose(s.rate, [0.4, 0.2])
    gaps = np.array([1.0, 1.0, 2.0])
    assert s.cv[0] == pytest.approx(gaps.std() / gaps.mean())
    assert math.isnan(s.cv[1])  # one gap only


def test_gap_across_a_boundary_belongs_to_no_window() -> None:
    s = window_stats([7.0, 8.0, 9.0, 10.5, 11.5, 12.5], window=10.0, start=0.0)
    # The gap 9.0 -> 10.5 is in neither window.
    assert s.cv.tolist() == [pytest.approx(0.0), pytest.approx(0.0)]


def test_explicit_range_and_partial_last_window() -> None:
    s = window_stats([1.0, 2.0, 3.0, 50.0], window=2.0, start=0.0, end=5.0)
    assert len(s) == 3
    np.testing.assert_allclose(s.length, [2.0, 2.0, 1.0])
    assert s.count.tolist() == [1, 2, 0]  # 50.0 lies outside [0, 5)
    np.testing.assert_allclose(s.rate, [0.5, 1.0, 0.0])


def test_fitted_rate_and_cv_of_a_gamma_process() -> None:
    t = GammaProcess(rate=100.0, cv=3.0).generate(duration=1000.0, seed=1)
    s = window_stats(t, window=250.0, start=0.0, end=1000.0)
    np.testing.assert_allclose(s.rate, 100.0, rtol=0.05)
    np.testing.assert_allclose(s.cv, 3.0, rtol=0.1)


def test_by_model_shares_the_grid_and_sums_to_total() -> None:
    spec = MixSpec.zipf(4, total_rate=40.0, alpha=1.0, cv=[1.0, 2.0, 3.0, 4.0])
    w = generate_mix(spec, duration=600.0, seed=2)
    total = window_stats(w, window=60.0)
    per = window_stats_by_model(w, window=60.0)
    assert list(per) == list(w.model_names)
    assert sum(s.count for s in per.values()).tolist() == total.count.tolist()
    for s in per.values():
        np.testing.assert_array_equal(s.start, total.start)
    assert np.nanmean(per["model3"].cv) > np.nanmean(per["model0"].cv)


def test_summary() -> None:
    w = Workload.from_arrays(arrival=[0.0, 1.0, 2.0, 3.0, 10.0], model=["a", "a", "b", "a", "c"],
                             model_names=["a", "b", "c", "d"])
    s = summarize(w)
    assert (s.requests, s.duration, s.rate) == (5, 10.0, 0.5)
    assert s.cv == pytest.approx(interarrival_cv(w.arrival))
    assert s.by_model["a"].requests == 3
    assert s.by_model["a"].rate == pytest.approx(1.0)
    assert math.isnan(s.by_model["b"].rate)
    assert s.by_model["d"].requests == 0


def test_empty_inputs() -> None:
    assert len(window_stats(np.empty(0), window=1.0)) == 0
    assert math.isnan(interarrival_cv([1.0]))
    assert math.isnan(summarize(Workload.empty(["m"])).rate)


@pytest.mark.parametrize(("kwargs", "match"), [({"window": 0.0}, "window"),
                                               ({"window": 1.0, "start": 5.0, "end": 1.0},
                                                "exceed")])
def test_invalid(kwargs: dict, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(WorkloadError, match=match):
        window_stats([1.0, 2.0], **kwargs)


@settings(max_examples=50)
@given(workloads(), st.floats(0.1, 500.0))
def test_counts_cover_every_request(w: Workload, window: float) -> None:
    s = window_stats(w, window=window)
    assert int(s.count.sum()) == len(w)
    assert np.all((s.cv >= 0) | np.isnan(s.cv))
    per = window_stats_by_model(w, window=window)
    assert sum(int(p.count.sum()) for p in per.values()) == len(w)
