"""Memory of one LLM replica on ``tp × pp`` devices: weights per device and KV-cache blocks.

Placement of the weights (Megatron/vLLM):

* layers are split over the ``pp`` stages as evenly as possible, the first
  ``num_layers % pp`` stages taking one layer more;
* inside a stage every matrix is sharded ``tp`` ways (Q and the MLP by columns or rows, K
  and V by KV head; with ``tp > num_kv_heads`` each device keeps one KV head, replicated);
  the two RMSNorm vectors of a layer are replicated;
* the token embedding is vocabulary-parallel on the first stage; the final norm and the
  untied LM head (vocabulary-parallel) on the last. With ``pp == 1`` both are on the one
  stage.

The KV cache is sized as vLLM does: each device may use ``memory_fraction`` of its memory
(and never more than the device's usable memory), minus its weights and the peak activations
of a forward pass over the scheduler's token budget; the rest holds KV blocks of
``block_size`` tokens for its stage's layers and its KV heads. Every device of a replica
holds the same number of blocks, so the replica's capacity is the least over its stages.
"""

from __future__ import annotations

from dataclasses import dataclass

from alpaserve._validation import non_negative_int, positive_int
from alpaserve.device_spec import GIB, DeviceSpec
from alpaserve.errors import InfeasibleError, SpecError
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


@dataclass(frozen=True, kw_only=True)
class ReplicaMemory:
    """How one device's memory is spent, on the replica's bottleneck stage.

    Parameters
    ----------
    budget_bytes : int
        Memory one device may use (``memory_fraction`` of it, capped by the usable memory).
    weight_bytes : int
        Weights on the bottleneck device.
    activation_bytes : int
        Activation reserve.
    kv_block_bytes : int
        Bytes of one KV block on that device.
    blocks : int
        KV blocks every device of the replica holds (the replica's capacity).
    block_size : int
        Tokens per block.
    """

    budget_bytes: int
    weight_bytes: int
    activation_bytes: int
    kv_block_bytes: int
    blocks: int
    block_size: int

    @property
    def kv_tokens(self) -> int:
        """Tokens the replica's KV cache holds."""
        return self.blocks * self.block_size


def replica_memory(spec: LLMSpec, device: DeviceSpec, *, tp: int, pp: int,
                   block_size: int = 16, memory_fraction: float = 0.9,
                   activation_reserve: int | None = None, max_batched_tokens: int = 8192,
                   max_num_seqs: int = 256) -> ReplicaMemory:
    """The memory breakdown of one replica and its KV capacity (blocks may be 0).

    Parameters
    ----------
    spec : LLMSpec
        The model.
    device : DeviceSpec
        One device of the replica (all alike).
    tp : int
        Tensor-parallel degree.
    pp : int
        Pipeline stages.
    block_size : int, default 16
        Tokens per KV block.
    memory_fraction : float, default 0.9
        Fraction of the device's memory the server may use (vLLM's
        ``gpu_memory_utilization``), in ``(0, 1]``.
    activation_reserve : int, optional
        Activation bytes per device; by default :func:`activation_reserve_bytes`.
    max_batched_tokens : int, default 8192
        Token budget of one iteration, for the default activation reserve.
    max_num_seqs : int, default 256
        Sequences per iteration, for the default activation reserve.

    Returns
    -------
    ReplicaMemory
        Its ``blocks`` is the least over the stages of free bytes over block bytes, or 0.

    Raises
    ------
    SpecError
        If an argument is out of range.
    """
    _check_shape(spec, tp, pp)
    positive_int("replica_memory", "block_size", block_size)
    if (isinstance(memory_fraction, bool) or not isinstance(memory_fraction, int | float)
            or not 0 < memory_fraction <= 1):
        raise SpecError(f"memory_fraction must be in (0, 1], got {memory_fraction!r}")
    if activation_reserve is None:
        activation_reserve = activation_reserve_bytes(
            spec, tp=tp, max_batched_tokens=max_batched_tokens, max_num_seqs=max_num_seqs)
    non_negative_int("replica_memory", "activation_reserve", activation_reserve)
    budget = min(int(device.memory_bytes * memory_fraction), device.usable_memory_bytes)
    weights = stage_weight_bytes(spec, tp=tp, pp=pp)
    kv_tokens = kv_bytes_per_token_per_device(spec, tp=tp, pp=pp)
    # (blocks, weight bytes, block bytes) per stage; the replica is bound by its fewest
    stages = [(max(0, (budget - w - activation_reserve) // (kv * block_size)), w,
               kv * block_size) for w, kv in zip(weights, kv_tokens, strict=True)]
    best = min(stages, key=lambda s: s[0])
    return ReplicaMemory(budget_bytes=budget, weight_bytes=best[1],
                         activation_bytes=activation_reserve, kv_block_bytes=best[2],
                         blocks=best[0], block_size=block_size)


def kv_capacity_blocks(spec: LLMSpec, device: DeviceSpec, *, tp: int, pp: int,
                       block_size: int = 16, memory_fraction: float = 0.9,
                       activation_reserve: int | None = None, max_batched_tokens: int = 8192,
                       max_num_seqs: int = 256) -> int:
    """KV-cache blocks one ``tp × pp`` replica holds (vLLM's sizing).

    Parameters
    ----------
    spec : LLMSpec
        The model.
    device : DeviceSpec
        One device of the replica.
    tp : int
        Tensor-parallel degree.
    pp : int
        Pipeline stages.
    block_size : int, default 16
        Tokens per KV block.
    memory_fraction : float, default 0.9
        Fraction of device memory the server may use, in ``(0, 1]``.
    activation_reserve : int, optional
        Activation bytes per device; by default :func:`activation_reserve_bytes`.
    max_batched_tokens : int, default 8192
        Token budget of one iteration, for the default activation reserve.
    max_num_seqs : int, default 256
        Sequences per iteration, for the default activation reserve.

    Returns
    -------
    int
        Blocks, at least 1.

    Raises
    ------
    InfeasibleError
        If the weights and activations leave no room for one block, naming the numbers.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> from alpaserve.llm.spec import llm_preset
    >>> kv_capacity_blocks(llm_preset("llama-2-7b"), device_preset("a100-80gb"), tp=1, pp=1)
    7497
    """
    mem = replica_memory(spec, device, tp=tp, pp=pp, block_size=block_size,
                         memory_fraction=memory_fraction, activation_reserve=activation_reserve,
                         max_batched_tokens=max_batched_tokens, max_num_seqs=max_num_seqs)
    if mem.blocks < 1:
        raise InfeasibleError(
            f"{spec.name!r} does not fit on {device.name!r} with tp={tp}, pp={pp}: a device "
            f"may use {mem.budget_bytes / GIB:.2f} GiB ({memory_fraction:g} of memory) but "
            f"needs {mem.weight_bytes / GIB:.2f} GiB of weights + "
            f"{mem.activation_bytes / GIB:.2f} GiB of activations + "
            f"{mem.kv_block_bytes / 2**20:.2f} MiB for one KV block")
    return mem.blocks


def fits(spec: LLMSpec, device: DeviceSpec, *, tp: int, pp: int, block_size: int = 16,
         memory_fraction: float = 0.9, activation_reserve: int | None = None,
         max_batched_tokens: int = 8192, max_num_seqs: int = 256, min_blocks: int = 1) -> bool:
    """Whether a ``tp × pp`` replica holds its weights and at least ``min_blocks`` KV blocks.

    Parameters
    ----------
    spec : LLMSpec
        The model.
    device : DeviceSpec
        One device of the replica.
    tp : int
        Tensor-parallel degree (must shard the model).
    pp : int
        Pipeline stages.
    block_size : int, default 16
        Tokens per KV block.
    memory_fraction : float, default 0.9
        Fraction of device memory the server may use.
    activation_reserve : int, optional
        Activation bytes per device; by default :func:`activation_reserve_bytes`.
    max_batched_tokens : int, default 8192
        Token budget of one iteration, for the default activation reserve.
    max_num_seqs : int, default 256
        Sequences per iteration, for the default activation reserve.
    min_blocks : int, default 1
        Blocks required (e.g. ``ceil(max_context / block_size)`` for one full sequence).

    Returns
    -------
    bool
        True when it fits.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> from alpaserve.llm.spec import llm_preset
    >>> a100 = device_preset("a100-80gb")
    >>> big = llm_preset("llama-2-70b")
    >>> fits(big, a100, tp=1, pp=1), fits(big, a100, tp=4, pp=1)
    (False, True)
    """
    positive_int("fits", "min_blocks", min_blocks)
    mem = replica_memory(spec, device, tp=tp, pp=pp, block_size=block_size,
                         memory_fraction=memory_fraction, activation_reserve=activation_reserve,
                         max_batched_tokens=max_batched_tokens, max_num_seqs=max_num_seqs)
    return mem.blocks >= min_blocks
