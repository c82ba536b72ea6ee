"""SpotServe's migration planner: maximum-reuse device mapping, then transfer accounting.

Every device of the old deployment holds a tensor shard ``[rank/T, (rank+1)/T)`` of its
stage's blocks (layers, plus the embedding on the first stage and the LM-head copy on the
last stage when ``P > 1``) and the KV cache of its replica's in-flight batch for those
layers. Every position of the new config needs the same kind of shard.

1. *Replica mapping.* The in-flight batch of old replica ``i`` moves to new replica ``j``.
   Only batches that hold KV cache which the ``sources`` can supply in full compete for new
   replicas; as many of them as there are new replicas are carried (a busy batch is never
   dropped while a slot is free), and among such mappings the one reusing the most bytes in
   place wins. Small instances (at most ``EXACT_REPLICA_MAPS`` candidate mappings) are
   solved exactly by trying each mapping with the device matching below; larger ones use
   Kuhn-Munkres (``scipy.optimize.linear_sum_assignment``) over pair scores, a pair's score
   being a large constant plus the best device matching of ``i``'s devices onto ``j``'s
   positions.
2. *Device mapping.* Kuhn-Munkres again over all surviving devices × all new positions, an
   edge worth the weight bytes plus (for mapped replicas) the KV bytes reusable in place.
3. *Transfers.* Whatever a position needs and its device lacks is sent by a device on the same
   node if those together hold it (intra-node link), else by any source device (inter-node),
   else weights are read from storage (KV cache cannot be; that batch is not carried).
   Each node receives over one NIC and one storage link; each device over its own PCIe link.

A one-byte bonus for keeping a device at the same (replica, stage, rank) index makes an
unchanged config map every device onto itself.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alpaserve.cost.llm import LLMConfig
from alpaserve.errors import InfeasibleError, SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.spot.deployment import Deployment, DeviceKey, pack_devices
from alpaserve.spot.hardware import SpotHardware

_STAY_BONUS = 1.0
# Outweighs any byte count, so the most batches are carried before bytes are compared.
_CARRY_BONUS = 1e18
# Up to this many candidate replica mappings, every one is tried (exact plan).
EXACT_REPLICA_MAPS = 720


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
    >>> from alpaserve.model_spec import model_preset
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


def max_reuse_assignment(weights: npt.ArrayLike) -> tuple[list[tuple[int, int]], float]:
    """Kuhn-Munkres maximum-weight matching of rows (devices) onto columns (positions).

    Every column is matched when there are at least as many rows.

    Parameters
    ----------
    weights : array_like of shape (rows, columns)
        Value of each pairing (bytes reused).

    Returns
    -------
    tuple of (list of (int, int), float)
        The matched ``(row, column)`` pairs and their total value.

    Examples
    --------
    >>> max_reuse_assignment([[5, 1], [4, 3]])
    ([(0, 0), (1, 1)], 8.0)
    """
    from scipy.optimize import linear_sum_assignment

    w = np.asarray(weights, dtype=np.float64)
    if w.size == 0:
        return [], 0.0
    rows, cols = linear_sum_assignment(w, maximize=True)
    pairs = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]
    return pairs, float(w[rows, cols].sum())


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


def _positions(model: ModelSpec, config: LLMConfig) -> list[tuple[int, Shard]]:
    out = []
    for j in range(config.data):
        for stage in range(config.pipeline):
            for rank in range(config.tensor):
                out.append((j, shard_of(model, config, stage, rank)))
    return out


def _holdings(model: ModelSpec, old: Deployment | None) -> dict[DeviceKey, tuple[int, Shard]]:
    if old is None:
        return {}
    out = {}
    for i, rep in enumerate(old.replicas):
        for k, dev in enumerate(rep):
            out[dev] = (i, shard_of(model, old.config, k // old.config.tensor,
                                    k % old.config.tensor))
    return out


def plan_migration(*, model: ModelSpec, hardware: SpotHardware, old: Deployment | None,
                   kv_tokens: Sequence[int], new_config: LLMConfig,
                   devices: Sequence[DeviceKey],
                   sources: Collection[DeviceKey] | None = None) -> MigrationPlan:
    """Map ``new_config`` onto ``devices``: carry the most in-flight batches, then reuse the
    most bytes in place (module docstring).

    Parameters
    ----------
    model : ModelSpec
        The decoder served.
    hardware : SpotHardware
        Links and storage bandwidth, for the transfer times.
    old : Deployment or None
        The deployment serving now (``None``: a fresh load from storage).
    kv_tokens : sequence of int
        ``kv_tokens[i]``: context tokens cached by old replica ``i``'s in-flight batch.
    new_config : LLMConfig
        The config to lay out.
    devices : sequence of DeviceKey
        Devices the new deployment may use.
    sources : collection of DeviceKey, optional
        Devices that can still send (default: every old device, including those about to
        leave during their grace period).

    Returns
    -------
    MigrationPlan
        The new deployment, the batches carried and the transfer bytes and times.

    Raises
    ------
    InfeasibleError
        Fewer ``devices`` than ``new_config`` needs.
    SpecError
        ``kv_tokens`` does not have one entry per old replica.

    Examples
    --------
    >>> from alpaserve.model_spec import model_preset
    >>> from alpaserve.spot.hardware import g4dn_hardware
    >>> m, hw = model_preset("gpt-1.3b"), g4dn_hardware()
    >>> cfg = LLMConfig(data=2, pipeline=1, tensor=2, batch=4)
    >>> devs = [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    >>> same = plan_migration(model=m, hardware=hw, old=pack_devices(cfg, devs),
    ...                       kv_tokens=[100, 0], new_config=cfg, devices=devs)
    >>> same.moved_bytes, same.kept, same.replica_map
    (0.0, ((0, 0), (1, 1)), (0, None))
    """
    if len(devices) < new_config.num_devices:
        raise InfeasibleError(f"config {new_config.key} needs {new_config.num_devices} "
                              f"devices, only {len(devices)} are available")
    if old is not None and len(kv_tokens) != old.config.data:
        raise SpecError(f"kv_tokens has {len(kv_tokens)} entries for "
                        f"{old.config.data} old replicas")
    held = _holdings(model, old)
    positions = _positions(model, new_config)
    devs = list(devices)
    if not held:
        return evaluate_transfer(model=model, hardware=hardware, old=None, kv_tokens=(),
                                 new=pack_devices(new_config, devs), replica_map=(),
                                 sources=())
    kv = [int(k) for k in kv_tokens]
    weight = np.zeros((len(devs), len(positions)))
    kvpart = np.zeros_like(weight)
    stay = np.zeros_like(weight)
    rep_of = np.full(len(devs), -1)
    for r, dev in enumerate(devs):
        if dev not in held:
            continue
        i, shard = held[dev]
        rep_of[r] = i
        old_k = old.replicas[i].index(dev) if old else -1
        for c, (j, need) in enumerate(positions):
            weight[r, c] = reuse_bytes(model, shard, need)
            kvpart[r, c] = reuse_bytes(model, shard, need, kv_tokens=kv[i]) - weight[r, c]
            if j == i and c - j * new_config.replica_devices == old_k:
                stay[r, c] = _STAY_BONUS
    # 1. replica mapping over the batches whose whole KV cache the sources can supply.
    src = set(held) if sources is None else set(sources)
    per = new_config.replica_devices
    n_old = old.config.data if old else 0
    carriable = [i for i in range(n_old)
                 if kv[i] > 0 and _kv_reachable(model, old, i, src)]  # type: ignore[arg-type]
    col_rep = np.array([j for j, _ in positions])
    base = weight + stay

    def device_matching(mapping: dict[int, int]) -> tuple[list[tuple[int, int]], float]:
        total = base
        for i, j in mapping.items():
            total = total + np.where(np.outer(rep_of == i, col_rep == j), kvpart, 0.0)
        return max_reuse_assignment(total)

    n_maps = math.perm(new_config.data, min(len(carriable), new_config.data))
    if n_maps <= EXACT_REPLICA_MAPS:
        k = min(len(carriable), new_config.data)
        best_value, chosen, pairs = -math.inf, {}, []
        for batches in itertools.combinations(carriable, k):
            for targets in itertools.permutations(range(new_config.data), k):
                mapping = dict(zip(batches, targets, strict=True))
                cand, value = device_matching(mapping)
                if value > best_value + 1e-6:
                    best_value, chosen, pairs = value, mapping, cand
    else:
        full = weight + kvpart + stay
        score = np.zeros((len(carriable), new_config.data))
        for a, i in enumerate(carriable):
            rows = np.flatnonzero(rep_of == i)
            for j in range(new_config.data):
                sub = full[rows, j * per:(j + 1) * per]
                score[a, j] = (_CARRY_BONUS + max_reuse_assignment(sub)[1]
                               + (_STAY_BONUS if i == j else 0.0))
        chosen = {carriable[a]: j for a, j in max_reuse_assignment(score)[0]}
        # 2. device mapping with the KV term only along the chosen replica mapping.
        pairs, _ = device_matching(chosen)
    replica_map: list[int | None] = [chosen.get(i) for i in range(n_old)]
    by_col = {c: devs[r] for r, c in pairs}
    reps = tuple(tuple(by_col[j * per + k] for k in range(per)) for j in range(new_config.data))
    new = Deployment(config=new_config, replicas=reps)
    return evaluate_transfer(model=model, hardware=hardware, old=old, kv_tokens=kv, new=new,
                             replica_map=tuple(replica_map),
                             sources=set(held) if sources is None else sources)


def _kv_reachable(model: ModelSpec, old: Deployment, replica: int,
                  sources: Collection[DeviceKey]) -> bool:
    """Whether ``sources`` hold every layer's KV shard of old ``replica`` in full."""
    cover: dict[int, list[tuple[float, float]]] = {}
    cfg = old.config
    for k, dev in enumerate(old.replicas[replica]):
        if dev in sources:
            sh = shard_of(model, cfg, k // cfg.tensor, k % cfg.tensor)
            for layer in range(sh.start, sh.end):
                cover.setdefault(layer, []).append((sh.lo, sh.hi))
    return all(_covers(cover.get(layer, []), 0.0, 1.0) for layer in range(model.num_layers))


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
