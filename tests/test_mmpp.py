"""Two-state MMPP: mean rate, burstiness against theory, generation modes, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workloads.errors import WorkloadError
from workloads.mmpp import MMPPProcess

BURSTY = MMPPProcess(rate_on=200.0, rate_off=2.0, mean_on=0.5, mean_off=4.5)


def test_theoretical_rate_and_cv() -> None:
    assert BURSTY.p_on == pytest.approx(0.1)
    assert BURSTY.rate == pytest.approx(0.1 * 200 + 0.9 * 2)
    assert BURSTY.cv > 3  # far burstier than Poisson


def test_equal_rates_is_poisson() -> None:
    p = MMPPProcess(rate_on=5.0, rate_off=5.0, mean_on=1.0, mean_off=3.0)
    assert p.cv == pytest.approx(1.0)
    assert p.count_dispersion(10.0) == pytest.approx(1.0)


def test_interarrival_rate_and_cv_match_theory() -> None:
    t = BURSTY.generate(n=1_000_000, seed=7)
    gaps = np.diff(t)
    assert gaps.size / (t[-1] - t[0]) == pytest.approx(BURSTY.rate, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(BURSTY.cv, rel=0.03)


@pytest.mark.parametrize("window", [1.0, 10.0])
def test_count_dispersion_matches_theory(window: float) -> None:
    duration = 40_000.0
    t = BURSTY.generate(duration=duration, seed=8)
    counts = np.bincount((t // window).astype(np.int64), minlength=int(duration / window))
    idc = counts.var() / counts.mean()
    assert idc == pytest.approx(BURSTY.count_dispersion(window), rel=0.08)
    # The CV of counts follows: sqrt(IDC / mean count).
    theory_cv = math.sqrt(BURSTY.count_dispersion(window) / (BURSTY.rate * window))
    assert counts.std() / counts.mean() == pytest.approx(theory_cv, rel=0.05)


def test_off_state_with_zero_rate_is_silent() -> None:
    p = MMPPProcess(rate_on=50.0, rate_off=0.0, mean_on=1.0, mean_off=1.0)
    t = p.generate(duration=2000.0, seed=1)
    assert t.size / 2000.0 == pytest.approx(25.0, rel=0.1)
    gaps = np.diff(t)
    # Off periods leave long gaps: mean off time 1 s, while on-state gaps average 0.02 s.
    assert np.mean(gaps > 0.5) > 0.005
    assert np.diff(t).std() / np.diff(t).mean() == pytest.approx(p.cv, rel=0.1)


def test_generation_modes_and_determinism() -> None:
    a = BURSTY.generate(n=1000, start=5.0, seed=3)
    assert a.shape == (1000,) and a.min() >= 5.0 and np.all(np.diff(a) >= 0)
    np.testing.assert_array_equal(a, BURSTY.generate(n=1000, start=5.0, seed=3))
    b = BURSTY.generate(duration=30.0, start=5.0, seed=3)
    assert b.size == 0 or (b.min() >= 5.0 and b.max() < 35.0)
    assert BURSTY.generate(n=0, seed=0).size == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rate_on": 0.0, "rate_off": 1.0, "mean_on": 1.0, "mean_off": 1.0}, "rate_on"),
        ({"rate_on": 1.0, "rate_off": -1.0, "mean_on": 1.0, "mean_off": 1.0}, "rate_off"),
        ({"rate_on": 1.0, "rate_off": 1.0, "mean_on": 0.0, "mean_off": 1.0}, "mean_on"),
        ({"rate_on": 1.0, "rate_off": 1.0, "mean_on": 1.0, "mean_off": math.inf}, "mean_off"),
    ],
)
def test_invalid_parameters(kwargs: dict, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(WorkloadError, match=match):
        MMPPProcess(**kwargs)


def test_invalid_window_for_dispersion() -> None:
    with pytest.raises(WorkloadError, match="window"):
        BURSTY.count_dispersion(0.0)


@given(rate_on=st.floats(0.1, 100.0), rate_off=st.floats(0.0, 10.0),
       mean_on=st.floats(0.01, 10.0), mean_off=st.floats(0.01, 10.0),
       duration=st.floats(0.0, 20.0), seed=st.integers(0, 2**32))
def test_sorted_and_within_window(rate_on: float, rate_off: float, mean_on: float,
                                  mean_off: float, duration: float, seed: int) -> None:
    p = MMPPProcess(rate_on=rate_on, rate_off=rate_off, mean_on=mean_on, mean_off=mean_off)
    t = p.generate(duration=duration, start=1.0, seed=seed)
    assert np.all(np.diff(t) >= 0)
    assert t.size == 0 or (t[0] >= 1.0 and t[-1] < 1.0 + duration)
    assert 0 <= p.cv < math.inf
