from __future__ import annotations

import networkx as nx
import pytest

from alpaserve.errors import SpecError
from alpaserve.model_presets import model_preset
from alpaserve.parallel.op_graph import layer_graph, layer_kind


@pytest.mark.parametrize("name", ["bert-1.3b", "bert-6.7b", "gpt-13b"])
@pytest.mark.parametrize("batch", [1, 3])
def test_dense_flops_and_weights_match_standard_counts(name: str, batch: int) -> None:
    spec = model_preset(name)
    g = layer_graph(spec, batch_size=batch)
    tokens, h, f, s = batch * spec.seq_len, spec.hidden_size, spec.ffn_size, spec.seq_len
    flops = sum(d["op"].flops for _, d in g.nodes(data=True))
    matmul_params = 4 * h * h + 2 * h * f
    assert flops == 2 * tokens * matmul_params + 4 * batch * s * s * h
    weights = sum(d["op"].weight_bytes for _, d in g.nodes(data=True))
    assert weights == spec.dtype_bytes * spec.layer_params(0)
    assert nx.is_directed_acyclic_graph(g)
    assert {"qkv", "attn_score", "attn_context", "out_proj", "ffn1", "ffn2", "ln1", "ln2",
            "residual1", "residual2"} <= set(g.nodes)


def test_moe_layer_has_gate_and_experts() -> None:
    spec = model_preset("moe-1.3b")
    assert layer_kind(spec, 1) == "moe"
    g = layer_graph(spec, batch_size=2, kind="moe")
    assert {"moe_gate", "moe_experts"} <= set(g.nodes)
    assert "ffn1" not in g
    weights = sum(d["op"].weight_bytes for _, d in g.nodes(data=True))
    assert weights == spec.dtype_bytes * spec.layer_params(1)
    experts = g.nodes["moe_experts"]["op"]
    assert experts.flops == 2 * 2 * spec.seq_len * spec.top_k * 2 * spec.hidden_size \
        * spec.ffn_size


def test_edges_carry_tensor_bytes_and_ports() -> None:
    spec = model_preset("bert-1.3b")
    g = layer_graph(spec, batch_size=1)
    act = spec.seq_len * spec.hidden_size * spec.dtype_bytes
    assert g.edges["input", "residual1"] == {"port": 1, "bytes": act}
    assert g.edges["qkv", "attn_context"]["port"] == 1
    for node in g.nodes:
        ports = sorted(d["port"] for _, _, d in g.in_edges(node, data=True))
        assert ports == list(range(len(g.nodes[node]["op"].input_shapes)))


def test_bad_requests() -> None:
    with pytest.raises(SpecError, match="no MoE layers"):
        layer_graph(model_preset("bert-1.3b"), batch_size=1, kind="moe")
    with pytest.raises(SpecError, match="batch_size"):
        layer_graph(model_preset("bert-1.3b"), batch_size=0)
