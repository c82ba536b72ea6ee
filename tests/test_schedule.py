"""Time-varying placements: the readable loop and the compiled evaluator agree."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from alpaserve.errors import SimulationError
from placement._examples import tiny_problem
from placement.clockwork import clockwork_pp, evaluate_schedule
from placement.evaluator import EvalOptions, prepare_workload
from simulator import SimulationOptions, simulate
from simulator.schedule import PlacementSchedule, simulate_schedule
from workloads.mixes import MixSpec, generate_mix


@pytest.mark.parametrize(("seed", "policy"), [(0, "earliest-finish"), (1, "alpaserve")])
def test_schedule_matches_evaluator(seed, policy):
    p = tiny_problem(seed=seed, cv=4.0, slo=0.2, duration=40.0)
    out = clockwork_pp(p, window=10.0)
    sched = PlacementSchedule(windows=tuple(
        (s, a.to_placement()) for s, a in zip(out.starts, out.assignments, strict=True)))
    w = generate_mix(MixSpec(model_names=p.model_names, total_rate=12.0, cv=4.0),
                     duration=40.0, seed=seed + 100)
    res = simulate_schedule(sched, p.profiles, w, SimulationOptions(policy=policy), slo=0.2)
    p2 = dataclasses.replace(p, options=EvalOptions(dispatch=policy))
    good = evaluate_schedule(p2, out, prepare_workload(w, p.model_names, slo=0.2))
    assert res.num_good == good
    assert res.num_served + res.num_dropped + res.num_unserved == len(w)


def test_one_window_equals_static_simulation():
    p = tiny_problem(seed=2, cv=3.0, slo=0.25)
    out = clockwork_pp(p, window=1e6)
    placement = out.assignments[0].to_placement()
    w = generate_mix(MixSpec(model_names=p.model_names, total_rate=12.0, cv=3.0),
                     duration=20.0, seed=7)
    a = simulate_schedule(PlacementSchedule(windows=((0.0, placement),)), p.profiles, w,
                          slo=0.25)
    b = simulate(placement, p.profiles, w, slo=0.25)
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_allclose(a.finish, b.finish, atol=1e-12)


def test_bad_schedules():
    p = tiny_problem()
    placement = clockwork_pp(p, window=1e6).assignments[0].to_placement()
    with pytest.raises(SimulationError, match="increasing"):
        PlacementSchedule(windows=((5.0, placement), (5.0, placement)))
    with pytest.raises(SimulationError, match="at least one"):
        PlacementSchedule(windows=())
