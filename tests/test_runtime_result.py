"""RunResult: the runtime's per-request outcomes in the simulator's shape."""

from __future__ import annotations

import numpy as np
import pytest

from alpaserve.errors import SpecError
from alpaserve.runtime.result import RequestStatus, RunResult
from simulator import DROPPED, SERVED, UNSERVED


def run() -> RunResult:
    return RunResult.from_columns(
        arrival=[0.0, 0.1, 0.2, 0.3], start=[0.0, 0.1, np.nan, np.nan],
        finish=[0.05, 0.4, np.nan, np.nan], group=[0, 1, -1, -1], status=[0, 0, 1, 2],
        model_codes=[0, 1, 0, 1], model_names=("a", "b"), slo=[0.1, 0.1, 0.1, 0.1],
        group_names=("g0", "g1"))


def test_status_codes_are_the_simulators() -> None:
    assert (RequestStatus.SERVED, RequestStatus.DROPPED, RequestStatus.UNSERVED) == \
        (SERVED, DROPPED, UNSERVED)


def test_converts_to_a_sim_result_with_the_same_statistics() -> None:
    r = run()
    sim = r.to_sim_result()
    assert sim.engine == "runtime"
    assert sim.attainment == pytest.approx(r.attainment())
    assert (sim.num_served, sim.num_dropped, sim.num_unserved) == (2, 1, 1)
    assert dict(sim.attainment_per_model) == {"a": 0.5, "b": 0.0}
    assert np.array_equal(sim.finish, r.finish, equal_nan=True)


def test_rejects_bad_columns() -> None:
    with pytest.raises(SpecError, match="unknown codes"):
        RunResult.from_columns(arrival=[0.0], start=[0.0], finish=[1.0], group=[0], status=[7],
                               model_codes=[0], model_names=("a",), slo=[1.0])
    with pytest.raises(SpecError, match=r"finish has shape \(2,\)"):
        RunResult.from_columns(arrival=[0.0], start=[0.0], finish=[1.0, 2.0], group=[0],
                               status=[0], model_codes=[0], model_names=("a",), slo=[1.0])
