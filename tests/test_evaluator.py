"""The compiled evaluator agrees with the simulator and with its own move batches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.errors import SimulationError
from placement._examples import tiny_problem
from placement.buckets import layouts
from placement.evaluator import EvalOptions, Evaluator, Move, Replica, prepare_workload
from placement.space import SearchSpace
from simulator import SimulationOptions, simulate
from workloads.mixes import MixSpec, generate_mix
from workloads.workload import Workload


@settings(max_examples=25)
@given(seed=st.integers(0, 10_000), layout=st.integers(0, 5),
       dispatch=st.sampled_from(["earliest-finish", "alpaserve"]), admission=st.booleans(),
       cv=st.sampled_from([0.5, 2.0, 6.0]))
def test_matches_the_simulator(seed, layout, dispatch, admission, cv):
    rng = np.random.default_rng(seed)
    opts = EvalOptions(dispatch=dispatch, admission=admission, overhead=0.005,
                       stage_inflation=0.01)
    p = tiny_problem(seed=seed, cv=cv, duration=10.0)
    lay = layouts(p.cluster, range(4))[layout]
    space = SearchSpace.build(cluster=p.cluster, models=p.models, groups=lay.groups(),
                              profiles=p.profiles, options=opts)
    assign = space.empty()
    for g in range(space.num_groups):
        for m in rng.permutation(space.num_models):
            if rng.random() < 0.7 and assign.fits(g, int(m)):
                assign.add(g, int(m))
    spec = MixSpec(model_names=p.model_names, total_rate=15.0, cv=cv)
    w = generate_mix(spec, duration=10.0, seed=seed)
    ev = Evaluator(prepare_workload(w, p.model_names, slo=0.3, options=opts),
                   group_stages=space.group_stages, options=opts)
    mine = ev.detailed(assign.arrays())
    sim = simulate(assign.to_placement(), p.profiles, w,
                   SimulationOptions(policy=dispatch, admission=admission,
                                     request_overhead=0.005, stage_inflation=0.01), slo=0.3)
    assert mine.good == sim.num_good
    assert ev.evaluate(assign.arrays(), trace=False).good == sim.num_good  # the plain loop
    np.testing.assert_array_equal(mine.status, sim.status)
    np.testing.assert_allclose(mine.finish, sim.finish, atol=1e-9)


def test_moves_equal_direct_evaluation():
    p = tiny_problem(num_models=3, num_devices=4, cv=4.0, slo=0.2)
    space = SearchSpace.build(cluster=p.cluster, models=p.models,
                              groups=layouts(p.cluster, range(4))[0].groups(),
                              profiles=p.profiles)
    base = space.empty()
    base.add(0, 0)
    base.add(1, 1)
    base.add(2, 0)
    ev = Evaluator(p.train, group_stages=space.group_stages)
    arrays = base.arrays()
    moves = [Move(add_model=2, add_group=3, add_latencies=space.latencies(3, 2)),
             Move(skip=0, add_model=1, add_group=0, add_latencies=space.latencies(0, 1)),
             Move(skip=1)]
    goods = ev.evaluate_moves(arrays, moves)
    a = base.copy()
    a.add(3, 2)
    b = base.copy()
    b.remove(0, 0)
    b.add(0, 1)
    c = base.copy()
    c.remove(2, 0)  # replica 1 in (model, group) order is model 0 on group 2
    assert goods.tolist() == [ev.evaluate(x.arrays()).good for x in (a, b, c)]


def test_windows_and_ready_times():
    w = Workload.from_arrays(arrival=[0.0, 1.0, 1.05, 2.5], model="a")
    ev = Evaluator(prepare_workload(w, ["a"], slo=0.5), group_stages=[1])
    reps = [Replica(model=0, group=0, latencies=(0.1,), active_until=1.0),
            Replica(model=0, group=0, latencies=(0.1,), active_from=1.0, ready_at=1.3)]
    out = ev.detailed(reps)
    # 1.0 and 1.05 wait for the load (ready 1.3): finish 1.4 and 1.5 -> 1.05 still makes it
    assert out.finish.round(3).tolist() == [0.1, 1.4, 1.5, 2.6]
    assert out.good == 4


def test_errors():
    w = Workload.from_arrays(arrival=[0.0], model="zzz")
    with pytest.raises(SimulationError, match="zzz"):
        prepare_workload(w, ["a"], slo=1.0)
    with pytest.raises(SimulationError, match="no slo"):
        prepare_workload(Workload.from_arrays(arrival=[0.0], model="a"), ["a"])
    with pytest.raises(SimulationError, match="dispatch"):
        EvalOptions(dispatch="random")
    ev = Evaluator(prepare_workload(Workload.from_arrays(arrival=[0.0], model="a"), ["a"],
                                    slo=1.0), group_stages=[2])
    with pytest.raises(SimulationError, match="stages"):
        ev.evaluate([Replica(model=0, group=0, latencies=(0.1,))])


@pytest.mark.parametrize("dispatch", ["earliest-finish", "alpaserve"])
@pytest.mark.parametrize("admission", [True, False])
def test_many_interleaved_moves_equal_direct_evaluation(dispatch, admission):
    p = tiny_problem(num_models=4, num_devices=4, cv=4.0, slo=0.2, seed=5)
    space = SearchSpace.build(cluster=p.cluster, models=p.models,
                              groups=layouts(p.cluster, range(4))[0].groups(),
                              profiles=p.profiles)
    base = space.empty()
    for g, m in [(0, 0), (1, 1), (2, 0), (3, 2)]:
        base.add(g, m)
    ev = Evaluator(p.train, group_stages=space.group_stages,
                   options=EvalOptions(dispatch=dispatch, admission=admission))
    arrays = base.arrays()
    moves, variants = [], []
    for g in range(space.num_groups):  # more moves than one interleaved block
        for m in range(space.num_models):
            if base.fits(g, m):
                moves.append(Move(add_model=m, add_group=g,
                                  add_latencies=space.latencies(g, m)))
                v = base.copy()
                v.add(g, m)
                variants.append(v)
    for r in range(base.num_replicas):
        moves.append(Move(skip=r))
        m_idx, g_idx = np.nonzero(base.hosts.T)
        v = base.copy()
        v.remove(int(g_idx[r]), int(m_idx[r]))
        variants.append(v)
    assert len(moves) > 8
    goods = ev.evaluate_moves(arrays, moves)
    assert goods.tolist() == [ev.evaluate(v.arrays()).good for v in variants]
    # split over threads, from the plain base and against its trace: the same counts
    split = Evaluator(p.train, group_stages=space.group_stages, options=ev.options, threads=3)
    np.testing.assert_array_equal(split.evaluate_moves(arrays, moves), goods)
    np.testing.assert_array_equal(split.evaluate_moves(split.evaluate(arrays), moves), goods)
    assert split.scratch.built[0]  # the trace's lists were built before the threads ran


def test_batches_split_over_threads_in_order():
    ev = Evaluator(prepare_workload(Workload.from_arrays(arrival=[0.0], model="a"), ["a"],
                                    slo=1.0), group_stages=[1], threads=3)
    seen = []

    def run(sl):
        seen.append((sl.start, sl.stop))
        return np.arange(sl.start, sl.stop)

    assert ev.run_batch(run, 7).tolist() == list(range(7))  # under 2 x 4: inline
    assert seen == [(0, 7)]
    seen.clear()
    assert ev.run_batch(run, 13).tolist() == list(range(13))  # 3 parts of 4 or more
    assert sorted(seen) == [(0, 4), (4, 8), (8, 13)]
    with pytest.raises(SimulationError, match="threads must be an integer >= 1, got 0"):
        Evaluator(ev.prepared, group_stages=[1], threads=0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 100_000), dispatch=st.sampled_from(["earliest-finish", "alpaserve"]),
       admission=st.booleans(), one_stage=st.booleans())
def test_plain_loops_equal_the_recording_one(seed, dispatch, admission, one_stage):
    # evaluate(trace=False) takes the plain loop (one-stage groups: the one-stage loop); the
    # traced run and detailed() take the general ones: same counts per model and replica
    rng = np.random.default_rng(seed)
    n_models, n_groups = int(rng.integers(1, 4)), int(rng.integers(2, 5))
    stages = [1] * n_groups if one_stage else [int(s) for s in rng.integers(1, 4, n_groups)]
    n = int(rng.integers(1, 150))
    w = Workload.from_arrays(arrival=np.sort(np.round(rng.exponential(0.03, n).cumsum(), 2)),
                             model=[f"m{int(k)}" for k in rng.integers(0, n_models, n)])
    opts = EvalOptions(dispatch=dispatch, admission=admission)
    ev = Evaluator(prepare_workload(w, [f"m{i}" for i in range(n_models)],
                                    slo=float(rng.choice([0.1, 0.3])), options=opts),
                   group_stages=stages, options=opts)
    reps = [Replica(model=m, group=g, latencies=tuple(float(x) for x in
                                                      rng.choice([0.02, 0.05, 0.1], nst)))
            for g, nst in enumerate(stages) for m in range(n_models) if rng.random() < 0.5]
    plain, traced = ev.evaluate(reps, trace=False), ev.evaluate(reps)
    assert plain.good == traced.good == ev.detailed(reps).good
    np.testing.assert_array_equal(plain.good_per_model, traced.good_per_model)
    np.testing.assert_array_equal(plain.good_per_replica, traced.good_per_replica)
