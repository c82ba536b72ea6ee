"""Running the policies side by side."""

from __future__ import annotations

import numpy as np
import pytest

from alpaserve.errors import SimulationError
from alpaserve.model_presets import model_preset
from alpaserve.spot.hardware import g4dn_hardware
from placement.spot.run import POLICY_NAMES, make_policy, request_shape, run_policies
from simulator.spot.simulate import SpotOptions
from workloads.llm_requests import gamma_arrivals, llm_workload
from workloads.synthetic_availability import synthetic_availability
from workloads.workload import Workload

MODEL, HW = model_preset("gpt-1.3b"), g4dn_hardware()


def test_all_policies_share_one_end_time() -> None:
    rng = np.random.default_rng(2)
    trace = synthetic_availability(duration=900.0, num_spot=2, mean_lifetime=300.0,
                                   mean_replacement=30.0, seed=rng)
    w = llm_workload(arrivals=gamma_arrivals(rate=1.0, cv=1.0, start=60.0, end=800.0, seed=rng),
                     seed=rng, model=MODEL.name, token_pairs=[(128, 16)])
    out = run_policies(names=POLICY_NAMES, workload=w, trace=trace, model=MODEL, hardware=HW,
                       options=SpotOptions(slo=5.0))
    assert list(out) == list(POLICY_NAMES)
    assert len({r.end_time for r in out.values()}) == 1
    assert all(r.finished + r.in_flight + r.dropped == len(w) for r in out.values())
    assert out["on-demand"].cost_spot == 0.0 < out["on-demand"].cost_on_demand


def test_errors() -> None:
    w = Workload.from_arrays(arrival=[1.0], model="m")
    with pytest.raises(SimulationError, match="prompt_tokens"):
        request_shape(w)
    rng = np.random.default_rng(0)
    trace = synthetic_availability(duration=10.0, num_spot=1, mean_lifetime=5.0, seed=rng)
    lw = llm_workload(arrivals=[1.0, 2.0], seed=rng, model="m", token_pairs=[(8, 2)])
    from alpaserve.spot.config import ConfigTable

    table = ConfigTable.build(model=MODEL, hardware=HW, request=request_shape(lw))
    with pytest.raises(SimulationError, match="unknown spot policy"):
        make_policy("cheapest", table=table, trace=trace, workload=lw)
