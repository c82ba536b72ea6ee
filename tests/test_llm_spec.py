"""LLM shapes: parameter counts of the published models, KV bytes, presets and bad inputs."""

from __future__ import annotations

import pytest

from alpaserve.errors import SpecError
from alpaserve.llm.spec import LLMSpec, llm_preset, llm_preset_names


@pytest.mark.parametrize(("name", "billions"), [
    ("llama-2-7b", 6.74), ("llama-2-13b", 13.02), ("codellama-34b", 33.74),
    ("llama-2-70b", 68.98)])
def test_parameter_counts_match_the_published_models(name: str, billions: float) -> None:
    assert llm_preset(name).num_params / 1e9 == pytest.approx(billions, abs=0.01)


def test_kv_bytes_per_token_closed_form() -> None:
    # 70B: 2 (K, V) × 80 layers × 8 KV heads × 128 × 2 bytes = 320 KiB; 7B without GQA: 512 KiB
    assert llm_preset("llama-2-70b").kv_bytes_per_token == 2 * 80 * 8 * 128 * 2
    assert llm_preset("llama-2-7b").kv_bytes_per_token == 512 * 1024
    spec = llm_preset("llm-tiny")
    assert spec.weight_bytes == spec.num_params * spec.dtype_bytes
    assert spec.head_dim * spec.num_heads == spec.hidden_size


def test_gated_mlp_has_three_matrices() -> None:
    gated = llm_preset("llm-small")
    plain = LLMSpec(**{**gated.to_dict(), "gated_mlp": False})
    diff = gated.layer_params - plain.layer_params
    assert diff == gated.hidden_size * gated.ffn_size


def test_presets_are_listed_and_case_insensitive() -> None:
    names = llm_preset_names()
    assert {"llama-2-7b", "llama-2-13b", "codellama-34b", "llama-2-70b", "llm-tiny"} <= set(names)
    assert llm_preset("LLaMA-2-7B") == llm_preset("llama-2-7b")
    with pytest.raises(SpecError, match=r"unknown LLM preset 'gpt-5'; known: llama-2-7b"):
        llm_preset("gpt-5")


@pytest.mark.parametrize(("change", "match"), [
    ({"num_layers": 0}, r"num_layers must be a positive integer, got 0"),
    ({"hidden_size": 66}, r"hidden_size=66 is not a multiple of num_heads=4"),
    ({"num_kv_heads": 3}, r"num_kv_heads=3 does not divide num_heads=4"),
    ({"gated_mlp": 1}, r"gated_mlp must be a bool"),
    ({"name": ""}, r"name must be a non-empty string"),
    ({"dtype_bytes": 2.0}, r"dtype_bytes must be a positive integer, got 2.0"),
])
def test_bad_shapes_are_rejected(change: dict[str, object], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        LLMSpec(**{**llm_preset("llm-tiny").to_dict(), **change})


def test_tensor_degree_checks_heads() -> None:
    spec = llm_preset("llama-2-70b")  # 64 heads, 8 KV heads
    assert spec.kv_heads_per_device(4) == 2
    assert spec.kv_heads_per_device(16) == 1  # replicated KV heads
    with pytest.raises(SpecError, match=r"tensor degree 3 cannot shard 'llama-2-70b'"):
        spec.check_tensor_degree(3)
    with pytest.raises(SpecError, match=r"tensor degree must be a positive integer, got 0"):
        spec.check_tensor_degree(0)
