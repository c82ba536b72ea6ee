"""Roofline, GEMM quantization and alpha-beta communication primitives."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpaserve.cost.kernels import OpCost
from alpaserve.cost.primitives import (
    DEFAULT_MATMUL_EFFICIENCY,
    allreduce_time,
    gemm_quantization,
    op_time,
    p2p_time,
    roofline_time,
)
from alpaserve.device_spec import DeviceSpec, device_preset

V100 = device_preset("v100-16gb")


def test_roofline_picks_the_binding_resource() -> None:
    assert roofline_time(125e12, 1.0, V100, efficiency=0.5) == 2.0
    assert roofline_time(1.0, 1.8e12, V100, memory_efficiency=0.5) == 4.0
    assert DEFAULT_MATMUL_EFFICIENCY == 0.8


def test_collectives() -> None:
    assert allreduce_time(8e9, 8, 100e9, 1e-5) == pytest.approx(2 * 7 / 8 * 0.08 + 1e-5)
    assert allreduce_time(8e9, 1, 100e9, 1e-5) == 0.0
    assert p2p_time(0, 1e9, 1.0) == 0.0


@given(st.integers(1, 64), st.integers(1, 5000), st.integers(1, 5000),
       st.sampled_from([0, 40, 80, 108]))
def test_quantization_is_a_fraction_and_time_grows_with_rows(count: int, rows: int, cols: int,
                                                             sms: int) -> None:
    dev = DeviceSpec(name="g", peak_flops=1e14, memory_bandwidth=1e12, memory_bytes=1 << 34,
                     num_sms=sms)
    q = gemm_quantization((count, rows, cols), dev)
    assert 0 < q <= 1
    small = OpCost(name="mm", flops=2.0 * count * rows * cols * 64, bytes_moved=0,
                   gemm=(count, rows, cols))
    big = OpCost(name="mm", flops=2.0 * count * (rows + 1) * cols * 64, bytes_moved=0,
                 gemm=(count, rows + 1, cols))
    assert op_time(big, dev) >= op_time(small, dev) * (1 - 1e-12)


def test_wave_quantization_on_v100() -> None:
    # 16 × 8 tiles of 128×256 over 80 SMs: two waves, the second 60% idle.
    assert gemm_quantization((1, 2048, 2048), V100) == pytest.approx(0.8)
    assert gemm_quantization((1, 2048, 2560), V100) == 1.0
    cpu = device_preset("cpu")
    assert gemm_quantization((1, 2048, 2048), cpu) == 1.0
    assert gemm_quantization((1, 100, 100), cpu) == pytest.approx(100 * 100 / (128 * 128))
