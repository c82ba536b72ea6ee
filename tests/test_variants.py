"""Hardware types, variants and the least-squares latency fit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpaserve.errors import ProfileError, SpecError
from alpaserve.modelless.variants import HardwareType, Variant, fit_latency

FIELDS = dict(task="t", name="v", architecture="a", framework="f", hardware="cpu",
              accuracy=75.0, load_latency=1.0, peak_memory_bytes=100, max_batch=8,
              price_per_hour=0.2)


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


def test_variant_latency_throughput_and_capacity() -> None:
    v = Variant(latency_slope=0.01, latency_intercept=0.02, **FIELDS)
    assert v.latency(4) == pytest.approx(0.06)
    assert v.throughput(4) == pytest.approx(4 / 0.06)
    assert v.throughput() == pytest.approx(8 / 0.1)
    assert v.max_batch_within(0.065) == 4
    assert v.max_batch_within(0.01) == 0
    assert v.max_batch_within(10.0) == 8
    # capacity: 2 × latency(b) <= slo
    assert v.capacity(0.12) == pytest.approx(4 / 0.06)
    assert v.capacity(0.05) == pytest.approx(1 / 0.03)  # batch 1 fits the SLO only alone
    assert v.capacity(0.02) == 0.0


def test_variant_from_points_and_fit_error_limit() -> None:
    v = Variant.from_points(batch_sizes=[1, 2], latencies=[0.03, 0.04], **FIELDS)
    assert (v.latency_slope, v.latency_intercept) == pytest.approx((0.01, 0.02))
    with pytest.raises(ProfileError, match="within"):
        Variant.from_points(batch_sizes=[1, 2, 4], latencies=[0.01, 0.05, 0.04],
                            max_fit_error=0.01, **FIELDS)
    assert Variant.from_dict(v.to_dict()) == v


@pytest.mark.parametrize(("change", "match"), [
    ({"accuracy": 101.0}, "accuracy"),
    ({"accuracy": -1.0}, "accuracy"),
    ({"max_batch": 0}, "max_batch"),
    ({"name": ""}, "name"),
    ({"peak_memory_bytes": 0}, "peak_memory_bytes"),
    ({"price_per_hour": -1.0}, "price_per_hour"),
])
def test_variant_errors(change: dict[str, object], match: str) -> None:
    fields = {**FIELDS, **change}
    with pytest.raises(SpecError, match=match):
        Variant(latency_slope=0.01, latency_intercept=0.0, **fields)  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="zero latency"):
        Variant(latency_slope=0.0, latency_intercept=0.0, **FIELDS)
    with pytest.raises(SpecError, match="cannot build"):
        Variant.from_dict({"name": "x"})


def test_hardware_errors() -> None:
    with pytest.raises(SpecError, match="kind"):
        HardwareType(name="x", kind="tpu", price_per_hour=1, startup_time=1, memory_bytes=1)
    with pytest.raises(SpecError, match="startup_time"):
        HardwareType(name="x", kind="cpu", price_per_hour=1, startup_time=-1, memory_bytes=1)
