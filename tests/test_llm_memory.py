"""Per-device weights and KV capacity of LLM replicas."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpaserve.device_spec import GIB, DeviceSpec, device_preset
from alpaserve.errors import InfeasibleError, SpecError
from alpaserve.llm.memory import (
    activation_reserve_bytes,
    fits,
    kv_bytes_per_token_per_device,
    kv_capacity_blocks,
    replica_memory,
    stage_layers,
    stage_weight_bytes,
    weight_bytes_per_device,
)
from alpaserve.llm.spec import llm_preset

A100 = device_preset("a100-80gb")


def test_stage_weights_sum_to_the_model_on_one_device_per_stage() -> None:
    spec = llm_preset("llama-2-13b")
    for pp in (1, 2, 3, 5):
        assert sum(stage_weight_bytes(spec, tp=1, pp=pp)) == spec.weight_bytes
        assert sum(stage_layers(spec, pp=pp)) == spec.num_layers


def test_tensor_parallelism_divides_weights() -> None:
    spec = llm_preset("llama-2-70b")
    sizes = [weight_bytes_per_device(spec, tp=tp, pp=1) for tp in (1, 2, 4, 8)]
    assert all(a > b for a, b in itertools.pairwise(sizes))
    # norms are replicated and KV heads never split below one, so tp=8 is a bit above 1/8
    assert sizes[0] / 8 < sizes[3] < sizes[0] / 8 * 1.01


def test_kv_capacity_closed_form_with_explicit_reserve() -> None:
    spec = llm_preset("llama-2-7b")
    device = DeviceSpec(name="x", peak_flops=1e12, memory_bandwidth=1e11, memory_bytes=40 * GIB)
    blocks = kv_capacity_blocks(spec, device, tp=2, pp=1, block_size=16, memory_fraction=0.5,
                                activation_reserve=GIB)
    free = 20 * GIB - weight_bytes_per_device(spec, tp=2, pp=1) - GIB
    per_block = 16 * spec.kv_bytes_per_token // 2
    assert blocks == free // per_block


def test_kv_capacity_is_bound_by_the_fullest_stage() -> None:
    spec = llm_preset("llama-2-70b")
    mem = replica_memory(spec, A100, tp=2, pp=3)
    per_stage = [(mem.budget_bytes - w - mem.activation_bytes) // (kv * 16) for w, kv in zip(
        stage_weight_bytes(spec, tp=2, pp=3), kv_bytes_per_token_per_device(spec, tp=2, pp=3),
        strict=True)]
    assert mem.blocks == min(per_stage)
    assert mem.kv_tokens == 16 * mem.blocks


@given(st.integers(min_value=24, max_value=200))
def test_kv_capacity_grows_with_memory(gib: int) -> None:
    spec = llm_preset("llama-2-7b")
    small = DeviceSpec(name="s", peak_flops=1e12, memory_bandwidth=1e11, memory_bytes=gib * GIB)
    big = DeviceSpec(name="b", peak_flops=1e12, memory_bandwidth=1e11,
                     memory_bytes=(gib + 8) * GIB)
    assert kv_capacity_blocks(spec, big, tp=1, pp=1) > kv_capacity_blocks(spec, small, tp=1,
                                                                           pp=1)


def test_more_devices_hold_more_tokens() -> None:
    spec = llm_preset("llama-2-70b")
    tokens = [kv_capacity_blocks(spec, A100, tp=tp, pp=1) for tp in (2, 4, 8)]
    assert tokens[0] < tokens[1] < tokens[2]


def test_infeasible_names_the_numbers() -> None:
    spec = llm_preset("llama-2-70b")
    with pytest.raises(InfeasibleError, match=r"'llama-2-70b' does not fit on 'a100-80gb' "
                                              r"with tp=1, pp=1: .* 128\.\d\d GiB of weights"):
        kv_capacity_blocks(spec, A100, tp=1, pp=1)
    assert not fits(spec, A100, tp=1, pp=1)
    assert fits(spec, A100, tp=2, pp=1)
    need = math.ceil(spec.max_context / 16)
    assert fits(spec, A100, tp=2, pp=1, min_blocks=need)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"memory_fraction": 1.5}, r"memory_fraction must be in \(0, 1\], got 1.5"),
    ({"block_size": 0}, r"block_size must be a positive integer, got 0"),
    ({"pp": 100}, r"pipeline degree 100 exceeds the 32 layers of 'llama-2-7b'"),
    ({"tp": 3}, r"tensor degree 3 cannot shard"),
    ({"activation_reserve": -1}, r"activation_reserve must be a non-negative integer"),
])
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"tp": 1, "pp": 1, **kwargs}
    with pytest.raises(SpecError, match=match):
        kv_capacity_blocks(llm_preset("llama-2-7b"), A100, **args)  # type: ignore[arg-type]


def test_activation_reserve_grows_with_the_token_budget() -> None:
    spec = llm_preset("llama-2-7b")
    assert (activation_reserve_bytes(spec, tp=1, max_batched_tokens=4096)
            < activation_reserve_bytes(spec, tp=1, max_batched_tokens=8192))
    assert activation_reserve_bytes(spec, tp=4) < activation_reserve_bytes(spec, tp=1)
