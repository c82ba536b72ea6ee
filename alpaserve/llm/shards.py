"""Bytes per device of one LLM replica's ``tp × pp`` shard: weights, KV per token, activations.

Placement of the weights (Megatron/vLLM):

* layers are split over the ``pp`` stages as evenly as possible, the first
  ``num_layers % pp`` stages taking one layer more;
* inside a stage every matrix is sharded ``tp`` ways (Q and the MLP by columns or rows, K
  and V by KV head; with ``tp > num_kv_heads`` each device keeps one KV head, replicated);
  the two RMSNorm vectors of a layer are replicated;
* the token embedding is vocabulary-parallel on the first stage; the final norm and the
  untied LM head (vocabulary-parallel) on the last. With ``pp == 1`` both are on the one
  stage.

The KV cache a device can hold from what is left is :mod:`alpaserve.llm.memory`'s.
"""

from __future__ import annotations

from alpaserve._validation import positive_int
from alpaserve.errors import SpecError
from alpaserve.llm.spec import LLMSpec

# The sampler's logits (fp32) and their softmax, one row per scheduled sequence.
_LOGIT_BYTES = 4
_LOGIT_COPIES = 2


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _check_shape(spec: LLMSpec, tp: int, pp: int) -> None:
    if not isinstance(spec, LLMSpec):
        raise SpecError(f"expected an LLMSpec, got {spec!r}")
    spec.check_tensor_degree(tp)
    positive_int(f"LLMSpec({spec.name!r})", "pipeline degree", pp)
    if pp > spec.num_layers:
        raise SpecError(f"pipeline degree {pp} exceeds the {spec.num_layers} layers of "
                        f"{spec.name!r}")


def stage_layers(spec: LLMSpec, *, pp: int) -> tuple[int, ...]:
    """Layers of each pipeline stage.

    Parameters
    ----------
    spec : LLMSpec
        The model.
    pp : int
        Pipeline stages, at most ``spec.num_layers``.

    Returns
    -------
    tuple of int
        ``pp`` counts summing to ``num_layers``; the first ``num_layers % pp`` one larger.

    Raises
    ------
    SpecError
        If ``pp`` is not a positive integer or exceeds the layers.

    Examples
    --------
    >>> from alpaserve.llm.spec import llm_preset
    >>> stage_layers(llm_preset("llama-2-70b"), pp=3)
    (27, 27, 26)
    """
    _check_shape(spec, 1, pp)
    base, extra = divmod(spec.num_layers, pp)
    return tuple(base + (1 if i < extra else 0) for i in range(pp))


def layer_bytes_per_device(spec: LLMSpec, *, tp: int) -> int:
    """Weight bytes of one layer on one device of a ``tp``-way group.

    Parameters
    ----------
    spec : LLMSpec
        The model.
    tp : int
        Tensor-parallel degree.

    Returns
    -------
    int
        Q, K, V, output projection and MLP shards plus the replicated norm vectors.

    Examples
    --------
    >>> from alpaserve.llm.spec import llm_preset
    >>> spec = llm_preset("llama-2-7b")
    >>> layer_bytes_per_device(spec, tp=1) == spec.layer_params * 2
    True
    """
    spec.check_tensor_degree(tp)
    h = spec.hidden_size
    q = _ceil_div(h, tp)
    kv = spec.kv_heads_per_device(tp) * spec.head_dim
    ffn = _ceil_div(spec.ffn_size, tp)
    params = h * (q + 2 * kv) + q * h + spec.mlp_matrices * h * ffn + 2 * h
    return params * spec.dtype_bytes


def stage_weight_bytes(spec: LLMSpec, *, tp: int, pp: int) -> tuple[int, ...]:
    """Weight bytes on one device of each pipeline stage.

    Parameters
    ----------
    spec : LLMSpec
        The model.
    tp : int
        Tensor-parallel degree.
    pp : int
        Pipeline stages.

    Returns
    -------
    tuple of int
        One entry per stage: its layers' shards, plus the embedding shard on the first
        stage and the LM-head shard and final norm on the last.

    Raises
    ------
    SpecError
        If ``tp`` cannot shard the model or ``pp`` exceeds its layers.

    Examples
    --------
    >>> from alpaserve.llm.spec import llm_preset
    >>> spec = llm_preset("llama-2-7b")
    >>> sum(stage_weight_bytes(spec, tp=1, pp=2)) == spec.weight_bytes
    True
    """
    _check_shape(spec, tp, pp)
    layer = layer_bytes_per_device(spec, tp=tp)
    vocab_shard = _ceil_div(spec.vocab_size, tp) * spec.hidden_size * spec.dtype_bytes
    out = []
    for i, layers in enumerate(stage_layers(spec, pp=pp)):
        total = layers * layer
        if i == 0:
            total += vocab_shard
        if i == pp - 1:
            total += vocab_shard + spec.hidden_size * spec.dtype_bytes
        out.append(total)
    return tuple(out)


def weight_bytes_per_device(spec: LLMSpec, *, tp: int, pp: int) -> int:
    """Weight bytes on the most loaded device of a ``tp × pp`` replica.

    Parameters
    ----------
    spec : LLMSpec
        The model.
    tp : int
        Tensor-parallel degree.
    pp : int
        Pipeline stages.

    Returns
    -------
    int
        The largest entry of :func:`stage_weight_bytes`.

    Examples
    --------
    >>> from alpaserve.llm.spec import llm_preset
    >>> spec = llm_preset("llama-2-70b")
    >>> round(weight_bytes_per_device(spec, tp=4, pp=1) / 2**30, 1)
    32.1
    """
    return max(stage_weight_bytes(spec, tp=tp, pp=pp))


def kv_bytes_per_token_per_device(spec: LLMSpec, *, tp: int, pp: int) -> tuple[int, ...]:
    """KV-cache bytes one token takes on one device of each stage.

    Parameters
    ----------
    spec : LLMSpec
        The model.
    tp : int
        Tensor-parallel degree.
    pp : int
        Pipeline stages.

    Returns
    -------
    tuple of int
        ``2 · stage layers · KV heads per device · head_dim · dtype_bytes`` per stage.

    Examples
    --------
    >>> from alpaserve.llm.spec import llm_preset
    >>> kv_bytes_per_token_per_device(llm_preset("llama-2-7b"), tp=2, pp=2)
    (131072, 131072)
    """
    _check_shape(spec, tp, pp)
    per_layer = 2 * spec.kv_heads_per_device(tp) * spec.head_dim * spec.dtype_bytes
    return tuple(layers * per_layer for layers in stage_layers(spec, pp=pp))


def activation_reserve_bytes(spec: LLMSpec, *, tp: int, max_batched_tokens: int = 8192,
                             max_num_seqs: int = 256) -> int:
    """Peak activation bytes of one forward pass, per device (vLLM's profiling run).

    The live tensors of the widest point of a layer: the residual stream and the normed
    input (``2 h``), the fused QKV output, and the gated MLP's up/gate output with the
    activation's output (``3 · ffn / tp``), for every token of the budget; plus fp32 logits
    and probabilities of the whole vocabulary for every scheduled sequence.

    Parameters
    ----------
    spec : LLMSpec
        The model.
    tp : int
        Tensor-parallel degree.
    max_batched_tokens : int, default 8192
        Most tokens in one iteration.
    max_num_seqs : int, default 256
        Most sequences in one iteration.

    Returns
    -------
    int
        Bytes.

    Examples
    --------
    >>> from alpaserve.llm.spec import llm_preset
    >>> round(activation_reserve_bytes(llm_preset("llama-2-7b"), tp=1) / 2**30, 2)
    0.88
    """
    spec.check_tensor_degree(tp)
    positive_int("activation_reserve_bytes", "max_batched_tokens", max_batched_tokens)
    positive_int("activation_reserve_bytes", "max_num_seqs", max_num_seqs)
    h = spec.hidden_size
    qkv = _ceil_div(h, tp) + 2 * spec.kv_heads_per_device(tp) * spec.head_dim
    mlp = (spec.mlp_matrices) * _ceil_div(spec.ffn_size, tp)
    per_token = (2 * h + qkv + mlp) * spec.dtype_bytes
    logits = max_num_seqs * spec.vocab_size * _LOGIT_BYTES * _LOGIT_COPIES
    return max_batched_tokens * per_token + logits
