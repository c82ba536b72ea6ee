"""Memory of one LLM replica on ``tp × pp`` devices: the budget, and the KV-cache blocks.

The KV cache is sized as vLLM does: each device may use ``memory_fraction`` of its memory
(and never more than the device's usable memory), minus its weights and the peak activations
of a forward pass over the scheduler's token budget; the rest holds KV blocks of
``block_size`` tokens for its stage's layers and its KV heads. Every device of a replica
holds the same number of blocks, so the replica's capacity is the least over its stages.

The weights, KV bytes per token and activation reserve of each device are
:mod:`alpaserve.llm.shards`' (re-exported here).
"""

from __future__ import annotations

from dataclasses import dataclass

from alpaserve._validation import non_negative_int, positive_int
from alpaserve.device_spec import GIB, DeviceSpec
from alpaserve.errors import InfeasibleError, SpecError
from alpaserve.llm.shards import (
    _check_shape,
    activation_reserve_bytes,
    kv_bytes_per_token_per_device,
    stage_weight_bytes,
)
from alpaserve.llm.shards import layer_bytes_per_device as layer_bytes_per_device
from alpaserve.llm.shards import stage_layers as stage_layers
from alpaserve.llm.shards import weight_bytes_per_device as weight_bytes_per_device
from alpaserve.llm.spec import LLMSpec


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
