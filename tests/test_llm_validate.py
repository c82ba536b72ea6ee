"""Checks of a many-LLM plan read back from a file: each group's fields and shape, and the
layout as a whole."""

from __future__ import annotations

from typing import Any

import pytest

from alpaserve.errors import SpecError
from placement.llm.result import GroupPlan
from placement.llm.validate import MAX_KV_BLOCKS, check_layout, group_fields

GOOD: dict[str, Any] = {"name": "g0", "devices": [0, 1, 2, 3], "tp": 2, "pp": 2,
                        "models": ["a", "b"], "kv_blocks": [100, 50],
                        "route_weights": [1.0, 2], "kv_sharing": "shared",
                        "cost_source": "analytic:a100-80gb"}


def test_good_group_is_typed() -> None:
    fields = group_fields(GOOD, 0)
    assert fields["devices"] == (0, 1, 2, 3)
    assert fields["route_weights"] == (1.0, 2.0)
    assert GroupPlan(**fields).to_dict() == {**GOOD, "route_weights": [1.0, 2.0]}


@pytest.mark.parametrize(("edit", "match"), [
    ({"devices": [0, 1, 2, True]}, "list of integers"),
    ({"devices": "0123"}, "list of integers"),
    ({"devices": []}, "distinct non-negative"),
    ({"tp": True}, "tp and pp must be positive integers"),
    ({"tp": 4}, r"tp 4 × pp 2 is not its 4 devices"),
    ({"models": ["a", "a"]}, "names a model twice"),
    ({"models": "ab"}, "non-empty list of names"),
    ({"models": ["a", ""]}, "non-empty list of names"),
    ({"route_weights": [1.0, float("inf")]}, "positive numbers"),
    ({"route_weights": [1.0, 0]}, "positive numbers"),
    ({"kv_blocks": [100, MAX_KV_BLOCKS + 1]}, "from 1 to 2"),
    ({"kv_blocks": [100, 50.0]}, "list of integers"),
    ({"name": ""}, "'name' must be a non-empty string"),
    ({"cost_source": 3}, "'cost_source' must be a non-empty string"),
])
def test_bad_group_fields_are_named(edit: dict[str, Any], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        group_fields({**GOOD, **edit}, 3)


def test_a_group_without_a_name_is_numbered() -> None:
    with pytest.raises(SpecError, match="group #3 has no 'name', 'tp'"):
        group_fields({k: v for k, v in GOOD.items() if k not in ("name", "tp")}, 3)
    with pytest.raises(SpecError, match="group #1 must be an object"):
        group_fields([1, 2], 1)


def _group(name: str, devices: tuple[int, ...]) -> GroupPlan:
    return GroupPlan(**group_fields({**GOOD, "name": name, "devices": list(devices),
                                     "tp": len(devices), "pp": 1}, 0))


def test_layout_devices_disjoint_and_inside_the_cluster() -> None:
    check_layout([_group("g0", (0, 1)), _group("g1", (2,))], {"num_devices": 4})
    with pytest.raises(SpecError, match="device 1 is in groups 'g0' and 'g1'"):
        check_layout([_group("g0", (0, 1)), _group("g1", (1, 2))], {"num_devices": 4})
    with pytest.raises(SpecError, match="device 4 is outside the cluster's 4 devices"):
        check_layout([_group("g0", (3, 4))], {"num_devices": 4})
    with pytest.raises(SpecError, match="names must be distinct"):
        check_layout([_group("g0", (0,)), _group("g0", (1,))], {"num_devices": 4})
    with pytest.raises(SpecError, match="'num_devices' must be a positive integer"):
        check_layout([_group("g0", (0,))], {"num_devices": "4"})
    with pytest.raises(SpecError, match="no group"):
        check_layout([], {"num_devices": 4})
