"""Sharding strategies of each operator on a logical mesh, and a layer's selection problem.

Layouts (which mesh axes split each dimension of an activation) and the cost of resharding
between them live in :mod:`alpaserve.parallel.layouts`.

A strategy assigns every active mesh axis to one loop of the operator, or to none
(replicated along that axis). For a matmul ``[m, k] × [k, n]``:

* ``batch@a``: split the token rows ``m``; weights replicated (data parallel);
* ``col@a``: split the output columns ``n`` (Megatron's column-parallel linear);
* ``row@a``: split the reduction ``k`` (the weight's rows, Megatron's row-parallel linear);
  the partial outputs are summed by an all-reduce along ``a``.

Attention splits ``batch`` or ``heads``; layer norms split rows; residual adds split anything;
MoE experts split tokens, experts (``expert@a``, two all-to-alls) or the FFN inside every
expert (``tensor@a``, one all-reduce).

Costs use the analytic cost model's own functions, so that a Megatron plan costs exactly what
:func:`alpaserve.cost.stage.stage_latency` says: compute is :func:`op_time` of the kernels that
:mod:`alpaserve.cost.layers` builds (:func:`matmul_cost`, :func:`attention_costs`, ...) at the
per-device shard shapes, with the same matmul efficiency, SM-wave quantization and memory
efficiency. An all-reduce is :func:`allreduce_time` (over both axes: the faster of one flat
ring and a two-level reduction), all-gathers and all-to-alls are :func:`p2p_time` of the bytes
a device receives.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx

from alpaserve.cost.kernels import (
    OpCost,
    attention_costs,
    gelu_cost,
    layernorm_cost,
    matmul_cost,
    moe_expert_costs,
    residual_cost,
)
from alpaserve.cost.model import (
    DEFAULT_MATMUL_EFFICIENCY,
    allreduce_time,
    ops_time,
    p2p_time,
)
from alpaserve.device_spec import DeviceSpec
from alpaserve.errors import SpecError
from alpaserve.parallel.layouts import REPLICATED, Layout, axes_size, layout_name, reshard_time
from alpaserve.parallel.logical_mesh import LogicalMesh
from alpaserve.parallel.op_graph import TIED_NODES, OpNode
from alpaserve.parallel.problem import ShardingProblem

__all__ = [  # with the layout names of .layouts, for imports from before the split
    "REPLICATED",
    "LayerShardingSpace",
    "Layout",
    "Strategy",
    "build_sharding_problem",
    "layout_name",
    "op_strategies",
    "reshard_time",
]


@dataclass(frozen=True, kw_only=True)
class Strategy:
    """One way to run an operator on a mesh; bytes are per device.

    Parameters
    ----------
    name : str
        E.g. ``"replicated"``, ``"col@1"`` (output features split along mesh axis 1).
    in_layouts : tuple of Layout
        The layout each input must arrive in.
    out_layout : Layout
        The layout of the output.
    compute_s, comm_s : float
        Seconds of compute and of collective communication per device.
    weight_bytes, activation_bytes : int
        Bytes per device of weights and of activations.
    """

    name: str
    in_layouts: tuple[Layout, ...]
    out_layout: Layout
    compute_s: float
    comm_s: float
    weight_bytes: int
    activation_bytes: int

    @property
    def cost_s(self) -> float:
        return self.compute_s + self.comm_s


def _assignments(mesh: LogicalMesh, options: Sequence[str | None]
                 ) -> list[dict[str | None, tuple[int, ...]]]:
    """Every map of active axes to one of ``options``, as option -> axes."""
    axes = mesh.active_axes
    out = []
    for combo in itertools.product(options, repeat=len(axes)):
        groups: dict[str | None, tuple[int, ...]] = {o: () for o in options}
        for a, o in zip(axes, combo, strict=True):
            groups[o] = (*groups[o], a)
        out.append(groups)
    return out


def _name(groups: dict[str | None, tuple[int, ...]], labels: dict[str, str]) -> str:
    parts = [f"{labels[o]}@{','.join(map(str, ax))}" for o, ax in groups.items()
             if o is not None and ax]
    return "+".join(parts) or "replicated"


def _divides(mesh: LogicalMesh, axes: tuple[int, ...], extent: int) -> bool:
    return extent % axes_size(mesh, axes) == 0


def _allreduce(mesh: LogicalMesh, axes: tuple[int, ...], num_bytes: float) -> float:
    """All-reduce over ``axes``: one axis is a ring; both, the faster of a flat ring on the
    slower link and a two-level reduction (within the first axis, then across the second on
    a ``1/n`` shard)."""
    if len(axes) <= 1:
        return sum(allreduce_time(num_bytes, mesh.shape[a], mesh.bandwidth[a],
                                  mesh.latency[a]) for a in axes)
    flat = allreduce_time(num_bytes, axes_size(mesh, axes), min(mesh.bandwidth[a] for a in axes),
                          max(mesh.latency[a] for a in axes))
    two_level = min(
        allreduce_time(num_bytes, mesh.shape[a], mesh.bandwidth[a], mesh.latency[a])
        + allreduce_time(num_bytes / mesh.shape[a], mesh.shape[b], mesh.bandwidth[b],
                         mesh.latency[b])
        for a, b in itertools.permutations(axes, 2))
    return min(flat, two_level)


def _time(ops: Sequence[OpCost], device: DeviceSpec, efficiency: float) -> float:
    return ops_time(ops, device, matmul_efficiency=efficiency)


def _layout_strategies(op: OpNode, mesh: LogicalMesh, device: DeviceSpec, efficiency: float,
                       dims: str) -> list[Strategy]:
    """Layout-only ops: ``input``/``output`` (no cost), layer norm, residual add."""
    rows, cols = op.dims["rows"], op.dims["cols"]
    options: list[str | None] = [None, "r", "c"] if dims == "rc" else [None, "r"]
    out = []
    for g in _assignments(mesh, options):
        if not (_divides(mesh, g["r"], rows) and _divides(mesh, g.get("c", ()), cols)):
            continue
        layout: Layout = (g["r"], g.get("c", ()))
        shard = op.output_bytes // axes_size(mesh, layout[0] + layout[1])
        n_in = len(op.input_shapes)
        elements = shard // op.dtype_bytes
        if op.kind == "layernorm":
            compute = _time([layernorm_cost(elements, op.dtype_bytes,
                                            fused_input=op.fused_input)], device, efficiency)
        elif op.kind == "residual":
            compute = _time([residual_cost(elements, op.dtype_bytes)], device, efficiency)
        else:  # the layer's input and output: no kernel
            compute = 0.0
        out.append(Strategy(name=layout_name(layout), in_layouts=(layout,) * n_in,
                            out_layout=layout, compute_s=compute, comm_s=0.0,
                            weight_bytes=op.weight_bytes, activation_bytes=(n_in + 1) * shard))
    return out


def _matmul_strategies(op: OpNode, mesh: LogicalMesh, device: DeviceSpec,
                       efficiency: float) -> list[Strategy]:
    d = op.dims
    m, k, n, dt = d["m"], d["k"], d["n"], op.dtype_bytes
    labels = {"m": "batch", "n": "col", "k": "row"}
    out = []
    for g in _assignments(mesh, [None, "m", "n", "k"]):
        if not (_divides(mesh, g["m"], m) and _divides(mesh, g["n"], d.get("n_unit", n))
                and _divides(mesh, g["k"], d.get("k_unit", k))):
            continue
        pm, pn, pk = axes_size(mesh, g["m"]), axes_size(mesh, g["n"]), axes_size(mesh, g["k"])
        in_b, out_b = m * k * dt / (pm * pk), m * n * dt / (pm * pn)
        weights = math.ceil(k * n * dt / (pk * pn)) + math.ceil(n * dt / pn)
        # Every split divides its extent (checked above, units divide the extents).
        ms, ks, ns = m // pm, k // pk, n // pn
        kernels = [matmul_cost(op.name, ms, ks, ns, dt)]
        if op.activation == "gelu":  # on the whole (all-reduced) output shard
            kernels.append(gelu_cost(ms * ns, dt))
        out.append(Strategy(
            name=_name(g, labels), in_layouts=((g["m"], g["k"]),), out_layout=(g["m"], g["n"]),
            compute_s=_time(kernels, device, efficiency),
            comm_s=_allreduce(mesh, g["k"], out_b), weight_bytes=weights,
            activation_bytes=math.ceil(in_b + out_b)))
    return out


def _attention_strategies(op: OpNode, mesh: LogicalMesh, device: DeviceSpec,
                          efficiency: float) -> list[Strategy]:
    batch, heads, seq, head_dim = (op.dims[k] for k in ("batch", "heads", "seq", "head_dim"))
    out = []
    for g in _assignments(mesh, [None, "b", "h"]):
        if not (_divides(mesh, g["b"], batch) and _divides(mesh, g["h"], heads)):
            continue
        p = axes_size(mesh, g["b"] + g["h"])
        layout: Layout = (g["b"], g["h"])
        in_b, out_b = op.input_bytes / p, op.output_bytes / p
        score, softmax, context = attention_costs(
            batch=batch // axes_size(mesh, g["b"]), heads=heads // axes_size(mesh, g["h"]),
            seq_len=seq, head_dim=head_dim, dtype=op.dtype_bytes)
        kernels = [score, softmax] if op.kind == "attention_score" else [context]
        out.append(Strategy(
            name=_name(g, {"b": "batch", "h": "heads"}),
            in_layouts=(layout,) * len(op.input_shapes), out_layout=layout,
            compute_s=_time(kernels, device, efficiency), comm_s=0.0,
            weight_bytes=0, activation_bytes=math.ceil(in_b + out_b)))
    return out


def _expert_strategies(op: OpNode, mesh: LogicalMesh, device: DeviceSpec,
                       efficiency: float) -> list[Strategy]:
    d = op.dims
    e, f, t, h, top_k, dt = d["experts"], d["ffn"], d["tokens"], d["hidden"], d["top_k"], \
        op.dtype_bytes
    labels = {"r": "batch", "e": "expert", "f": "tensor"}
    out = []
    for g in _assignments(mesh, [None, "r", "e", "f"]):
        rows = tuple(sorted(g["r"] + g["e"]))
        if not (_divides(mesh, rows, t) and _divides(mesh, g["e"], e)
                and _divides(mesh, g["f"], f)):
            continue
        pr, pe, pf = axes_size(mesh, rows), axes_size(mesh, g["e"]), axes_size(mesh, g["f"])
        tokens = t / pr
        dispatched = tokens * top_k * h * dt
        comm = _allreduce(mesh, g["f"], tokens * h * dt)
        for a in g["e"]:  # dispatch and combine all-to-alls
            n = mesh.shape[a]
            comm += 2 * p2p_time((n - 1) / n * dispatched, mesh.bandwidth[a], mesh.latency[a])
        weights = math.ceil(e / pe) * (math.ceil(2 * h * f * dt / pf) + math.ceil(f * dt / pf)
                                       + h * dt)
        io = op.input_bytes / pr + op.output_bytes / pr
        kernels = moe_expert_costs(tokens=t // pr, hidden=h, ffn=f // pf, experts=e // pe,
                                   top_k=top_k, dtype=dt)
        out.append(Strategy(
            name=_name(g, labels), in_layouts=((rows, ()), (rows, ())), out_layout=(rows, ()),
            compute_s=_time(kernels, device, efficiency),
            comm_s=comm, weight_bytes=weights,
            activation_bytes=math.ceil(io + dispatched / pf)))
    return out


def op_strategies(op: OpNode, mesh: LogicalMesh, device: DeviceSpec,
                  efficiency: float = DEFAULT_MATMUL_EFFICIENCY) -> list[Strategy]:
    """Every valid strategy of ``op`` on ``mesh`` (splits must divide the split extents).

    Parameters
    ----------
    op : OpNode
        The operator.
    mesh : LogicalMesh
        The device mesh.
    device : DeviceSpec
        The device type (peak FLOP/s, memory bandwidth).
    efficiency : float, optional
        Achieved fraction of peak matmul throughput.

    Returns
    -------
    list of Strategy
        The strategies, replicated first.

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> from alpaserve.device_spec import device_preset
    >>> from alpaserve.parallel.op_graph import layer_graph
    >>> g = layer_graph(model_preset("bert-1.3b"), batch_size=1)
    >>> mesh = LogicalMesh.uniform((1, 2), bandwidth=100e9, latency=1e-5)
    >>> [s.name for s in op_strategies(g.nodes["qkv"]["op"], mesh, device_preset("v100-16gb"))]
    ['replicated', 'batch@1', 'col@1', 'row@1']
    """
    if op.kind in ("input", "output", "residual"):
        return _layout_strategies(op, mesh, device, efficiency, "rc")
    if op.kind == "layernorm":
        return _layout_strategies(op, mesh, device, efficiency, "r")
    if op.kind in ("matmul", "moe_gate"):
        return _matmul_strategies(op, mesh, device, efficiency)
    if op.kind in ("attention_score", "attention_context"):
        return _attention_strategies(op, mesh, device, efficiency)
    if op.kind == "moe_experts":
        return _expert_strategies(op, mesh, device, efficiency)
    raise SpecError(f"operator {op.name!r} has unknown kind {op.kind!r}")


@dataclass(frozen=True, kw_only=True)
class LayerShardingSpace:
    """A layer's strategy-selection problem and the strategies behind its indices.

    Parameters
    ----------
    problem : ShardingProblem
        The selection problem over the layer's operators.
    strategies : tuple of tuple of Strategy
        Per node, the strategy behind each strategy index.
    """

    problem: ShardingProblem
    strategies: tuple[tuple[Strategy, ...], ...]


def build_sharding_problem(graph: nx.DiGraph, mesh: LogicalMesh, device: DeviceSpec,
                           efficiency: float = DEFAULT_MATMUL_EFFICIENCY
                           ) -> LayerShardingSpace:
    """The strategy-selection problem of an operator graph on ``mesh``.

    Node costs are compute + communication; node memory is per-device weight bytes; edges
    cost the resharding from the producer's output layout to the consumer's input layout.
    The ``input``/``output`` nodes, when present, are tied.

    Parameters
    ----------
    graph : networkx.DiGraph
        An operator graph from :func:`~alpaserve.parallel.op_graph.layer_graph`.
    mesh : LogicalMesh
        The device mesh.
    device : DeviceSpec
        The device type.
    efficiency : float, optional
        Achieved fraction of peak matmul throughput.

    Returns
    -------
    LayerShardingSpace
        The problem (unbounded memory budget) and its strategies.

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> from alpaserve.device_spec import device_preset
    >>> from alpaserve.parallel.op_graph import layer_graph
    >>> g = layer_graph(model_preset("bert-1.3b"), batch_size=1)
    >>> space = build_sharding_problem(g, LogicalMesh.uniform((1, 1), 1e9, 0.0),
    ...                                device_preset("v100-16gb"))
    >>> space.problem.num_choices  # one device: one strategy per node
    1
    """
    order = list(nx.topological_sort(graph))
    index = {name: i for i, name in enumerate(order)}
    strategies = []
    for name in order:
        found = op_strategies(graph.nodes[name]["op"], mesh, device, efficiency)
        if not found:
            raise SpecError(f"operator {name!r} has no valid strategy on mesh {mesh.shape}")
        strategies.append(tuple(found))
    edges, tables = [], []
    for u, v, data in sorted(graph.edges(data=True), key=lambda e: (index[e[0]], index[e[1]])):
        su, sv = strategies[index[u]], strategies[index[v]]
        port, nbytes = data["port"], data["bytes"]
        tables.append(tuple(tuple(reshard_time(a.out_layout, b.in_layouts[port], nbytes, mesh)
                                  for b in sv) for a in su))
        edges.append((index[u], index[v]))
    ties: tuple[tuple[int, int], ...] = ()
    if all(n in index for n in TIED_NODES):
        ties = ((index[TIED_NODES[0]], index[TIED_NODES[1]]),)
    problem = ShardingProblem(
        node_names=tuple(order),
        strategy_names=tuple(tuple(s.name for s in ss) for ss in strategies),
        node_costs=tuple(tuple(s.cost_s for s in ss) for ss in strategies),
        node_memory=tuple(tuple(float(s.weight_bytes) for s in ss) for ss in strategies),
        edges=tuple(edges), edge_costs=tuple(tables), ties=ties)
    return LayerShardingSpace(problem=problem, strategies=tuple(strategies))
