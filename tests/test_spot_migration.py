"""The KM migration planner: optimality, in-place reuse, byte conservation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.cost.llm import LLMConfig
from alpaserve.device_spec import device_preset
from alpaserve.errors import InfeasibleError, SpecError
from alpaserve.model_presets import model_preset
from alpaserve.model_spec import ModelSpec
from alpaserve.spot.deployment import Deployment, devices_of_nodes, pack_devices
from alpaserve.spot.hardware import SpotHardware
from alpaserve.spot.migration import (
    MigrationPlan,
    Shard,
    evaluate_transfer,
    max_reuse_assignment,
    plan_migration,
    reuse_bytes,
    shard_of,
)

MODEL = model_preset("gpt-1.3b")
HW = SpotHardware(device=device_preset("t4"), gpus_per_node=2, intra_node_bandwidth=10e9,
                  inter_node_bandwidth=1e9, storage_bandwidth=0.5e9)
DEVICES = devices_of_nodes([("a", 2), ("b", 2), ("c", 2)])
SHAPES = [(d, p, t) for d in (1, 2) for p in (1, 2) for t in (1, 2) if d * p * t <= 4]


def config(shape: tuple[int, int, int]) -> LLMConfig:
    d, p, t = shape
    return LLMConfig(data=d, pipeline=p, tensor=t, batch=2)


def held(dep: Deployment) -> dict[tuple[str, int], tuple[int, Shard]]:
    out = {}
    for i, rep in enumerate(dep.replicas):
        for k, dev in enumerate(rep):
            c = dep.config
            out[dev] = (i, shard_of(MODEL, c, k // c.tensor, k % c.tensor))
    return out


def assignment_value(old: Deployment, kv: list[int], new: Deployment,
                     replica_map: tuple[int | None, ...]) -> float:
    h = held(old)
    total = 0.0
    for j, rep in enumerate(new.replicas):
        for k, dev in enumerate(rep):
            need = shard_of(MODEL, new.config, k // new.config.tensor, k % new.config.tensor)
            if dev in h:
                i, shard = h[dev]
                tokens = kv[i] if replica_map[i] == j else 0
                total += reuse_bytes(MODEL, shard, need, kv_tokens=tokens)
    return total


@given(st.lists(st.lists(st.integers(0, 100), min_size=3, max_size=3), min_size=3,
                max_size=5))
def test_km_equals_brute_force(rows: list[list[int]]) -> None:
    w = np.array(rows, dtype=float)
    pairs, value = max_reuse_assignment(w)
    assert sorted(c for _, c in pairs) == [0, 1, 2]
    best = max(sum(w[r, c] for c, r in enumerate(perm))
               for perm in itertools.permutations(range(w.shape[0]), 3))
    assert value == pytest.approx(best)


@settings(max_examples=40)
@given(st.sampled_from(SHAPES), st.sampled_from(SHAPES), st.integers(0, 2**16),
       st.integers(4, 6))
def test_device_mapping_is_optimal_and_bytes_are_conserved(old_shape: tuple[int, int, int],
                                                           new_shape: tuple[int, int, int],
                                                           seed: int, survivors: int) -> None:
    rng = np.random.default_rng(seed)
    old = pack_devices(config(old_shape), DEVICES)
    kv = [int(x) for x in rng.integers(0, 300, size=old.config.data)]
    usable = [DEVICES[i] for i in sorted(rng.choice(6, size=survivors, replace=False))]
    new_cfg = config(new_shape)
    plan = plan_migration(model=MODEL, hardware=HW, old=old, kv_tokens=kv,
                          new_config=new_cfg, devices=usable)
    assert set(plan.deployment.devices) <= set(usable)
    got = assignment_value(old, kv, plan.deployment, plan.replica_map)
    # Brute force over every injective placement of the new positions onto usable devices.
    per = new_cfg.replica_devices
    best = 0.0
    for perm in itertools.permutations(usable, new_cfg.num_devices):
        reps = tuple(tuple(perm[j * per:(j + 1) * per]) for j in range(new_cfg.data))
        cand = Deployment(config=new_cfg, replicas=reps)
        best = max(best, assignment_value(old, kv, cand, plan.replica_map))
    assert got == pytest.approx(best, rel=1e-9, abs=8.0)
    # Everything a position needs is either reused in place or moved.
    need = 0.0
    for j in range(new_cfg.data):
        carried = [i for i, t in enumerate(plan.replica_map) if t == j]
        tokens = kv[carried[0]] if carried else 0
        for s in range(new_cfg.pipeline):
            for r in range(new_cfg.tensor):
                sh = shard_of(MODEL, new_cfg, s, r)
                need += reuse_bytes(MODEL, sh, sh, kv_tokens=tokens)
    assert plan.reused_bytes + plan.moved_bytes == pytest.approx(need, rel=1e-9)
    assert plan.storage_bytes == 0.0  # the old deployment held a complete copy


@pytest.mark.parametrize("shape", SHAPES)
def test_unchanged_config_keeps_every_device_in_place(shape: tuple[int, int, int]) -> None:
    old = pack_devices(config(shape), DEVICES)
    kv = [100 * (i + 1) for i in range(old.config.data)]
    plan = plan_migration(model=MODEL, hardware=HW, old=old, kv_tokens=kv,
                          new_config=old.config, devices=DEVICES)
    assert plan.deployment == old
    assert plan.moved_bytes == 0.0
    assert plan.transfer_time == 0.0
    assert plan.kept == tuple((i, i) for i in range(old.config.data))
    assert plan.replica_map == tuple(range(old.config.data))


def test_fresh_load_reads_storage() -> None:
    plan = plan_migration(model=MODEL, hardware=HW, old=None, kv_tokens=(),
                          new_config=config((1, 1, 2)), devices=DEVICES[:2])
    assert plan.storage_bytes == pytest.approx(MODEL.weight_bytes, rel=1e-3)
    # Two devices of one node share its storage link.
    assert plan.weight_time == pytest.approx(plan.storage_bytes / HW.storage_bandwidth)


def test_lost_kv_is_not_carried_and_weights_fall_back_to_storage() -> None:
    old = pack_devices(config((1, 1, 2)), DEVICES[:2])
    plan = plan_migration(model=MODEL, hardware=HW, old=old, kv_tokens=[500],
                          new_config=config((1, 1, 2)), devices=DEVICES[2:4],
                          sources=[DEVICES[0]])
    assert plan.replica_map == (None,)
    assert plan.kv_bytes == 0.0
    assert plan.storage_bytes == pytest.approx(MODEL.weight_bytes / 2, rel=1e-3)
    assert plan.inter_node_bytes == pytest.approx(MODEL.weight_bytes / 2, rel=1e-3)


def test_regrouping_moves_within_nodes_when_possible() -> None:
    old = pack_devices(config((1, 1, 2)), DEVICES[:2])  # one TP-2 replica on node a
    plan = plan_migration(model=MODEL, hardware=HW, old=old, kv_tokens=[0],
                          new_config=config((2, 1, 1)), devices=DEVICES[:2])
    assert plan.inter_node_bytes == 0.0
    assert plan.storage_bytes == 0.0
    # Each device holds half of the model and fetches the other half from its neighbour.
    assert plan.intra_node_bytes == pytest.approx(MODEL.weight_bytes, rel=1e-3)
    assert plan.weight_time == pytest.approx(MODEL.weight_bytes / 2 / HW.intra_node_bandwidth,
                                             rel=1e-3)
    assert isinstance(plan, MigrationPlan)
    assert plan.kept == ()
    # Splitting the replica back keeps both devices where they are: nothing to send.
    back = plan_migration(model=MODEL, hardware=HW, old=plan.deployment, kv_tokens=[0, 0],
                          new_config=config((1, 1, 2)), devices=DEVICES[:2])
    assert back.moved_bytes == 0.0


def test_errors() -> None:
    old = pack_devices(config((1, 1, 2)), DEVICES[:2])
    with pytest.raises(InfeasibleError, match="needs 4 devices"):
        plan_migration(model=MODEL, hardware=HW, old=old, kv_tokens=[0],
                       new_config=config((2, 1, 2)), devices=DEVICES[:3])
    with pytest.raises(SpecError, match="kv_tokens has 2 entries"):
        plan_migration(model=MODEL, hardware=HW, old=old, kv_tokens=[0, 0],
                       new_config=config((1, 1, 2)), devices=DEVICES)


# ---------------------------------------------------------------- carried batches (issue 19)
G4 = SpotHardware(device=device_preset("t4"), gpus_per_node=4, intra_node_bandwidth=8e9,
                  inter_node_bandwidth=6.25e9)


def test_busy_batch_is_carried_into_the_only_slot() -> None:
    # Grace period: a0 (busy, 500 KV tokens) is leaving, a1 is idle; one slot, on a1.
    old = Deployment(config=LLMConfig(data=2, pipeline=1, tensor=1, batch=2),
                     replicas=((("a", 0),), (("a", 1),)))
    plan = plan_migration(model=MODEL, hardware=G4, old=old, kv_tokens=[500, 0],
                          new_config=LLMConfig(data=1, pipeline=1, tensor=1, batch=2),
                          devices=[("a", 1)])
    assert plan.replica_map == (0, None)
    assert plan.kv_bytes == pytest.approx(98.304e6)
    assert plan.transfer_time == pytest.approx(0.012288)


def test_batch_the_sources_cannot_supply_does_not_compete() -> None:
    # Past the grace period a0 cannot send, so the batch cannot be carried; it must not
    # steer the device mapping away from the most weight reuse.
    old = pack_devices(LLMConfig(data=1, pipeline=1, tensor=4, batch=2),
                       [("a", i) for i in range(4)])
    plan = plan_migration(model=MODEL, hardware=G4, old=old, kv_tokens=[5000],
                          new_config=LLMConfig(data=2, pipeline=2, tensor=1, batch=2),
                          devices=[("a", 1), ("a", 2), ("b", 0), ("b", 1)],
                          sources=[("a", 1), ("a", 2), ("a", 3)])
    assert plan.replica_map == (None,)
    assert plan.moved_bytes == pytest.approx(4.97668096e9)


TINY = ModelSpec(name="tiny", family="gpt", num_layers=4, hidden_size=256, num_heads=4,
                 ffn_size=1024, vocab_size=1000, seq_len=512)


def _score(plan: MigrationPlan) -> tuple[int, float]:
    return sum(j is not None for j in plan.replica_map), plan.reused_bytes


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(SHAPES), st.sampled_from(SHAPES), st.integers(0, 2**16),
       st.integers(3, 5))
def test_plan_matches_exhaustive_search(old_shape: tuple[int, int, int],
                                        new_shape: tuple[int, int, int], seed: int,
                                        survivors: int) -> None:
    rng = np.random.default_rng(seed)
    d, p, t = old_shape
    old = pack_devices(LLMConfig(data=d, pipeline=p, tensor=t, batch=2), DEVICES)
    new_cfg = LLMConfig(data=new_shape[0], pipeline=new_shape[1], tensor=new_shape[2],
                        batch=2)
    usable = [DEVICES[i] for i in sorted(rng.choice(6, size=survivors, replace=False))]
    if new_cfg.num_devices > len(usable):
        return
    kv = [int(x) for x in rng.integers(0, 3, size=old.config.data) * 200]
    # Sources: the survivors, plus (in the grace period) some of the leaving devices.
    leaving = [dv for dv in old.devices if dv not in usable]
    sources = set(usable) | {dv for dv in leaving if rng.random() < 0.5}
    plan = plan_migration(model=TINY, hardware=G4, old=old, kv_tokens=kv, new_config=new_cfg,
                          devices=usable, sources=sources)
    per, busy = new_cfg.replica_devices, [i for i, k in enumerate(kv) if k > 0]
    best = (0, 0.0)
    for perm in itertools.permutations(usable, new_cfg.num_devices):
        reps = tuple(tuple(perm[j * per:(j + 1) * per]) for j in range(new_cfg.data))
        cand = Deployment(config=new_cfg, replicas=reps)
        for n in range(min(len(busy), new_cfg.data) + 1):
            for batches in itertools.combinations(busy, n):
                for targets in itertools.permutations(range(new_cfg.data), n):
                    rmap = [None] * old.config.data
                    for i, j in zip(batches, targets, strict=True):
                        rmap[i] = j
                    got = evaluate_transfer(model=TINY, hardware=G4, old=old, kv_tokens=kv,
                                            new=cand, replica_map=tuple(rmap),
                                            sources=sources)
                    best = max(best, _score(got))
    mine = _score(plan)
    assert mine[0] == best[0]                                   # batches carried
    assert mine[1] == pytest.approx(best[1], rel=1e-9, abs=8.0)  # bytes reused
