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


def test_schedule_load_delays_use_profile_weights():
    from alpaserve.cluster_spec import homogeneous_cluster
    from alpaserve.model_presets import model_preset
    from alpaserve.parallel_config import ParallelConfig
    from placement.problem import build_profiles
    from simulator.schedule import load_seconds
    from tests._fixtures_profiles import scaled_weights

    bert = model_preset("bert-1.3b")
    cfg = ParallelConfig.uniform(num_layers=bert.num_layers, pipeline_degree=2)
    db = scaled_weights(build_profiles([bert], homogeneous_cluster(2), max_group_size=2), 0.5)
    entry = db.get(bert.name, cfg, 1)
    assert load_seconds(bert, cfg, 1e9, db) == max(entry.stage_weight_bytes) / 1e9
    assert load_seconds(bert, cfg, 1e9) == max(cfg.stage_weight_bytes(bert)) / 1e9
    # the simulator and the search's evaluator charge the same (profiled) load delays
    p = tiny_problem(seed=3, cv=4.0, slo=0.2, duration=40.0)
    p = dataclasses.replace(p, profiles=scaled_weights(p.profiles, 3.0))
    out = clockwork_pp(p, window=10.0)
    sched = PlacementSchedule(windows=tuple(
        (s, a.to_placement()) for s, a in zip(out.starts, out.assignments, strict=True)))
    w = generate_mix(MixSpec(model_names=p.model_names, total_rate=12.0, cv=4.0),
                     duration=40.0, seed=103)
    res = simulate_schedule(sched, p.profiles, w, SimulationOptions(), slo=0.2)
    good = evaluate_schedule(p, out, prepare_workload(w, p.model_names, slo=0.2))
    assert res.num_good == good
