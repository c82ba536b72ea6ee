"""The analytic iteration cost: monotone, closed-form roofline checks, parallelism, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from alpaserve.device_spec import DeviceSpec, device_preset
from alpaserve.errors import SpecError
from alpaserve.llm.analytic import (
    LAYER_OPERATORS,
    Efficiency,
    allreduce_seconds,
    analytic_iteration_cost,
    calibrated_efficiency,
    layer_operator_times,
    non_attention_seconds,
)
from alpaserve.llm.spec import llm_preset

A100 = device_preset("a100-80gb")
# No wave quantization (num_sms=0) and round numbers, for closed forms.
PLAIN = DeviceSpec(name="plain", peak_flops=100e12, memory_bandwidth=1e12,
                   memory_bytes=80 * 2**30)
EXACT = Efficiency(matmul=1.0, memory=1.0, elementwise=1.0, kernel_s=0.0,
                   attention_compute=1.0, attention_memory=1.0, sharpness=50.0)


def test_linear_table_is_monotone_and_covers_max_tokens() -> None:
    for name in ("llm-tiny", "llama-2-7b"):
        cost = analytic_iteration_cost(llm_preset(name), A100, tp=1, pp=1, max_tokens=300)
        assert cost.linear_s.size == 301
        assert cost.linear_s[0] == 0.0
        assert np.all(np.diff(cost.linear_s) >= 0)
        assert cost.linear(600) >= cost.linear(300)


def test_decode_step_is_bound_by_reading_the_weights() -> None:
    spec = llm_preset("llama-2-7b")
    t = non_attention_seconds(spec, PLAIN, tp=1, tokens=[1], efficiency=EXACT)[0]
    # one token: every weight but the embedding table (one row gathered) is read once
    read = spec.weight_bytes - spec.embedding_params * spec.dtype_bytes
    assert t == pytest.approx(read / PLAIN.memory_bandwidth, rel=0.002)


def test_large_gemm_is_compute_bound_closed_form() -> None:
    spec = llm_preset("llama-2-7b")
    n = 4096
    ops = layer_operator_times(spec, PLAIN, tp=1, tokens=[n], efficiency=EXACT)
    flops = 2 * n * spec.hidden_size * 2 * spec.ffn_size
    assert ops["mlp_up_proj"][0] == pytest.approx(flops / PLAIN.peak_flops)
    assert set(ops) == set(LAYER_OPERATORS)


def test_attention_coefficients_closed_form() -> None:
    spec = llm_preset("llama-2-70b")
    cost = analytic_iteration_cost(spec, PLAIN, tp=4, pp=1, max_tokens=8, efficiency=EXACT)
    per_unit = spec.num_layers * 4 * spec.head_dim * (spec.num_heads // 4) / PLAIN.peak_flops
    per_kv = spec.num_layers * 2 * 2 * spec.head_dim * 2 / PLAIN.memory_bandwidth
    assert cost.prefill_attention_s == pytest.approx(per_unit)
    assert cost.decode_attention_s == pytest.approx(per_kv)


def test_tensor_parallelism_shortens_compute_and_adds_allreduce() -> None:
    spec = llm_preset("llama-2-70b")
    times = {tp: non_attention_seconds(spec, A100, tp=tp, tokens=[1, 2048])
             for tp in (1, 2, 4, 8)}
    assert times[1][1] > times[2][1] > times[4][1] > times[8][1]
    eff = calibrated_efficiency(A100)
    nccl = non_attention_seconds(spec, A100, tp=8, tokens=[2048], efficiency=eff)[0]
    free = non_attention_seconds(spec, A100, tp=8, tokens=[2048], efficiency=Efficiency(
        **{**eff.__dict__, "allreduce_bandwidth": 1e30, "allreduce_latency_s": 0.0}))[0]
    expected = 2 * spec.num_layers * allreduce_seconds([2048 * 8192 * 2], tp=8,
                                                       efficiency=eff)[0]
    assert nccl - free == pytest.approx(expected)


def test_allreduce_leaving_the_node_is_slower() -> None:
    spec = llm_preset("llama-2-7b")
    inside = non_attention_seconds(spec, A100, tp=16, tokens=[512], gpus_per_node=16)[0]
    across = non_attention_seconds(spec, A100, tp=16, tokens=[512], gpus_per_node=8)[0]
    assert across > inside


def test_pipeline_handoff() -> None:
    spec = llm_preset("llama-2-7b")
    one = analytic_iteration_cost(spec, A100, tp=1, pp=1, max_tokens=64)
    two = analytic_iteration_cost(spec, A100, tp=1, pp=2, max_tokens=64, efficiency=EXACT)
    assert one.handoff_s == 0.0
    assert two.pipeline_stages == 2
    assert two.handoff_s_per_token == pytest.approx(spec.hidden_size * 2 / EXACT.link_bandwidth)
    assert two.stage_s(n_tokens=8, prefill_units=0, decode_kv_tokens=0) < two.work_s(
        n_tokens=8, prefill_units=0, decode_kv_tokens=0)


def test_calibrated_constants_by_gpu_kind() -> None:
    assert calibrated_efficiency(device_preset("h100-80gb")) is not None
    assert calibrated_efficiency(device_preset("v100-16gb")) == Efficiency()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"max_tokens": 0}, r"max_tokens must be a positive integer, got 0"),
    ({"tp": 3}, r"tensor degree 3 cannot shard 'llama-2-7b'"),
    ({"pp": 0}, r"pipeline degree must be a positive integer, got 0"),
    ({"overhead_s": -1.0}, r"overhead_s must be a non-negative number, got -1.0"),
])
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"tp": 1, "pp": 1, "max_tokens": 8, **kwargs}
    with pytest.raises(SpecError, match=match):
        analytic_iteration_cost(llm_preset("llama-2-7b"), A100, **args)  # type: ignore[arg-type]


def test_bad_efficiency_and_tokens() -> None:
    with pytest.raises(SpecError, match=r"Efficiency.matmul must be in \(0, 1\], got 1.5"):
        Efficiency(matmul=1.5)
    with pytest.raises(SpecError, match=r"token counts must be >= 1"):
        layer_operator_times(llm_preset("llm-tiny"), A100, tp=1, tokens=[0, 4])
