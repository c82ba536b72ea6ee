"""Token-level LLM latency and memory."""

from __future__ import annotations

import numpy as np
import pytest

from alpaserve.cost.llm import (
    LLMConfig,
    decode_step_time,
    device_memory_bytes,
    fits_memory,
    memory_floor,
    prefill_time,
    request_latency,
    throughput,
)
from alpaserve.cost.llm.latency import _roofline
from alpaserve.cost.model import roofline_time
from alpaserve.errors import InfeasibleError, SpecError
from alpaserve.model_presets import model_preset
from alpaserve.spot.hardware import g4dn_hardware

M20 = model_preset("gpt-20b")
HW = g4dn_hardware()


def cfg(p: int = 1, t: int = 4, b: int = 1, m: int = 1, d: int = 1) -> LLMConfig:
    return LLMConfig(data=d, pipeline=p, tensor=t, batch=b, micro_batches=m)


def test_config_validation() -> None:
    with pytest.raises(SpecError, match="micro_batches=4 exceeds batch=2"):
        cfg(b=2, m=4)
    with pytest.raises(SpecError, match="data"):
        cfg(d=0)
    with pytest.raises(SpecError, match="does not divide num_heads"):
        cfg(t=3).parallel_config(M20)
    with pytest.raises(SpecError, match="not a decoder"):
        prefill_time(model_preset("bert-1.3b"), HW, cfg(), [10])


def test_vector_roofline_matches_primitive() -> None:
    flops = np.array([1e9, 5e12, 0.0])
    bytes_ = np.array([4e9, 1e6, 3e9])
    vec = _roofline(flops, bytes_, HW)
    assert np.allclose(vec, [roofline_time(f, b, HW.device, efficiency=HW.compute_efficiency,
                                           memory_efficiency=HW.memory_efficiency)
                             for f, b in zip(flops, bytes_, strict=True)])


def test_decode_is_memory_bound_and_prefill_compute_bound() -> None:
    c = cfg()
    one = decode_step_time(M20, HW, c, active=1, context_tokens=100)
    four = decode_step_time(M20, HW, cfg(b=4), active=4, context_tokens=400)
    assert isinstance(one, float)
    assert four < 1.2 * one  # decode steps barely grow with batch (weights dominate)
    weights = device_memory_bytes(M20, c, context_tokens=0)
    assert one >= weights / HW.device.memory_bandwidth
    short = prefill_time(M20, HW, c, [256])
    long = prefill_time(M20, HW, c, [1024])
    assert 3.5 < long / short < 5.0  # linear in tokens plus a quadratic attention term
    steps = decode_step_time(M20, HW, c, active=np.array([1.0, 1.0]),
                             context_tokens=np.array([100.0, 100.0]))
    assert np.allclose(steps, one)


def test_pipeline_formula() -> None:
    p1 = decode_step_time(M20, HW, cfg(p=1, t=4, b=4), active=4, context_tokens=400)
    p2m1 = decode_step_time(M20, HW, cfg(p=2, t=4, b=4), active=4, context_tokens=400)
    p2m2 = decode_step_time(M20, HW, cfg(p=2, t=4, b=4, m=2), active=4, context_tokens=400)
    # Two stages of half the layers, (P + M - 1) = 2 stage times: no faster than one stage.
    assert p2m1 == pytest.approx(p1, rel=0.1)
    # Memory-bound micro-batches re-read the weights: 3 stage times instead of 2.
    assert p2m2 == pytest.approx(1.5 * p2m1, rel=0.1)
    pre1 = prefill_time(M20, HW, cfg(p=2, t=4, b=8), [512] * 8)
    pre4 = prefill_time(M20, HW, cfg(p=2, t=4, b=8, m=4), [512] * 8)
    assert pre4 < 0.75 * pre1  # compute-bound micro-batches fill the pipeline


def test_latency_and_throughput() -> None:
    lat1 = request_latency(M20, HW, cfg(b=1), prompt_tokens=512, output_tokens=64)
    lat8 = request_latency(M20, HW, cfg(b=8), prompt_tokens=512, output_tokens=64)
    assert lat8 > lat1
    thr = throughput(M20, HW, cfg(b=8, d=3), prompt_tokens=512, output_tokens=64)
    assert thr == pytest.approx(3 * 8 / lat8)
    with pytest.raises(SpecError, match="output_tokens"):
        request_latency(M20, HW, cfg(), prompt_tokens=5, output_tokens=0)


def test_memory_and_floor() -> None:
    small = device_memory_bytes(M20, cfg(b=1), context_tokens=512)
    big = device_memory_bytes(M20, cfg(b=8), context_tokens=512)
    kv = 7 * 512 * M20.kv_cache_bytes_per_token() / 4
    assert big - small >= kv
    assert not fits_memory(M20, HW, cfg(t=2), context_tokens=512)  # 20 GB per T4
    assert fits_memory(M20, HW, cfg(t=4), context_tokens=512)
    assert not fits_memory(M20, HW, cfg(t=3), context_tokens=512)  # invalid degree
    assert memory_floor(M20, HW, context_tokens=2048, tensor_degrees=(4, 8)) == 4
    assert memory_floor(model_preset("gpt-1.3b"), HW, context_tokens=2048) == 1
    with pytest.raises(InfeasibleError, match="does not fit"):
        memory_floor(M20, HW, context_tokens=2048, tensor_degrees=(1,), max_pipeline=2)
