"""Per-layer FLOPs, bytes and memory for the bert, gpt and moe families."""

from __future__ import annotations

import pytest

from alpaserve.cost.layers import embedding_cost, layer_cost
from alpaserve.errors import SpecError
from alpaserve.model_presets import model_preset

BERT = model_preset("bert-1.3b")


def test_dense_layer_flops_match_the_closed_form() -> None:
    c = layer_cost(BERT, 0)
    s, h = BERT.seq_len, BERT.hidden_size
    closed = 24 * s * h * h + 4 * s * s * h  # matmuls: QKV, out, FFN (4h), scores, context
    assert c.matmul_flops == pytest.approx(closed, rel=1e-9)
    assert c.flops > c.matmul_flops  # layer norms, softmax, GELU, residuals
    assert {op.name for op in c.ops} >= {"qkv", "attn_score", "softmax", "attn_context",
                                         "attn_out", "ffn_in", "gelu", "ffn_out"}
    assert c.weight_bytes == BERT.layer_params(0) * 2
    assert c.kv_cache_bytes == 0
    assert c.num_allreduces == 0


def test_batch_and_tensor_degree_scale_the_work() -> None:
    one, four = layer_cost(BERT, 3), layer_cost(BERT, 3, batch_size=4)
    assert four.matmul_flops == pytest.approx(4 * one.matmul_flops)
    assert four.activation_bytes == 4 * one.activation_bytes
    tp = layer_cost(BERT, 3, tensor_degree=4)
    assert tp.matmul_flops == pytest.approx(one.matmul_flops / 4)
    assert tp.weight_bytes == pytest.approx(one.weight_bytes / 4, abs=1)
    assert (tp.num_allreduces, tp.allreduce_bytes) == (2, 2048 * 2048 * 2)
    short = layer_cost(BERT, 3, seq_len=128)
    assert short.flops < one.flops / 16


def test_moe_layers_route_top_k_tokens() -> None:
    moe = model_preset("moe-1.3b")
    dense, sparse = layer_cost(moe, 0), layer_cost(moe, 1)
    names = {op.name for op in sparse.ops}
    assert {"gate", "experts_in", "experts_out", "dispatch", "combine"} <= names
    ffn = 4 * moe.seq_len * moe.hidden_size * moe.ffn_size
    extra = sparse.matmul_flops - dense.matmul_flops
    gate = 2 * moe.seq_len * moe.hidden_size * moe.num_experts
    assert extra == pytest.approx((moe.top_k - 1) * ffn + gate, rel=1e-9)
    assert sparse.weight_bytes > moe.num_experts * dense.weight_bytes / 3


def test_decoders_keep_a_kv_cache() -> None:
    gpt = model_preset("gpt-1.3b")
    assert layer_cost(gpt, 0).kv_cache_bytes == 2 * gpt.seq_len * gpt.hidden_size * 2
    assert layer_cost(gpt, 0, tensor_degree=2).kv_cache_bytes == gpt.seq_len * gpt.hidden_size * 2


def test_invalid_arguments_are_named() -> None:
    with pytest.raises(SpecError, match=r"tensor degree 3 does not divide num_heads=32"):
        layer_cost(BERT, 0, tensor_degree=3)
    with pytest.raises(SpecError, match=r"batch_size.*0"):
        layer_cost(BERT, 0, batch_size=0)
    with pytest.raises(SpecError, match=r"layer 24 is out of range"):
        layer_cost(BERT, 24)
    with pytest.raises(SpecError, match=r"batch_size.*-1"):
        embedding_cost(BERT, batch_size=-1)
