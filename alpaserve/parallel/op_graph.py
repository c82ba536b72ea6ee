"""The operator graph of one transformer layer.

Every node carries an :class:`OpNode`: its FLOPs, input and output shapes, weight bytes and
the loop sizes the sharding strategies split. The FLOP counts are the standard ones: a matmul
is ``2 × tokens × params`` and attention adds ``4 × batch × seq² × hidden`` (score plus
context); layer norms and residual adds count as memory traffic only.

Every activation is viewed as a 2-D tensor ``[rows, cols]``: rows are tokens (``batch ×
seq``) and cols are features, or heads for the attention tensors. Sharding layouts refer to
these two logical dimensions (see :mod:`alpaserve.parallel.layouts`).

Two extra nodes bound the layer: ``input`` (the activation entering it) and ``output`` (the
activation leaving it). A solver ties their layouts so that identical layers chain without
resharding between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import networkx as nx

from alpaserve._validation import positive_int
from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec

OpKind = Literal["input", "output", "layernorm", "matmul", "attention_score",
                 "attention_context", "residual", "moe_gate", "moe_experts"]
LayerKind = Literal["dense", "moe"]

#: Nodes whose layouts a solver must keep equal (layer input = layer output).
TIED_NODES = ("input", "output")


@dataclass(frozen=True, kw_only=True)
class OpNode:
    """One operator of a layer.

    ``dims`` holds the loop sizes strategies split: for a matmul ``m`` (tokens), ``k``
    (reduction) and ``n`` (output features) plus ``n_unit``/``k_unit`` (the counts a split
    must divide: heads for head-structured features); for attention ``batch`` and ``heads``
    (plus ``seq`` and ``head_dim``); for experts ``experts``, ``ffn`` and ``tokens``.
    ``activation`` and ``fused_input`` describe the kernels behind the op, so that
    :mod:`alpaserve.parallel.sharding` times exactly the kernels of
    :func:`alpaserve.cost.layers.layer_cost`.

    Parameters
    ----------
    name : str
        The operator's name within its layer (e.g. ``"qkv"``, ``"ffn1"``).
    kind : str
        The operator kind: ``"input"``, ``"output"``, ``"layernorm"``, ``"matmul"``,
        ``"attention_score"``, ``"attention_context"``, ``"residual"``, ``"moe_gate"`` or
        ``"moe_experts"``.
    flops : float
        Floating-point operations of the whole (unsharded) operator.
    input_shapes : tuple of tuple of int
        Shapes of its inputs.
    output_shape : tuple of int
        Shape of its output.
    weight_bytes : int
        Bytes of parameters it holds.
    dtype_bytes : int
        Bytes per element.
    dims : dict of str to int
        The loop sizes strategies split (see above).
    activation : {"gelu"} or None
        A fused activation, if any.
    fused_input : bool
        Whether the input is produced inside the same fused kernel.

    Examples
    --------
    >>> op = OpNode(name="ffn1", kind="matmul", flops=2 * 8 * 4 * 16, input_shapes=((8, 4),),
    ...             output_shape=(8, 16), weight_bytes=2 * (4 * 16 + 16), dtype_bytes=2,
    ...             dims={"m": 8, "k": 4, "n": 16, "n_unit": 16, "k_unit": 4})
    >>> op.output_bytes
    256
    """

    name: str
    kind: OpKind
    flops: float
    input_shapes: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, ...]
    weight_bytes: int
    dtype_bytes: int
    dims: dict[str, int] = field(default_factory=dict, hash=False, compare=True)
    #: Elementwise activation run on the output right after the op (a GELU after ``ffn1``).
    activation: Literal["gelu"] | None = None
    #: The input is still on chip from the producer's kernel (residual add + layer norm run
    #: as one kernel), so it is not read from memory again.
    fused_input: bool = False

    @property
    def output_bytes(self) -> int:
        n = 1
        for s in self.output_shape:
            n *= s
        return n * self.dtype_bytes

    @property
    def input_bytes(self) -> int:
        total = 0
        for shape in self.input_shapes:
            n = 1
            for s in shape:
                n *= s
            total += n
        return total * self.dtype_bytes


def layer_kind(model: ModelSpec, layer: int) -> LayerKind:
    """``"moe"`` for a layer holding experts, else ``"dense"``.

    Parameters
    ----------
    model : ModelSpec
        The model.
    layer : int
        Layer index, ``0 <= layer < model.num_layers``.

    Returns
    -------
    {"dense", "moe"}
        The layer's kind.

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> [layer_kind(model_preset("moe-1.3b"), i) for i in range(3)]
    ['dense', 'moe', 'dense']
    """
    return "moe" if model.is_moe_layer(layer) else "dense"


def layer_graph(model: ModelSpec, *, batch_size: int, kind: LayerKind = "dense") -> nx.DiGraph:
    """The operator graph of one ``kind`` layer of ``model`` at ``batch_size``.

    Edges carry ``port`` (which input of the consumer the tensor feeds) and ``bytes`` (the
    full tensor size). Graph attributes: ``model``, ``batch_size``, ``kind``.

    Parameters
    ----------
    model : ModelSpec
        The model.
    batch_size : int
        Requests per batch.
    kind : {"dense", "moe"}, default "dense"
        Which kind of layer to build.

    Returns
    -------
    networkx.DiGraph
        Nodes carry an :class:`OpNode` under ``"op"``, in topological order.

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> spec = model_preset("bert-1.3b")
    >>> g = layer_graph(spec, batch_size=1)
    >>> flops = sum(d["op"].flops for _, d in g.nodes(data=True))
    >>> t, h = spec.seq_len, spec.hidden_size
    >>> flops == 2 * t * (4 * h * h + 2 * h * spec.ffn_size) + 4 * t * spec.seq_len * h
    True
    >>> sum(d["op"].weight_bytes for _, d in g.nodes(data=True)) == 2 * spec.layer_params(0)
    True
    """
    positive_int("layer_graph", "batch_size", batch_size)
    if kind == "moe" and model.family != "moe":
        raise SpecError(f"model {model.name!r} of family {model.family!r} has no MoE layers")
    if kind not in ("dense", "moe"):
        raise SpecError(f"layer kind must be 'dense' or 'moe', got {kind!r}")
    b, s, h, f = batch_size, model.seq_len, model.hidden_size, model.ffn_size
    nh, dt = model.num_heads, model.dtype_bytes
    t = b * s
    g = nx.DiGraph(model=model.name, batch_size=batch_size, kind=kind)

    def add(name: str, kind_: OpKind, flops: float, ins: tuple[tuple[int, ...], ...],
            out: tuple[int, ...], weights: int = 0, *, activation: Literal["gelu"] | None = None,
            fused_input: bool = False, **dims: int) -> None:
        g.add_node(name, op=OpNode(name=name, kind=kind_, flops=float(flops), input_shapes=ins,
                                   output_shape=out, weight_bytes=weights * dt, dtype_bytes=dt,
                                   dims=dims, activation=activation, fused_input=fused_input))

    def link(src: str, dst: str, port: int) -> None:
        shape = g.nodes[dst]["op"].input_shapes[port]
        n = 1
        for x in shape:
            n *= x
        g.add_edge(src, dst, port=port, bytes=n * dt)

    def matmul(name: str, k: int, n: int, k_unit: int, n_unit: int,
               activation: Literal["gelu"] | None = None) -> None:
        add(name, "matmul", 2 * t * k * n, ((t, k),), (t, n), k * n + n, activation=activation,
            m=t, k=k, n=n, k_unit=k_unit, n_unit=n_unit)

    add("input", "input", 0, (), (t, h), rows=t, cols=h)
    add("ln1", "layernorm", 0, ((t, h),), (t, h), 2 * h, rows=t, cols=h)
    matmul("qkv", h, 3 * h, k_unit=h, n_unit=nh)
    # Score: per head Q·Kᵀ -> [b, nh, s, s]; the node also runs the softmax over it.
    add("attn_score", "attention_score", 2 * b * s * s * h, ((t, 3 * h),), (b * nh * s, s),
        batch=b, heads=nh, seq=s, head_dim=model.head_dim)
    add("attn_context", "attention_context", 2 * b * s * s * h,
        ((b * nh * s, s), (t, 3 * h)), (t, h), batch=b, heads=nh, seq=s,
        head_dim=model.head_dim)
    matmul("out_proj", h, h, k_unit=nh, n_unit=h)
    add("residual1", "residual", 0, ((t, h), (t, h)), (t, h), rows=t, cols=h)
    # Fused with residual1 into one kernel, as in :func:`alpaserve.cost.layers.layer_cost`.
    add("ln2", "layernorm", 0, ((t, h),), (t, h), 2 * h, fused_input=True, rows=t, cols=h)
    link("input", "ln1", 0)
    link("ln1", "qkv", 0)
    link("qkv", "attn_score", 0)
    link("attn_score", "attn_context", 0)
    link("qkv", "attn_context", 1)
    link("attn_context", "out_proj", 0)
    link("out_proj", "residual1", 0)
    link("input", "residual1", 1)
    link("residual1", "ln2", 0)
    if kind == "dense":
        matmul("ffn1", h, f, k_unit=h, n_unit=f, activation="gelu")
        matmul("ffn2", f, h, k_unit=f, n_unit=h)
        link("ln2", "ffn1", 0)
        link("ffn1", "ffn2", 0)
        last = "ffn2"
    else:
        e, k = model.num_experts, model.top_k
        add("moe_gate", "moe_gate", 2 * t * h * e, ((t, h),), (t, e), h * e,
            m=t, k=h, n=e)
        # Each token visits top_k experts: 2 matmuls of 2·h·f FLOPs per token and expert.
        add("moe_experts", "moe_experts", 2 * t * k * 2 * h * f, ((t, h), (t, e)), (t, h),
            e * (2 * h * f + f + h), experts=e, ffn=f, tokens=t, top_k=k, hidden=h)
        link("ln2", "moe_gate", 0)
        link("ln2", "moe_experts", 0)
        link("moe_gate", "moe_experts", 1)
        last = "moe_experts"
    add("residual2", "residual", 0, ((t, h), (t, h)), (t, h), rows=t, cols=h)
    add("output", "output", 0, ((t, h),), (t, h), rows=t, cols=h)
    link(last, "residual2", 0)
    link("residual1", "residual2", 1)
    link("residual2", "output", 0)
    return g
