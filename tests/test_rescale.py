"""Window-by-window Gamma refit and rescale, and time scaling."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from _fixtures_workloads import workloads
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads.arrivals import GammaProcess
from workloads.errors import WorkloadError
from workloads.mixes import MixSpec, generate_mix
from workloads.rescale import RescaleSpec, rescale, scale_time
from workloads.stats import interarrival_cv, window_stats, window_stats_by_model
from workloads.workload import Workload

# A workload whose rate changes every window: 10 windows of 60 s at 5..50 req/s, CV 2.
PIECES = [GammaProcess(rate=5.0 * (i + 1), cv=2.0).generate(duration=60.0, start=60.0 * i,
                                                             seed=i) for i in range(10)]
BASE = Workload.from_arrays(arrival=np.concatenate(PIECES), model="m")


def test_identity_rescale_keeps_per_window_rate_and_cv() -> None:
    r = rescale(BASE, RescaleSpec(window=60.0), seed=1)
    before = window_stats(BASE, window=60.0)
    after = window_stats(r.workload, window=60.0)
    np.testing.assert_allclose(after.rate, before.rate, rtol=0.35)
    assert np.nanmean(after.cv) == pytest.approx(np.nanmean(before.cv), rel=0.15)
    assert (r.windows, r.fitted, r.default_cv_windows, r.outside_grid) == (10, 10, 0, 0)


def test_rate_scale_and_cv_scale() -> None:
    r = rescale(BASE, RescaleSpec(window=60.0, rate_scale=3.0, cv_scale=2.0), seed=2)
    assert len(r.workload) / len(BASE) == pytest.approx(3.0, rel=0.1)
    after = window_stats(r.workload, window=60.0)
    before = window_stats(BASE, window=60.0)
    assert np.nanmean(after.cv) == pytest.approx(2 * np.nanmean(before.cv), rel=0.2)
    # The shape over time is kept: rate rises window by window.
    assert np.corrcoef(after.rate, before.rate)[0, 1] > 0.9


def test_set_cv_overrides_fitted_cv() -> None:
    r = rescale(BASE, RescaleSpec(window=60.0, cv=0.5, cv_scale=100.0), seed=3)
    cv = window_stats(r.workload, window=60.0).cv
    np.testing.assert_allclose(cv, 0.5, rtol=0.25)


def test_per_model_refit_and_columns_resampled() -> None:
    spec = MixSpec.zipf(3, total_rate=30.0, alpha=1.0, cv=[1.0, 3.0, 1.0], slo=[0.1, 0.2, 0.3])
    w = generate_mix(spec, duration=600.0, seed=4)
    r = rescale(w, RescaleSpec(window=100.0, rate_scale=0.5), seed=5).workload
    assert r.model_names == w.model_names
    for code, slo in enumerate([0.1, 0.2, 0.3]):
        assert set(r.slo[r.model_codes == code].tolist()) == {slo}
    per = window_stats_by_model(r, window=100.0)
    assert np.nanmean(per["model1"].cv) > 2 * np.nanmean(per["model0"].cv)


def test_sparse_windows_use_default_cv_and_are_reported(caplog: pytest.LogCaptureFixture) -> None:
    w = Workload.from_arrays(arrival=[1.0, 70.0, 71.0, 72.0, 73.0], model="m")
    with caplog.at_level(logging.INFO, logger="workloads.rescale"):
        r = rescale(w, RescaleSpec(window=60.0, start=0.0, end=120.0), seed=0)
    assert r.default_cv_windows == 1
    assert r.fitted == 2
    assert "default_cv" in caplog.text


def test_requests_outside_the_grid_are_counted(caplog: pytest.LogCaptureFixture) -> None:
    w = Workload.from_arrays(arrival=[1.0, 2.0, 500.0], model="m")
    with caplog.at_level(logging.WARNING, logger="workloads.rescale"):
        r = rescale(w, RescaleSpec(window=10.0, start=0.0, end=10.0), seed=0)
    assert r.outside_grid == 1
    assert "outside" in caplog.text


def test_scale_time() -> None:
    w = Workload.from_arrays(arrival=BASE.arrival[:1000], model="m", prompt_tokens=np.arange(1000))
    fast = scale_time(w, 0.25)
    np.testing.assert_allclose(fast.arrival, w.arrival * 0.25)
    assert interarrival_cv(fast.arrival) == pytest.approx(interarrival_cv(w.arrival))
    np.testing.assert_array_equal(fast.prompt_tokens, w.prompt_tokens)
    np.testing.assert_allclose(scale_time(w, 2.0, origin=10.0).arrival,
                               (w.arrival - 10.0) * 2.0 + 10.0)


@pytest.mark.parametrize(("kwargs", "match"), [({"window": 0.0}, "window"),
                                               ({"window": 1.0, "rate_scale": -1.0}, "rate_scale"),
                                               ({"window": 1.0, "cv": float("nan")}, "cv")])
def test_invalid_spec(kwargs: dict, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(WorkloadError, match=match):
        RescaleSpec(**kwargs)


def test_invalid_time_factor() -> None:
    with pytest.raises(WorkloadError, match="factor"):
        scale_time(BASE, 0.0)


@settings(max_examples=50)
@given(workloads(max_size=30), st.floats(1.0, 200.0), st.floats(0.0, 3.0))
def test_rescaled_workload_stays_in_grid_and_sorted(w: Workload, window: float,
                                                    rate_scale: float) -> None:
    r = rescale(w, RescaleSpec(window=window, rate_scale=rate_scale), seed=0)
    out = r.workload
    assert np.all(np.diff(out.arrival) >= 0)
    assert out.model_names == w.model_names
    if len(w):
        stats = window_stats(w, window=window)
        assert np.all(out.arrival >= stats.start[0])
        assert np.all(out.arrival < stats.start[-1] + window + 1e-9 * abs(stats.start[-1]))
    for col in ("slo", "prompt_tokens", "output_tokens"):
        assert (getattr(out, col) is None) == (getattr(w, col) is None)
