"""Rate profiles and their Poisson / Gamma arrival processes."""

from __future__ import annotations

import numpy as np
import pytest

from alpaserve.errors import WorkloadError
from alpaserve.modelless.loads import (
    RateProfile,
    concatenate_profiles,
    flat_load,
    fluctuating_load,
    load_preset,
    make_queries,
    sample_arrivals,
    steady_load,
)


def test_poisson_count_and_rate_follow_the_profile(rng: np.random.Generator) -> None:
    prof = RateProfile(times=(0.0, 100.0), rates=(10.0, 50.0))
    a = sample_arrivals(prof, 100.0, seed=rng)
    assert abs(a.size - 3000) < 4 * np.sqrt(3000)
    first, second = np.count_nonzero(a < 50), np.count_nonzero(a >= 50)
    assert abs(first - 1000) < 4 * np.sqrt(1000)
    assert abs(second - 2000) < 4 * np.sqrt(2000)
    gaps = np.diff(sample_arrivals(flat_load(20.0), 500.0, seed=rng))
    assert np.std(gaps) / np.mean(gaps) == pytest.approx(1.0, abs=0.1)


def test_gamma_is_burstier(rng: np.random.Generator) -> None:
    gaps = np.diff(sample_arrivals(flat_load(20.0), 500.0, seed=rng, cv=3.0))
    assert np.std(gaps) / np.mean(gaps) == pytest.approx(3.0, rel=0.25)
    assert gaps.size == pytest.approx(10_000, rel=0.15)


def test_deterministic_given_the_seed() -> None:
    a = sample_arrivals(flat_load(), 100.0, seed=np.random.default_rng(5))
    b = sample_arrivals(flat_load(), 100.0, seed=np.random.default_rng(5))
    assert np.array_equal(a, b)


def test_presets() -> None:
    assert load_preset("flat", 60.0).rate(30.0) == 4.0
    s = load_preset("steady", 100.0)
    assert (s.rate(0.0), s.rate(100.0)) == (650.0, 700.0)
    f = fluctuating_load(3600.0)
    r = f.rate(np.arange(0.0, 3600.0, 10.0))
    assert r.min() == pytest.approx(4.0)
    assert r.max() == pytest.approx(80.0)
    assert steady_load(10.0, 1.0, 2.0).rate(5.0) == 1.5
    with pytest.raises(WorkloadError, match="unknown load 'spiky'"):
        load_preset("spiky", 10.0)


def test_step_load_and_queries(rng: np.random.Generator) -> None:
    prof = concatenate_profiles([(10.0, flat_load(1.0)), (10.0, flat_load(9.0))])
    assert (prof.rate(5.0), prof.rate(15.0)) == (1.0, 9.0)
    q = make_queries(prof, 20.0, seed=rng, task="t", slo=0.5, accuracy_mix={70.0: 0.25, 75.0: 0.75})
    assert set(q.min_accuracy.tolist()) <= {70.0, 75.0}
    assert np.mean(q.min_accuracy == 75.0) > 0.5


def test_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(WorkloadError, match="increase strictly"):
        RateProfile(times=(0.0, 0.0), rates=(1.0, 1.0))
    with pytest.raises(WorkloadError, match="non-negative"):
        RateProfile(times=(0.0,), rates=(-1.0,))
    with pytest.raises(WorkloadError, match="as many times as rates"):
        RateProfile(times=(0.0, 1.0), rates=(1.0,))
    with pytest.raises(WorkloadError, match="duration"):
        sample_arrivals(flat_load(), 0.0, seed=rng)
    with pytest.raises(WorkloadError, match="cv"):
        sample_arrivals(flat_load(), 1.0, seed=rng, cv=0.0)
    with pytest.raises(WorkloadError, match="sum to 1"):
        make_queries(flat_load(), 10.0, seed=rng, task="t", slo=1.0, accuracy_mix={70.0: 0.5})
    with pytest.raises(WorkloadError, match="high >= low"):
        fluctuating_load(10.0, low=5.0, high=1.0)
    assert sample_arrivals(flat_load(0.0), 10.0, seed=rng).size == 0


def test_sizes_are_checked_before_allocating() -> None:
    from alpaserve.modelless.loads import RateProfile, sample_arrivals

    rng = np.random.default_rng(0)
    with pytest.raises(WorkloadError, match="rate grid of 2e\\+08 points"):
        sample_arrivals(RateProfile(times=(0.0,), rates=(1.0,)), 1e7, seed=rng)
    with pytest.raises(WorkloadError, match="expects 1e\\+09 arrivals"):
        sample_arrivals(RateProfile(times=(0.0,), rates=(1e4,)), 1e5, seed=rng)
