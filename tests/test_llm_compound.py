"""Compound moves: two simulated moves on disjoint groups, joined by their predicted gains."""

from __future__ import annotations

from placement.llm.compound import compound_moves, predicted
from placement.llm.demand import model_demands
from placement.llm.layout import Slot, fill_slot
from placement.llm.moves import Move, apply_changes
from placement.llm.score import Objective, Score
from tests._fixtures_llm_plan import toy_problem, toy_workload

PROBLEM = toy_problem(num_devices=8)
DEMANDS = model_demands(toy_workload(duration=5.0), PROBLEM.model_names)
LOADS = {m: d.token_rate for m, d in DEMANDS.items()}


def _slot(devices: tuple[int, ...], tp: int, *models: str) -> Slot:
    slot = fill_slot(PROBLEM, Slot(devices=devices, tp=tp, pp=1), list(models), LOADS)
    assert slot is not None
    return slot


LAYOUT = [_slot((0, 1, 2, 3), 4, "c"), _slot((4, 5), 2, "a"), _slot((6,), 1, "b"),
          _slot((7,), 1, "a")]


def _score(**good: int) -> Score:
    per_model = {m: (good.get(m, 50), 100) for m in ("a", "b", "c")}
    return Score(good=sum(g for g, _ in per_model.values()), requests=300,
                 per_model=per_model)


def _move(kind: str, changes: dict[int, tuple[Slot, ...]]) -> Move:
    return Move(kind=kind, layout=apply_changes(LAYOUT, changes), changes=changes)


def test_predicted_adds_per_model_changes_and_clips() -> None:
    cur = _score()
    guess = predicted(cur, _score(a=90, b=20), _score(b=70, c=10))
    assert guess.per_model == {"a": (90, 100), "b": (40, 100), "c": (10, 100)}
    assert predicted(cur, _score(a=95), _score(a=99)).per_model["a"] == (100, 100)
    assert guess.good == 140
    assert guess.requests == 300


def test_joins_complementary_moves_on_disjoint_groups_only() -> None:
    current = _score()
    # One helps a (hurting b), one helps b: alone neither is fair enough, together both gain.
    help_a = _move("give", {2: (_slot((6,), 1, "a"),)})
    help_b = _move("split", {0: (_slot((0, 1), 2, "c"), _slot((2, 3), 2, "b"))})
    clash = _move("reshape", {2: (_slot((6,), 1, "b"),)})  # same group as help_a
    tried = [(help_a, _score(a=80, b=30)), (help_b, _score(b=75, c=45)),
             (clash, _score(b=49))]  # joined with help_b: worse than help_b alone
    objective = Objective(0.9, _score(), min_gain=0.0)
    out = compound_moves(PROBLEM, DEMANDS, LAYOUT, current, tried, objective, width=3)
    assert [m.kind for m in out] == ["give+split"]
    joined = out[0]
    assert set(joined.changes) == {0, 2}
    assert sorted(s.size for s in joined.layout) == [1, 1, 2, 2, 2]
    assert all(s.weights for s in joined.layout)  # route weights set
    assert compound_moves(PROBLEM, DEMANDS, LAYOUT, current, tried, objective, width=0) == []


def test_a_join_that_would_drop_a_model_is_skipped() -> None:
    current = _score()
    drop_b = _move("give", {2: (_slot((6,), 1, "a"),)})  # b's only group goes to a
    also = _move("give", {1: (_slot((4, 5), 2, "c"),)})
    tried = [(drop_b, _score(a=80, b=45)), (also, _score(c=80, a=45))]
    assert compound_moves(PROBLEM, DEMANDS, LAYOUT, current, tried, Objective(0.0, None),
                          width=3) == []
