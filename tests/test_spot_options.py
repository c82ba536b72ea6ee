"""Spot simulation options."""

from __future__ import annotations

import pytest

from alpaserve.errors import SimulationError
from simulator.spot.options import SpotOptions


@pytest.mark.parametrize(("field", "value"), [("rate_window", 0.0), ("grace_period", -1.0),
                                              ("slo", 0.0), ("rate_check_interval", -5.0)])
def test_rejects_bad_values(field: str, value: float) -> None:
    with pytest.raises(SimulationError, match=field):
        SpotOptions(**{field: value})


def test_defaults() -> None:
    opts = SpotOptions()
    assert opts.grace_period == 30.0
    assert opts.end_time is None
