"""FLOPs, bytes moved and memory of one transformer layer's forward pass, per device.

A layer is a list of operators, each with its own FLOPs and bytes moved, so that the cost
model can apply the roofline to every operator separately: the matmuls are compute-bound,
while the attention softmax, layer norms, GELU and residual adds are memory-bound. Summing a
single roofline over the whole layer would hide the memory-bound part, which is what makes a
layer with many heads and a long sequence cost more than its FLOPs suggest (the attention
scores of BERT-1.3B at sequence length 2048 are 268 MB per layer, read and written four times).

Tensor parallelism follows Megatron-LM (Shoeybi et al., 2019): QKV and the first FFN matmul
are split by columns, the output projection and the second FFN matmul by rows, attention by
heads; layer norms, residual adds and the MoE gate are replicated. Each layer then needs two
all-reduces of its ``batch × seq_len × hidden`` activation, one after attention and one after
the FFN. MoE layers shard every expert the same way (so they also end in an all-reduce);
expert parallelism with all-to-all is not modelled because :class:`ParallelConfig` splits
every layer's weights by the tensor degree.
"""

from __future__ import annotations

from dataclasses import dataclass

from alpaserve._validation import positive_int
from alpaserve.cost.kernels import (
    OpCost,
    attention_costs,
    elementwise_cost,
    gelu_cost,
    layernorm_cost,
    matmul_cost,
    moe_expert_costs,
    residual_cost,
)
from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec


@dataclass(frozen=True, kw_only=True)
class LayerCost:
    """The forward pass of one layer on one device of a tensor-parallel group.

    Parameters
    ----------
    model : str
        Model name.
    layer : int
        Layer index (0-based).
    batch_size : int
        Requests in the batch.
    seq_len : int
        Tokens per request.
    tensor_degree : int
        Devices the layer is sharded over.
    ops : tuple of OpCost
        The operators one device runs, in order.
    weight_bytes : int
        Weight bytes per device.
    activation_bytes : int
        Peak live activation bytes per device.
    kv_cache_bytes : int
        KV-cache bytes per device the batch adds (decoders; 0 otherwise).
    allreduce_bytes : int
        Bytes of each all-reduced activation (``batch × seq_len × hidden``).
    num_allreduces : int
        All-reduces per forward pass (2 when sharded, else 0).

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> c = layer_cost(model_preset("bert-1.3b"), 0)
    >>> round(c.flops / 1e9), round(c.weight_bytes / 1e6), c.num_allreduces
    (241, 101, 0)
    """

    model: str
    layer: int
    batch_size: int
    seq_len: int
    tensor_degree: int
    ops: tuple[OpCost, ...]
    weight_bytes: int
    activation_bytes: int
    kv_cache_bytes: int
    allreduce_bytes: int
    num_allreduces: int

    @property
    def flops(self) -> float:
        return float(sum(op.flops for op in self.ops))

    @property
    def bytes_moved(self) -> float:
        return float(sum(op.bytes_moved for op in self.ops))

    @property
    def matmul_flops(self) -> float:
        return float(sum(op.flops for op in self.ops if op.matmul))


def layer_cost(model: ModelSpec, layer: int, *, batch_size: int = 1, seq_len: int | None = None,
               tensor_degree: int = 1) -> LayerCost:
    """Per-device cost of layer ``layer`` (0-based) of ``model``.

    ``seq_len`` defaults to the model's; every request is one forward pass over it.

    Parameters
    ----------
    model : ModelSpec
        The model.
    layer : int
        Layer index, ``0 <= layer < model.num_layers``.
    batch_size : int, default 1
        Requests in the batch; positive.
    seq_len : int, optional
        Tokens per request; default ``model.seq_len``.
    tensor_degree : int, default 1
        Devices the layer is sharded over (Megatron style); must divide ``num_heads`` and
        ``ffn_size``.

    Returns
    -------
    LayerCost
        The operators, memory and all-reduces of one device.

    Raises
    ------
    SpecError
        If a size is not positive, the layer is out of range, or ``tensor_degree`` does
        not divide the heads and FFN width.

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> bert = model_preset("bert-1.3b")
    >>> one, two = layer_cost(bert, 0), layer_cost(bert, 0, tensor_degree=2)
    >>> two.num_allreduces, round(one.matmul_flops / two.matmul_flops, 3)
    (2, 2.0)
    """
    positive_int("layer_cost", "batch_size", batch_size)
    s = positive_int("layer_cost", "seq_len", model.seq_len if seq_len is None else seq_len)
    t = positive_int("layer_cost", "tensor_degree", tensor_degree)
    if model.num_heads % t or model.ffn_size % t:
        raise SpecError(f"tensor degree {t} does not divide num_heads={model.num_heads} and "
                        f"ffn_size={model.ffn_size} of {model.name!r}")
    d, b, h, f = model.dtype_bytes, batch_size, model.hidden_size, model.ffn_size
    ht, ft = h // t, f // t  # hidden (heads) and FFN columns held by one device
    n = b * s  # tokens in the batch
    heads = model.num_heads // t
    scores = b * heads * s * s  # attention-score elements on this device
    moe = model.is_moe_layer(layer)
    k = model.top_k if moe else 1  # FFN passes per token

    ops = [
        layernorm_cost(n * h, d, name="layernorm_attn"),
        matmul_cost("qkv", n, h, 3 * ht, d),
        *attention_costs(batch=b, heads=heads, seq_len=s, head_dim=model.head_dim, dtype=d),
        matmul_cost("attn_out", n, ht, h, d),
        # One kernel in practice: the residual add also writes the normalised copy.
        residual_cost(n * h, d, name="residual_attn"),
        layernorm_cost(n * h, d, name="layernorm_ffn", fused_input=True),
    ]
    if moe:
        ops += [matmul_cost("gate", n, h, model.num_experts, d),
                *moe_expert_costs(tokens=n, hidden=h, ffn=ft, experts=model.num_experts,
                                  top_k=k, dtype=d)]
    else:
        ops += [matmul_cost("ffn_in", n, h, ft, d), gelu_cost(n * ft, d),
                matmul_cost("ffn_out", n, ft, h, d)]
    ops.append(residual_cost(n * h, d, name="residual_ffn"))

    # Peak live activations: the residual stream and its normalised copy, plus the larger of
    # the attention working set (QKV, scores before and after softmax, context) and the FFN's.
    attention_live = 4 * n * ht + 2 * scores
    ffn_live = 2 * k * n * ft + (k * n * h if moe else 0)
    activation = (2 * n * h + max(attention_live, ffn_live)) * d
    kv_cache = 2 * n * ht * d if model.is_decoder else 0
    return LayerCost(
        model=model.name, layer=layer, batch_size=b, seq_len=s, tensor_degree=t,
        ops=tuple(ops),
        weight_bytes=-(-model.layer_params(layer) * d // t),
        activation_bytes=activation, kv_cache_bytes=kv_cache,
        allreduce_bytes=n * h * d, num_allreduces=2 if t > 1 else 0,
    )


def embedding_cost(model: ModelSpec, *, batch_size: int = 1, seq_len: int | None = None) -> OpCost:
    """Token and position embedding lookup of the first stage (memory-bound, replicated).

    Parameters
    ----------
    model : ModelSpec
        The model.
    batch_size : int, default 1
        Requests in the batch; positive.
    seq_len : int, optional
        Tokens per request; default ``model.seq_len``.

    Returns
    -------
    OpCost
        The lookup's FLOPs and bytes moved.

    Raises
    ------
    SpecError
        If ``batch_size`` is not positive.

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> round(embedding_cost(model_preset("bert-1.3b")).bytes_moved / 1e6, 1)
    25.2
    """
    s = model.seq_len if seq_len is None else seq_len
    n = positive_int("embedding_cost", "batch_size", batch_size) * s
    return elementwise_cost("embedding", 2 * n * model.hidden_size, n * model.hidden_size,
                            model.dtype_bytes, flops=n * model.hidden_size)
