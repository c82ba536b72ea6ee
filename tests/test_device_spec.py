"""Device specs: presets, validation and JSON round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from alpaserve.device_spec import DeviceSpec, device_preset, device_preset_names
from alpaserve.errors import SpecError
from tests._fixtures_foundation import device_specs

BASE = dict(name="d", peak_flops=1e12, memory_bandwidth=1e11, memory_bytes=1 << 30)


def test_presets() -> None:
    assert set(device_preset_names()) >= {"v100-16gb", "v100-32gb", "a100-40gb", "a100-80gb",
                                          "h100-80gb", "t4", "cpu"}
    v100 = device_preset("V100-16GB")
    assert v100.usable_memory_bytes == 13_000_000_000
    assert v100.peak_flops == 125e12
    for name in device_preset_names():
        spec = device_preset(name)
        assert spec.price_spot < spec.price_on_demand
        assert 0 < spec.usable_memory_bytes < spec.memory_bytes
    assert device_preset("h100-80gb").peak_flops > device_preset("a100-80gb").peak_flops


def test_unknown_preset_is_named() -> None:
    with pytest.raises(SpecError, match=r"'tpu-v9'"):
        device_preset("tpu-v9")


@pytest.mark.parametrize(("field", "value"), [
    ("peak_flops", -1.0), ("peak_flops", float("inf")), ("memory_bandwidth", 0),
    ("memory_bytes", -5), ("reserved_bytes", -1), ("price_spot", -0.5), ("num_sms", -1),
])
def test_invalid_values_are_named(field: str, value: object) -> None:
    with pytest.raises(SpecError, match=f"{field}.*{value!r}"):
        DeviceSpec(**{**BASE, field: value})


def test_reserved_must_leave_memory() -> None:
    with pytest.raises(SpecError, match=r"reserved_bytes=1073741824 leaves no memory"):
        DeviceSpec(**{**BASE, "reserved_bytes": 1 << 30})
    with pytest.raises(SpecError, match=r"cannot build a DeviceSpec"):
        DeviceSpec.from_dict({**BASE, "tflops": 3})


@given(device_specs())
def test_json_round_trip(spec: DeviceSpec) -> None:
    assert DeviceSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_usable_memory_budget() -> None:
    v100 = device_preset("v100-16gb")
    assert v100.usable_memory_bytes == 13 * 10**9  # the preset: 13 GB
    gib = v100.with_usable_memory(13 << 30)  # AlpaServe's budget: 13 GiB
    assert gib.usable_memory_bytes == 13 << 30
    assert gib.memory_bytes == v100.memory_bytes
    assert v100.with_usable_memory(v100.memory_bytes).reserved_bytes == 0
    with pytest.raises(SpecError, match="exceeds"):
        v100.with_usable_memory(v100.memory_bytes + 1)
    with pytest.raises(SpecError, match="positive integer"):
        v100.with_usable_memory(0)
