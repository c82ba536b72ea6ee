from __future__ import annotations

import math

import pytest

from alpaserve.errors import SpecError
from alpaserve.parallel.problem import ShardingProblem


def two_nodes(**kw: object) -> ShardingProblem:
    base: dict[str, object] = dict(
        node_names=("a", "b"), strategy_names=(("x", "y"), ("x", "y")),
        node_costs=((1.0, 2.0), (1.0, 0.5)), node_memory=((2, 1), (2, 1)),
        edges=((0, 1),), edge_costs=(((0.0, 3.0), (3.0, 0.0)),))
    base.update(kw)
    return ShardingProblem(**base)  # type: ignore[arg-type]


def test_evaluate_and_brute_force() -> None:
    p = two_nodes()
    assert p.evaluate((0, 1)) == (1.0 + 0.5 + 3.0, 3.0)
    assert p.brute_force().choice == (0, 0)
    assert p.with_budget(3.0).brute_force().choice == (1, 1)
    assert p.with_budget(1.0).brute_force() is None


def test_ties_make_mismatches_infinite() -> None:
    p = two_nodes(ties=((0, 1),))
    assert p.evaluate((0, 1))[0] == math.inf
    assert not p.is_chain


@pytest.mark.parametrize(("field", "value", "match"), [
    ("node_costs", ((1.0,), (1.0, 0.5)), "has 2 strategies"),
    ("edges", ((1, 0),), "not forward"),
    ("edge_costs", (((0.0,), (3.0,)),), "wrong shape"),
    ("memory_budget", -1.0, "memory_budget"),
])
def test_validation(field: str, value: object, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        two_nodes(**{field: value})


def test_brute_force_refuses_huge_spaces() -> None:
    with pytest.raises(SpecError, match="exceeds max_choices"):
        two_nodes().brute_force(max_choices=3)
