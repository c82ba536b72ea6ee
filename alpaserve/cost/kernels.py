"""Operator kernels: FLOPs, bytes moved and matmul shape of each operator on one device.

The constructors (matmuls, elementwise kernels, layer norms, residual adds, GELU, attention,
MoE experts) are what :func:`alpaserve.cost.layers.layer_cost` assembles a layer from and what
the config search (:mod:`alpaserve.parallel`) prices at per-device shard shapes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class OpCost:
    """One operator on one device: FLOPs, bytes read plus written, and its matmul shape.

    Matmuls (``gemm`` set) run on tensor cores at the matmul efficiency, reduced by tile and
    wave quantization of their output shape; other operators are memory-bound.

    Parameters
    ----------
    name : str
        Operator name (``"qkv"``, ``"softmax"``, ...).
    flops : float
        Floating-point operations.
    bytes_moved : float
        Bytes read plus written in device memory.
    gemm : tuple of (int, int, int), optional
        ``(batch count, rows, cols)`` of a matmul's output; None for other operators.

    Examples
    --------
    >>> OpCost(name="softmax", flops=5.0, bytes_moved=4.0).matmul
    False
    """

    name: str
    flops: float
    bytes_moved: float
    gemm: tuple[int, int, int] | None = None  # (batch count, rows, cols) of a matmul's output

    @property
    def matmul(self) -> bool:
        return self.gemm is not None


def matmul_cost(name: str, m: int, k: int, n: int, dtype: int) -> OpCost:
    """``[m, k] @ [k, n]``: reads both inputs, writes the output.

    The operator constructors below are shared by :func:`layer_cost` (whole layers under
    Megatron sharding) and :mod:`alpaserve.parallel.sharding` (any per-device shard), so both
    time the same kernels with :func:`alpaserve.cost.primitives.op_time`.

    Parameters
    ----------
    name : str
        Operator name.
    m, k, n : int
        Matrix dimensions.
    dtype : int
        Bytes per element.

    Returns
    -------
    OpCost
        ``2 m k n`` FLOPs, the bytes of both inputs and the output, and GEMM ``(1, m, n)``.

    Examples
    --------
    >>> op = matmul_cost("ffn", 8, 4, 16, 2)
    >>> op.flops, op.bytes_moved, op.gemm
    (1024.0, 448, (1, 8, 16))
    """
    return OpCost(name=name, flops=2.0 * m * k * n, bytes_moved=(m * k + k * n + m * n) * dtype,
                  gemm=(1, m, n))


def elementwise_cost(name: str, read: float, write: float, dtype: int,
                     flops: float = 0.0) -> OpCost:
    """A memory-bound kernel reading ``read`` and writing ``write`` elements.

    Parameters
    ----------
    name : str
        Operator name.
    read, write : float
        Elements read and written.
    dtype : int
        Bytes per element.
    flops : float, default 0.0
        Floating-point operations.

    Returns
    -------
    OpCost
        The operator's FLOPs and bytes moved.

    Examples
    --------
    >>> elementwise_cost("add", 10, 5, 2).bytes_moved
    30
    """
    return OpCost(name=name, flops=flops, bytes_moved=(read + write) * dtype)


def layernorm_cost(elements: float, dtype: int, *, name: str = "layernorm",
                   fused_input: bool = False) -> OpCost:
    """Layer norm over ``elements`` values (about 5 FLOPs each).

    ``fused_input``: the kernel is fused with its producer (residual add + layer norm), so
    its input is still on chip and only the normalised copy is written.

    Parameters
    ----------
    elements : float
        Values normalised.
    dtype : int
        Bytes per element.
    name : str, default "layernorm"
        Operator name.
    fused_input : bool, default False
        Do not count reading the input.

    Returns
    -------
    OpCost
        The operator's FLOPs and bytes moved.

    Examples
    --------
    >>> layernorm_cost(10, 2).bytes_moved, layernorm_cost(10, 2, fused_input=True).bytes_moved
    (40, 20)
    """
    return elementwise_cost(name, 0 if fused_input else elements, elements, dtype,
                            flops=5 * elements)


def residual_cost(elements: float, dtype: int, *, name: str = "residual") -> OpCost:
    """Residual add: reads two tensors of ``elements`` values, writes one.

    Parameters
    ----------
    elements : float
        Values per tensor.
    dtype : int
        Bytes per element.
    name : str, default "residual"
        Operator name.

    Returns
    -------
    OpCost
        The operator's FLOPs and bytes moved.

    Examples
    --------
    >>> residual_cost(10, 2).bytes_moved
    60
    """
    return elementwise_cost(name, 2 * elements, elements, dtype, flops=elements)


def gelu_cost(elements: float, dtype: int, *, name: str = "gelu") -> OpCost:
    """GELU activation over ``elements`` values (about 8 FLOPs each).

    Parameters
    ----------
    elements : float
        Values activated.
    dtype : int
        Bytes per element.
    name : str, default "gelu"
        Operator name.

    Returns
    -------
    OpCost
        The operator's FLOPs and bytes moved.

    Examples
    --------
    >>> gelu_cost(10, 2).flops
    80
    """
    return elementwise_cost(name, elements, elements, dtype, flops=8 * elements)


def attention_costs(*, batch: int, heads: int, seq_len: int, head_dim: int,
                    dtype: int) -> tuple[OpCost, OpCost, OpCost]:
    """Score (QK^T), softmax and context (PV) kernels of ``heads`` heads over ``batch``.

    QK^T and PV are batched over heads; each writes or reads the score matrix once.

    Parameters
    ----------
    batch : int
        Requests in the batch.
    heads : int
        Attention heads on this device.
    seq_len : int
        Tokens per request.
    head_dim : int
        Width of one head.
    dtype : int
        Bytes per element.

    Returns
    -------
    tuple of (OpCost, OpCost, OpCost)
        The score matmul, the softmax and the context matmul.

    Examples
    --------
    >>> score, softmax, context = attention_costs(batch=1, heads=2, seq_len=4, head_dim=8,
    ...                                           dtype=2)
    >>> score.gemm, context.gemm, softmax.bytes_moved
    ((2, 4, 4), (2, 4, 8), 128)
    """
    scores = batch * heads * seq_len * seq_len  # score elements
    qkv_slice = batch * seq_len * heads * head_dim  # one of Q, K, V (or the context)
    flops = 2.0 * scores * head_dim
    return (
        OpCost(name="attn_score", flops=flops, bytes_moved=(2 * qkv_slice + scores) * dtype,
               gemm=(batch * heads, seq_len, seq_len)),
        elementwise_cost("softmax", scores, scores, dtype, flops=5 * scores),
        OpCost(name="attn_context", flops=flops, bytes_moved=(scores + 2 * qkv_slice) * dtype,
               gemm=(batch * heads, seq_len, head_dim)),
    )


def moe_expert_costs(*, tokens: int, hidden: int, ffn: int, experts: int, top_k: int,
                     dtype: int) -> tuple[OpCost, ...]:
    """Dispatch, expert FFNs (``ffn`` columns of each of ``experts``), GELU and combine.

    ``tokens`` tokens each visit ``top_k`` experts; an expert's weights are read once if it
    receives any token (at best ``min(experts, tokens × top_k)`` experts do).

    Parameters
    ----------
    tokens : int
        Tokens in the batch.
    hidden : int
        Hidden width.
    ffn : int
        FFN columns of each expert held by this device.
    experts : int
        Experts in the layer.
    top_k : int
        Experts each token visits.
    dtype : int
        Bytes per element.

    Returns
    -------
    tuple of OpCost
        Dispatch, first expert matmul, GELU, second expert matmul and combine.

    Examples
    --------
    >>> [op.name for op in moe_expert_costs(tokens=4, hidden=8, ffn=16, experts=2, top_k=2,
    ...                                     dtype=2)]
    ['dispatch', 'experts_in', 'gelu', 'experts_out', 'combine']
    """
    n, h, f, k = tokens, hidden, ffn, top_k
    touched = min(experts, n * k)
    return (
        elementwise_cost("dispatch", n * h, k * n * h, dtype),
        OpCost(name="experts_in", flops=2.0 * k * n * h * f,
               bytes_moved=(k * n * h + touched * h * f + k * n * f) * dtype,
               gemm=(1, k * n, f)),
        gelu_cost(k * n * f, dtype),
        OpCost(name="experts_out", flops=2.0 * k * n * f * h,
               bytes_moved=(k * n * f + touched * f * h + k * n * h) * dtype,
               gemm=(1, k * n, h)),
        elementwise_cost("combine", k * n * h, n * h, dtype, flops=2 * k * n * h),
    )
