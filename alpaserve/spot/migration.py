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
3. *Transfers.* :func:`~alpaserve.spot.transfer.evaluate_transfer` prices the result.

A one-byte bonus for keeping a device at the same (replica, stage, rank) index makes an
unchanged config map every device onto itself.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt

from alpaserve.cost.llm import LLMConfig
from alpaserve.errors import InfeasibleError, SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.spot.deployment import Deployment, DeviceKey, pack_devices
from alpaserve.spot.hardware import SpotHardware
from alpaserve.spot.transfer import (
    MigrationPlan,
    Shard,
    _covers,
    _holdings,
    evaluate_transfer,
    reuse_bytes,
    shard_of,
)

__all__ = ["EXACT_REPLICA_MAPS", "MigrationPlan", "Shard", "evaluate_transfer",
           "max_reuse_assignment", "plan_migration", "reuse_bytes", "shard_of"]

_STAY_BONUS = 1.0
# Outweighs any byte count, so the most batches are carried before bytes are compared.
_CARRY_BONUS = 1e18
# Up to this many candidate replica mappings, every one is tried (exact plan).
EXACT_REPLICA_MAPS = 720


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


def _positions(model: ModelSpec, config: LLMConfig) -> list[tuple[int, Shard]]:
    out = []
    for j in range(config.data):
        for stage in range(config.pipeline):
            for rank in range(config.tensor):
                out.append((j, shard_of(model, config, stage, rank)))
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
    >>> from alpaserve.model_presets import model_preset
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
