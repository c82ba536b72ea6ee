"""Hardware types and variants."""

from __future__ import annotations

import pytest

from alpaserve.errors import ProfileError, SpecError
from alpaserve.modelless.variants import HardwareType, Variant

FIELDS = dict(task="t", name="v", architecture="a", framework="f", hardware="cpu",
              accuracy=75.0, load_latency=1.0, peak_memory_bytes=100, max_batch=8,
              price_per_hour=0.2)


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
