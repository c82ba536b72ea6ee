"""The least-squares latency line of a variant (:mod:`alpaserve.modelless.latency_fit`)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpaserve.errors import ProfileError
from alpaserve.modelless.latency_fit import fit_latency


def test_fit_recovers_an_exact_line() -> None:
    fit = fit_latency([1, 2, 4, 8], [0.011, 0.012, 0.014, 0.018])
    assert fit.slope == pytest.approx(0.001)
    assert fit.intercept == pytest.approx(0.010)
    assert fit.max_relative_error == pytest.approx(0.0, abs=1e-12)
    assert fit.num_points == 4


def test_fit_is_least_squares_on_noisy_points() -> None:
    b = np.array([1, 2, 4, 8, 16])
    t = 0.005 + 0.002 * b + np.array([1e-4, -1e-4, 2e-4, -2e-4, 1e-4])
    fit = fit_latency(b, t)
    design = np.stack([b, np.ones_like(b)], axis=1).astype(float)
    expect = np.linalg.lstsq(design, t, rcond=None)[0]
    assert (fit.slope, fit.intercept) == pytest.approx(tuple(expect))
    assert 0 < fit.max_relative_error < 0.05


@given(slope=st.floats(1e-5, 0.1), intercept=st.floats(0.0, 0.1),
       sizes=st.lists(st.integers(1, 64), min_size=2, max_size=6, unique=True))
def test_fit_recovers_any_line(slope: float, intercept: float, sizes: list[int]) -> None:
    lat = [intercept + slope * b for b in sizes]
    fit = fit_latency(sizes, lat)
    assert fit.slope == pytest.approx(slope, rel=1e-6, abs=1e-12)
    assert fit.intercept == pytest.approx(intercept, rel=1e-6, abs=1e-9)


def test_fit_clips_a_negative_intercept_and_handles_one_point() -> None:
    fit = fit_latency([2, 4], [0.01, 0.03])  # the line through them crosses below zero
    assert fit.intercept == 0.0
    assert fit.slope > 0
    one = fit_latency([4], [0.02])
    assert (one.slope, one.intercept) == (0.005, 0.0)


@pytest.mark.parametrize(("sizes", "lat", "match"), [
    ([], [], "no points"),
    ([1, 2], [0.1], "2 points"),
    ([0, 2], [0.1, 0.2], "positive integers"),
    ([1.5, 2], [0.1, 0.2], "positive integers"),
    ([1, 2], [0.1, -0.2], "positive and finite"),
    ([1, 8], [0.2, 0.1], "falls with batch size"),
])
def test_fit_errors(sizes: list[float], lat: list[float], match: str) -> None:
    with pytest.raises(ProfileError, match=match):
        fit_latency(sizes, lat)
