"""What devices hold and what moving between two deployments costs (SpotServe).

Every device of a deployment holds a tensor shard ``[rank/T, (rank+1)/T)`` of its stage's
blocks (layers, plus the embedding on the first stage and the LM-head copy on the last stage
when ``P > 1``) and the KV cache of its replica's in-flight batch for those layers.
:func:`evaluate_transfer` prices a given mapping: whatever a position needs and its device
lacks is sent by a device on the same node if those together hold it (intra-node link), else
by any source device (inter-node), else weights are read from storage (KV cache cannot be;
that batch is not carried). Each node receives over one NIC and one storage link; each
device over its own PCIe link. The planner that chooses the mapping is
:mod:`alpaserve.spot.migration`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from alpaserve.cost.llm import LLMConfig
from alpaserve.model_spec import ModelSpec
from alpaserve.spot.deployment import Deployment, DeviceKey
from alpaserve.spot.hardware import SpotHardware


@dataclass(frozen=True, kw_only=True)
class Shard:
    """What one device holds (or one position needs).

    Parameters
    ----------
    start, end : int
        Layers ``[start, end)``.
    embedding : bool
        Whether it holds the token embedding (first stage).
    head : bool
        Whether it holds the LM-head copy (last stage when ``pipeline > 1``).
    lo, hi : float
        Its tensor-parallel fraction ``[lo, hi)`` of each of those blocks, in [0, 1].
    """

    start: int
    end: int
    embedding: bool
    head: bool
    lo: float
    hi: float


def shard_of(model: ModelSpec, config: LLMConfig, stage: int, rank: int) -> Shard:
    """The shard at ``(stage, rank)`` of ``config`` (uniform layer split).

    Parameters
    ----------
    model : ModelSpec
        The decoder.
    config : LLMConfig
        Its config.
    stage : int
        Pipeline stage, ``0 <= stage < config.pipeline``.
    rank : int
        Tensor rank, ``0 <= rank < config.tensor``.

    Returns
    -------
    Shard
        What that position holds.

    Raises
    ------
    SpecError
        ``config`` cannot run ``model``.
    """
    pc = config.parallel_config(model)
    st = pc.stages[stage]
    t = config.tensor
    return Shard(start=st.layer_start, end=st.layer_end, embedding=stage == 0,
                 head=stage == config.pipeline - 1 and config.pipeline > 1,
                 lo=rank / t, hi=(rank + 1) / t)


def _overlap(a: Shard, b: Shard) -> tuple[int, float]:
    return max(0, min(a.end, b.end) - max(a.start, b.start)), max(0.0, min(a.hi, b.hi)
                                                                  - max(a.lo, b.lo))


def reuse_bytes(model: ModelSpec, held: Shard, needed: Shard, *, kv_tokens: int = 0) -> float:
    """Bytes of ``needed`` (weights, plus KV of ``kv_tokens`` tokens) already in ``held``.

    Parameters
    ----------
    model : ModelSpec
        The decoder.
    held : Shard
        What a device holds.
    needed : Shard
        What a position needs.
    kv_tokens : int
        Context tokens of the batch whose KV cache counts (0: weights only).

    Returns
    -------
    float
        Bytes reusable in place.

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> m = model_preset("gpt-1.3b")
    >>> a = shard_of(m, LLMConfig(data=1, pipeline=1, tensor=2, batch=1), 0, 0)
    >>> b = shard_of(m, LLMConfig(data=1, pipeline=1, tensor=4, batch=1), 0, 1)
    >>> reuse_bytes(m, a, b) == m.weight_bytes / 4
    True
    """
    layers, frac = _overlap(held, needed)
    if frac <= 0:
        return 0.0
    params = layers * model.layer_params(0)
    if held.embedding and needed.embedding:
        params += model.embedding_params
    if held.head and needed.head:
        params += model.vocab_size * model.hidden_size
    kv = layers * kv_tokens * model.kv_cache_bytes_per_token() / model.num_layers
    return frac * (params * model.dtype_bytes + kv)


@dataclass(frozen=True, kw_only=True)
class MigrationPlan:
    """A new deployment, which in-flight batches it carries, and what moving costs.

    Parameters
    ----------
    deployment : Deployment
        The new deployment.
    replica_map : tuple of int or None
        ``replica_map[i]``: the new replica that resumes old replica ``i``'s batch with its
        KV cache, or ``None``.
    kept : tuple of (int, int)
        ``(old, new)`` replicas identical in config and devices, which may keep serving
        through the change.
    reused_bytes : float
        Weight and KV bytes already in place.
    intra_node_bytes, inter_node_bytes, storage_bytes : float
        Weight bytes sent inside nodes, between nodes, and read from storage.
    kv_bytes : float
        KV-cache bytes sent.
    weight_time, kv_time : float
        Seconds to move the weights, then the KV cache (the busiest node or device).
    """

    deployment: Deployment
    replica_map: tuple[int | None, ...]
    kept: tuple[tuple[int, int], ...]
    reused_bytes: float
    intra_node_bytes: float
    inter_node_bytes: float
    storage_bytes: float
    kv_bytes: float
    weight_time: float
    kv_time: float

    @property
    def moved_bytes(self) -> float:
        """Weight bytes sent between devices or read from storage, plus KV bytes sent."""
        return self.intra_node_bytes + self.inter_node_bytes + self.storage_bytes + self.kv_bytes

    @property
    def transfer_time(self) -> float:
        return self.weight_time + self.kv_time


def _holdings(model: ModelSpec, old: Deployment | None) -> dict[DeviceKey, tuple[int, Shard]]:
    if old is None:
        return {}
    out = {}
    for i, rep in enumerate(old.replicas):
        for k, dev in enumerate(rep):
            out[dev] = (i, shard_of(model, old.config, k // old.config.tensor,
                                    k % old.config.tensor))
    return out


def _covers(intervals: list[tuple[float, float]], lo: float, hi: float) -> bool:
    reach = lo
    for a, b in sorted(intervals):
        if a > reach + 1e-12:
            break
        reach = max(reach, b)
        if reach >= hi - 1e-12:
            return True
    return reach >= hi - 1e-12


def _blocks(shard: Shard, num_layers: int) -> list[int]:
    out = list(range(shard.start, shard.end))
    if shard.embedding:
        out.append(num_layers)
    if shard.head:
        out.append(num_layers + 1)
    return out


def _block_bytes(model: ModelSpec, block: int) -> tuple[float, float]:
    """(weight bytes, KV bytes per token) of a whole block."""
    if block < model.num_layers:
        return (model.layer_params(0) * model.dtype_bytes,
                model.kv_cache_bytes_per_token() / model.num_layers)
    if block == model.num_layers:
        return model.embedding_params * model.dtype_bytes, 0.0
    return model.vocab_size * model.hidden_size * model.dtype_bytes, 0.0


def evaluate_transfer(*, model: ModelSpec, hardware: SpotHardware, old: Deployment | None,
                      kv_tokens: Sequence[int], new: Deployment,
                      replica_map: Sequence[int | None],
                      sources: Collection[DeviceKey]) -> MigrationPlan:
    """Bytes and time to turn ``old`` into ``new`` for a given device and replica mapping.

    A carried batch whose KV cache the sources do not hold in full is dropped from
    ``replica_map``.

    Parameters
    ----------
    model : ModelSpec
        The decoder.
    hardware : SpotHardware
        Links and storage bandwidth.
    old : Deployment or None
        The deployment serving now (``None``: everything comes from storage).
    kv_tokens : sequence of int
        Context tokens of each old replica's in-flight batch.
    new : Deployment
        The new deployment.
    replica_map : sequence of int or None
        The new replica carrying each old replica's batch, or ``None``.
    sources : collection of DeviceKey
        Old devices that can still send.

    Returns
    -------
    MigrationPlan
        Bytes reused and moved, and the transfer times.
    """
    held = {d: s for d, (_, s) in _holdings(model, old).items() if d in set(sources)}
    rep_of = {d: i for d, (i, _) in _holdings(model, old).items()}
    inv = {j: i for i, j in enumerate(replica_map) if j is not None}
    nl = model.num_layers
    # Union of what sources hold, per block: on each node, and anywhere.
    on_node: dict[tuple[str, int], list[tuple[float, float]]] = {}
    anywhere: dict[int, list[tuple[float, float]]] = {}
    kv_node: dict[tuple[int, str, int], list[tuple[float, float]]] = {}
    kv_any: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for dev, sh in held.items():
        for blk in _blocks(sh, nl):
            on_node.setdefault((dev[0], blk), []).append((sh.lo, sh.hi))
            anywhere.setdefault(blk, []).append((sh.lo, sh.hi))
            kv_node.setdefault((rep_of[dev], dev[0], blk), []).append((sh.lo, sh.hi))
            kv_any.setdefault((rep_of[dev], blk), []).append((sh.lo, sh.hi))
    # A carried batch needs its whole KV cache to be reachable.
    carried = dict(inv)
    for j, i in list(carried.items()):
        if not all(_covers(kv_any.get((i, b), []), 0.0, 1.0) for b in range(nl)):
            del carried[j]
    fixed_map = tuple(j if j in carried and carried[j] == i else None
                      for i, j in enumerate(replica_map))
    reused = intra = inter = storage = kv_moved = 0.0
    node_in: dict[str, list[float]] = {}  # node -> [inter w, storage w, inter kv]
    dev_in: dict[DeviceKey, list[float]] = {}  # device -> [intra w, intra kv]
    kept = []
    old_index = {rep: i for i, rep in enumerate(old.replicas)} if old is not None else {}
    same_shape = old is not None and old.config.with_data(1) == new.config.with_data(1)
    for j, rep in enumerate(new.replicas):
        i_kv = carried.get(j)
        tokens = int(kv_tokens[i_kv]) if i_kv is not None else 0
        for k, dev in enumerate(rep):
            need = shard_of(model, new.config, k // new.config.tensor, k % new.config.tensor)
            mine = held.get(dev)
            mine_kv = mine if mine is not None and rep_of.get(dev) == i_kv else None
            nrec = node_in.setdefault(dev[0], [0.0, 0.0, 0.0])
            drec = dev_in.setdefault(dev, [0.0, 0.0])
            mine_blocks = set(_blocks(mine, nl)) if mine is not None else set()
            for blk in _blocks(need, nl):
                w_bytes, kv_per_tok = _block_bytes(model, blk)
                frac = need.hi - need.lo
                have = 0.0
                if mine is not None and blk in mine_blocks:
                    have = max(0.0, min(mine.hi, need.hi) - max(mine.lo, need.lo))
                have_kv = have if mine_kv is not None else 0.0
                reused += have * w_bytes + have_kv * kv_per_tok * tokens
                miss_w = (frac - have) * w_bytes
                miss_kv = (frac - have_kv) * kv_per_tok * tokens
                # The LM-head copy is the token embedding: either block can source it.
                alias = nl if blk == nl + 1 else blk
                if miss_w > 0:
                    if (_covers(on_node.get((dev[0], blk), []), need.lo, need.hi)
                            or _covers(on_node.get((dev[0], alias), []), need.lo, need.hi)):
                        intra += miss_w
                        drec[0] += miss_w
                    elif (_covers(anywhere.get(blk, []), need.lo, need.hi)
                          or _covers(anywhere.get(alias, []), need.lo, need.hi)):
                        inter += miss_w
                        nrec[0] += miss_w
                    else:
                        storage += miss_w
                        nrec[1] += miss_w
                if miss_kv > 0 and i_kv is not None:
                    kv_moved += miss_kv
                    if _covers(kv_node.get((i_kv, dev[0], blk), []), need.lo, need.hi):
                        drec[1] += miss_kv
                    else:
                        nrec[2] += miss_kv
        if same_shape and rep in old_index and all(d in held for d in rep):
            kept.append((old_index[rep], j))
    hw = hardware
    weight_time = kv_time = 0.0
    for node, (inter_w, stor_w, inter_kv) in node_in.items():
        devs = [v for d, v in dev_in.items() if d[0] == node]
        weight_time = max(weight_time, inter_w / hw.inter_node_bandwidth
                          + stor_w / hw.storage_bandwidth
                          + max((v[0] for v in devs), default=0.0) / hw.intra_node_bandwidth)
        kv_time = max(kv_time, inter_kv / hw.inter_node_bandwidth
                      + max((v[1] for v in devs), default=0.0) / hw.intra_node_bandwidth)
    return MigrationPlan(deployment=new, replica_map=fixed_map, kept=tuple(kept),
                         reused_bytes=reused, intra_node_bytes=intra,
                         inter_node_bytes=inter, storage_bytes=storage, kv_bytes=kv_moved,
                         weight_time=weight_time, kv_time=kv_time)
