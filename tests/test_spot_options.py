"""Spot simulation options."""

from __future__ import annotations

import numpy as np
import pytest

from alpaserve.errors import SimulationError
from simulator.spot.options import SpotOptions, windowed_rate
from workloads.availability import AvailabilityTrace
from workloads.workload import Workload


@pytest.mark.parametrize(("field", "value"), [("rate_window", 0.0), ("grace_period", -1.0),
                                              ("slo", 0.0), ("rate_check_interval", -5.0)])
def test_rejects_bad_values(field: str, value: float) -> None:
    with pytest.raises(SimulationError, match=field):
        SpotOptions(**{field: value})


def test_defaults() -> None:
    opts = SpotOptions()
    assert opts.grace_period == 30.0
    assert opts.end_time is None


def test_windowed_rate_counts_the_last_window() -> None:
    arrival = np.arange(10, dtype=np.float64)  # one request a second
    assert windowed_rate(arrival, 9.0, window=4.0, initial_rate=None) == 1.0
    assert windowed_rate(arrival, 1.0, window=4.0, initial_rate=7.0) == 7.0
    assert windowed_rate(arrival, 1.0, window=4.0, initial_rate=None) == 1.0  # first window


def test_run_end_order_and_late_arrival() -> None:
    trace = AvailabilityTrace.from_events([(0.0, "add", "n0"), (50.0, "remove", "n0")])
    w = Workload.from_arrays(arrival=[1.0, 60.0], model="m")
    assert SpotOptions(drain=5.0).run_end(w, trace) == 65.0
    assert SpotOptions(end_time=70.0).run_end(w, trace) == 70.0
    with pytest.raises(SimulationError, match=r"last arrival at 60\.0s"):
        SpotOptions(end_time=30.0).run_end(w, trace)
