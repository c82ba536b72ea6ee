from __future__ import annotations

import pytest

from alpaserve.cost.model import allreduce_time
from alpaserve.device_spec import device_preset
from alpaserve.model_presets import model_preset
from alpaserve.parallel.layouts import REPLICATED
from alpaserve.parallel.logical_mesh import LogicalMesh
from alpaserve.parallel.op_graph import layer_graph
from alpaserve.parallel.sharding import build_sharding_problem, op_strategies

V100 = device_preset("v100-16gb")
SPEC = model_preset("bert-1.3b")


def test_matmul_strategies_on_1x4() -> None:
    mesh = LogicalMesh.uniform((1, 4), bandwidth=100e9, latency=1e-5)
    op = layer_graph(SPEC, batch_size=1).nodes["ffn2"]["op"]
    by_name = {s.name: s for s in op_strategies(op, mesh, V100)}
    assert set(by_name) == {"replicated", "batch@1", "col@1", "row@1"}
    rep, row = by_name["replicated"], by_name["row@1"]
    # Row split: a quarter of the weights, one all-reduce of the full output.
    assert row.weight_bytes == pytest.approx(rep.weight_bytes / 4, rel=1e-3)
    out_bytes = op.output_bytes
    assert row.comm_s == pytest.approx(allreduce_time(out_bytes, 4, 100e9, 1e-5))
    assert row.in_layouts == (((), (1,)),)
    assert row.out_layout == REPLICATED
    assert by_name["col@1"].comm_s == 0.0
    assert rep.compute_s == pytest.approx(4 * row.compute_s, rel=0.05)


def test_2d_mesh_and_divisibility() -> None:
    mesh = LogicalMesh.uniform((2, 4), bandwidth=100e9, latency=1e-5)
    g = layer_graph(SPEC, batch_size=1)
    assert len(op_strategies(g.nodes["ffn1"]["op"], mesh, V100)) == 16
    # batch 1 cannot be split by batch, only by heads, for attention
    names = {s.name for s in op_strategies(g.nodes["attn_score"]["op"], mesh, V100)}
    assert names == {"replicated", "heads@0", "heads@1", "heads@0,1"}


def test_problem_shape_and_tie() -> None:
    mesh = LogicalMesh.uniform((1, 2), bandwidth=100e9, latency=1e-5)
    space = build_sharding_problem(layer_graph(SPEC, batch_size=1), mesh, V100)
    p = space.problem
    assert p.node_names[0] == "input"
    assert p.node_names[-1] == "output"
    assert p.ties == ((0, p.num_nodes - 1),)
    assert len(p.edges) == 14
