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
from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec


@dataclass(frozen=True, kw_only=True)
class OpCost:
    """One operator on one device: FLOPs, bytes read plus written, and its matmul shape.

    Matmuls (``gemm`` set) run on tensor cores at the matmul efficiency, reduced by tile and
    wave quantization of their output shape; other operators are memory-bound.
    """

    name: str
    flops: float
    bytes_moved: float
    gemm: tuple[int, int, int] | None = None  # (batch count, rows, cols) of a matmul's output

    @property
    def matmul(self) -> bool:
        return self.gemm is not None


@dataclass(frozen=True, kw_only=True)
class LayerCost:
    """The forward pass of one layer on one device of a tensor-parallel group.

    Examples
    --------
    >>> from alpaserve.model_spec import model_preset
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


def _matmul(name: str, m: int, k: int, n: int, dtype: int) -> OpCost:
    """``[m, k] @ [k, n]``: reads both inputs, writes the output."""
    return OpCost(name=name, flops=2.0 * m * k * n, bytes_moved=(m * k + k * n + m * n) * dtype,
                  gemm=(1, m, n))


def _elementwise(name: str, read: float, write: float, dtype: int, flops: float = 0.0) -> OpCost:
    return OpCost(name=name, flops=flops, bytes_moved=(read + write) * dtype)


def layer_cost(model: ModelSpec, layer: int, *, batch_size: int = 1, seq_len: int | None = None,
               tensor_degree: int = 1) -> LayerCost:
    """Per-device cost of layer ``layer`` (0-based) of ``model``.

    ``seq_len`` defaults to the model's; every request is one forward pass over it.

    Examples
    --------
    >>> from alpaserve.model_spec import model_preset
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
        _elementwise("layernorm_attn", n * h, n * h, d, flops=5 * n * h),
        _matmul("qkv", n, h, 3 * ht, d),
        # QK^T and PV are batched over heads; each writes or reads the score matrix once.
        OpCost(name="attn_score", flops=2.0 * scores * model.head_dim,
               bytes_moved=(2 * n * ht + scores) * d, gemm=(b * heads, s, s)),
        _elementwise("softmax", scores, scores, d, flops=5 * scores),
        OpCost(name="attn_context", flops=2.0 * scores * model.head_dim,
               bytes_moved=(scores + 2 * n * ht) * d, gemm=(b * heads, s, model.head_dim)),
        _matmul("attn_out", n, ht, h, d),
        _elementwise("residual_layernorm_ffn", 2 * n * h, 2 * n * h, d, flops=6 * n * h),
    ]
    if moe:
        e = model.num_experts
        touched = min(e, n * k)  # experts that receive at least one token, at best
        ops += [
            _matmul("gate", n, h, e, d),
            _elementwise("dispatch", n * h, k * n * h, d),
            OpCost(name="experts_in", flops=2.0 * k * n * h * ft,
                   bytes_moved=(k * n * h + touched * h * ft + k * n * ft) * d,
                   gemm=(1, k * n, ft)),
            _elementwise("gelu", k * n * ft, k * n * ft, d, flops=8 * k * n * ft),
            OpCost(name="experts_out", flops=2.0 * k * n * ft * h,
                   bytes_moved=(k * n * ft + touched * ft * h + k * n * h) * d,
                   gemm=(1, k * n, h)),
            _elementwise("combine", k * n * h, n * h, d, flops=2 * k * n * h),
        ]
    else:
        ops += [
            _matmul("ffn_in", n, h, ft, d),
            _elementwise("gelu", n * ft, n * ft, d, flops=8 * n * ft),
            _matmul("ffn_out", n, ft, h, d),
        ]
    ops.append(_elementwise("residual_ffn", 2 * n * h, n * h, d, flops=n * h))

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

    Examples
    --------
    >>> from alpaserve.model_spec import model_preset
    >>> round(embedding_cost(model_preset("bert-1.3b")).bytes_moved / 1e6, 1)
    25.2
    """
    s = model.seq_len if seq_len is None else seq_len
    n = positive_int("embedding_cost", "batch_size", batch_size) * s
    return _elementwise("embedding", 2 * n * model.hidden_size, n * model.hidden_size,
                        model.dtype_bytes, flops=n * model.hidden_size)
