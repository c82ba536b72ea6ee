"""The local search's moves: every neighbour is a valid layout, and each kind does its change."""

from __future__ import annotations

from placement.llm.baselines import dedicated_layout
from placement.llm.demand import model_demands, reweight
from placement.llm.layout import Slot, fill_slot
from placement.llm.moves import MoveGenerator, apply_changes
from placement.llm.score import Score
from tests._fixtures_llm_plan import toy_problem, toy_workload

PROBLEM = toy_problem(num_devices=8)
DEMANDS = model_demands(toy_workload(duration=5.0), PROBLEM.model_names)
LOADS = {m: d.token_rate for m, d in DEMANDS.items()}


def _slot(devices: tuple[int, ...], tp: int, pp: int, *models: str) -> Slot:
    slot = fill_slot(PROBLEM, Slot(devices=devices, tp=tp, pp=pp), list(models), LOADS)
    assert slot is not None
    return slot


def _valid(layout: list[Slot]) -> None:
    devices = [d for s in layout for d in s.devices]
    assert len(devices) == len(set(devices))
    assert {m for s in layout for m in s.models} == {"a", "b", "c"}
    for s in layout:
        assert s.tp * s.pp == s.size
        assert s.devices == tuple(range(s.devices[0], s.devices[0] + s.size))
        assert s.devices[0] % s.size == 0  # aligned: never straddles a node
        assert len(s.kv_blocks) == len(s.weights) == len(s.models)
        assert all(b >= PROBLEM.min_kv_blocks for b in s.kv_blocks)


def _score(missing: dict[str, int]) -> Score:
    per_model = {m: (100 - missing.get(m, 0), 100) for m in PROBLEM.model_names}
    return Score(good=sum(g for g, _ in per_model.values()), requests=300,
                 per_model=per_model)


def test_every_neighbour_is_a_valid_layout_and_every_kind_appears() -> None:
    layout = [_slot((0, 1, 2, 3), 4, 1, "c"), _slot((4, 5), 2, 1, "a", "b"),
              _slot((6,), 1, 1, "a"), _slot((7,), 1, 1, "b")]
    moves = MoveGenerator(PROBLEM, DEMANDS).neighbours(layout, _score({"a": 30, "c": 10}), 3)
    kinds = {m.kind for m in moves}
    assert {"give", "split", "merge", "reshape", "colocate", "evict", "kv"} <= kinds
    keys = [tuple(sorted((s.devices, s.tp, s.pp, s.models, s.kv_sharing) for s in m.layout))
            for m in moves]
    assert len(keys) == len(set(keys))  # distinct
    for move in moves:
        _valid(move.layout)


def test_split_merge_and_give_change_the_groups_as_named() -> None:
    layout = [_slot((0, 1, 2, 3), 4, 1, "c"), _slot((4, 5), 2, 1, "a"),
              _slot((6,), 1, 1, "b"), _slot((7,), 1, 1, "b")]
    moves = MoveGenerator(PROBLEM, DEMANDS).neighbours(layout, _score({"a": 40, "b": 5}), 2)
    splits = [m for m in moves if m.kind == "split"]
    assert any(sorted(s.size for s in m.layout) == [1, 1, 1, 1, 4] for m in splits)
    merges = [m for m in moves if m.kind == "merge"]
    assert any(sorted(s.size for s in m.layout) == [2, 2, 4] for m in merges)  # b's buddies
    gives = [m for m in moves if m.kind == "give"]
    assert any(sum("a" in s.models for s in m.layout) == 2 for m in gives)


def test_reweight_gives_identical_replicas_exactly_equal_weights() -> None:
    slots = reweight(PROBLEM, dedicated_layout(PROBLEM, DEMANDS), DEMANDS)
    by_model: dict[str, set[float]] = {}
    for s in slots:
        for m, w in zip(s.models, s.weights, strict=True):
            by_model.setdefault(m, set()).add(w)
    for m, ws in by_model.items():
        assert max(ws) == 1.0, m
    same_shape = [s.weights for s in slots if s.models == ("a",) and s.size == 1]
    assert len(set(same_shape)) <= 1


def test_swap_trades_groups_of_different_sizes_and_changes_rebuild_the_layout() -> None:
    layout = [_slot((0, 1, 2, 3), 4, 1, "c"), _slot((4, 5), 2, 1, "a"),
              _slot((6,), 1, 1, "b"), _slot((7,), 1, 1, "a")]
    moves = MoveGenerator(PROBLEM, DEMANDS).neighbours(layout, _score({"a": 40}), 1)
    swaps = [m for m in moves if m.kind == "swap"]
    assert swaps
    for move in swaps:
        _valid(move.layout)
        assert len(move.changes) == 2
        (i, (here,)), (j, (there,)) = sorted(move.changes.items())
        assert here.devices == layout[i].devices
        assert there.devices == layout[j].devices
        assert set(here.models) == set(layout[j].models)
        assert set(there.models) == set(layout[i].models)
    for move in moves:  # every move says which groups it replaced
        rebuilt = apply_changes(layout, move.changes)
        assert [(s.devices, s.models) for s in rebuilt] == [(s.devices, s.models)
                                                            for s in move.layout]
