"""The sweep grid: cross products, stable case ids, the experiment id, named bad values."""

from __future__ import annotations

import pytest

from alpaserve.errors import SpecError
from alpaserve.sweep.grid import SweepCase, SweepGrid, experiment_id


def grid(**settings: object) -> SweepGrid:
    return SweepGrid(policies=("sr", "alpaserve"), devices=(2, 4, 8), cv_scales=(1, 4),
                     seed=7, settings=settings)


def test_grid_expands_to_the_cross_product() -> None:
    cases = grid().cases()
    assert len(cases) == 12
    assert len({c.case_id for c in cases}) == 12
    assert cases[0].case_id == grid().cases()[0].case_id  # stable across calls


def test_grid_rejects_bad_values() -> None:
    with pytest.raises(SpecError, match="devices must be positive ints, got 0"):
        SweepGrid(policies=("sr",), devices=(0,))
    with pytest.raises(SpecError, match="policies must not be empty"):
        SweepGrid(policies=())
    with pytest.raises(SpecError, match=r"unknown key 'colour'; allowed: policies"):
        SweepGrid.from_dict({"policies": ["sr"], "colour": "red"})
    with pytest.raises(SpecError, match="seed or seeds, not both"):
        SweepGrid(policies=("sr",), seed=1, seeds=(2,))
    with pytest.raises(SpecError, match="seeds must be non-negative ints, got -1"):
        SweepGrid(policies=("sr",), seeds=(-1,))


def test_a_string_is_one_value_and_seeds_are_an_axis() -> None:
    assert [c.policy for c in SweepGrid(policies="sr").cases()] == ["sr"]
    cases = SweepGrid(policies=("sr",), devices=(2, 4), seeds=(0, 1, 2)).cases()
    assert sorted((c.devices, c.seed) for c in cases) == \
        [(d, s) for d in (2, 4) for s in (0, 1, 2)]
    # the default single seed keeps the case ids of a grid without seeds
    assert SweepGrid(policies="sr", seeds=(0,)).cases()[0].case_id == \
        SweepGrid(policies="sr").cases()[0].case_id


def test_experiment_id_ignores_order_and_sees_settings() -> None:
    cases = grid().cases()
    assert experiment_id(cases) == experiment_id(list(reversed(cases)))
    assert experiment_id(cases) != experiment_id(grid(rate=32).cases())
    assert experiment_id(cases) != experiment_id(cases[1:])
    assert isinstance(cases[0], SweepCase)
    assert cases[0].axes()["policy"] == "sr"
