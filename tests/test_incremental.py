"""Incremental evaluation equals a fresh simulation: counts, per-replica counts and traces."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.errors import SimulationError
from placement import _sparse_kernel, incremental
from placement._examples import tiny_problem
from placement.alpaserve_search import SearchOptions, refine_layout, screen_layout
from placement.evaluator import EvalOptions, EvalOutcome, Evaluator, Move, Replica, prepare_workload
from placement.selective_replication import sr_space
from workloads.workload import Workload


def _workload(rng: np.random.Generator, n_models: int) -> Workload:
    n = int(rng.integers(1, 120))
    # coarse arrival times and latencies make ties in arrivals and in free times common
    arrival = np.sort(np.round(rng.exponential(0.04, n).cumsum(), 2))
    model = [f"m{int(k)}" for k in rng.integers(0, n_models, n)]
    return Workload.from_arrays(arrival=arrival, model=model)


def _replicas(rng: np.random.Generator, n_models: int, stages: list[int],
              windows: bool) -> list[Replica]:
    out = []
    for g, nst in enumerate(stages):
        for m in range(n_models):
            if rng.random() < 0.45:
                lat = tuple(float(x) for x in rng.choice([0.02, 0.05, 0.1], nst))
                kw = {}
                if windows and rng.random() < 0.3:
                    lo = float(rng.choice([0.0, 0.5, 1.0]))
                    kw = {"active_from": lo, "active_until": lo + float(rng.choice([0.5, 2.0])),
                          "ready_at": lo + float(rng.choice([0.0, 0.1]))}
                out.append(Replica(model=m, group=g, latencies=lat, **kw))
    return out


def _mutate(rng: np.random.Generator, reps: list[Replica], n_models: int,
            stages: list[int]) -> list[Replica]:
    out = [r for r in reps if rng.random() > 0.15]  # drop some
    for _ in range(int(rng.integers(0, 3))):  # add some (duplicates allowed)
        g = int(rng.integers(0, len(stages)))
        lat = tuple(float(x) for x in rng.choice([0.02, 0.05, 0.1], stages[g]))
        out.append(Replica(model=int(rng.integers(0, n_models)), group=g, latencies=lat))
    return out


def _same(a: EvalOutcome, b: EvalOutcome) -> None:
    assert a.good == b.good
    np.testing.assert_array_equal(a.good_per_model, b.good_per_model)
    np.testing.assert_array_equal(a.good_per_replica, b.good_per_replica)
    if a.trace is not None and b.trace is not None:
        np.testing.assert_array_equal(a.trace.group, b.trace.group)
        np.testing.assert_array_equal(a.trace.rank, b.trace.rank)
        np.testing.assert_array_equal(a.trace.good, b.trace.good)
        stages = a.trace.owner.group_stages  # type: ignore[attr-defined]
        for i in np.flatnonzero(a.trace.group >= 0):  # other cells are undefined
            nst = int(stages[a.trace.group[i]])
            np.testing.assert_array_equal(a.trace.state[i, :nst], b.trace.state[i, :nst])


def _setup(seed: int, mode: str, admission: bool, many: bool = False
           ) -> tuple[Evaluator, list[int], int]:
    rng = np.random.default_rng(seed)
    n_models = int(rng.integers(1, 4))
    # over 64 groups the kernels count diverged groups per model instead of a bit mask
    n_groups = int(rng.integers(65, 70)) if many else int(rng.integers(1, 5))
    stages = [int(s) for s in rng.integers(1, 4, n_groups)]
    opts = EvalOptions(dispatch=mode, admission=admission)
    work = prepare_workload(_workload(rng, n_models), [f"m{i}" for i in range(n_models)],
                            slo=float(rng.choice([0.1, 0.2, 0.5])), options=opts)
    return Evaluator(work, group_stages=stages, options=opts), stages, n_models


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 100_000), mode=st.sampled_from(["earliest-finish", "alpaserve"]),
       admission=st.booleans(), windows=st.booleans(), always=st.booleans(),
       sparse=st.booleans(), catch_up=st.sampled_from([0, 2, 16]))
def test_against_a_reference_equals_a_fresh_run(seed, mode, admission, windows, always,
                                                 sparse, catch_up):
    ev, stages, n_models = _setup(seed, mode, admission)
    rng = np.random.default_rng(seed + 1)
    reps = _replicas(rng, n_models, stages, windows)
    ref = ev.evaluate(reps)
    _same(ref, ev.evaluate(reps, trace=False))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_sparse_kernel, "CATCH_UP", catch_up)  # groups' states scanned or looked up
        if always:  # re-simulate against the reference however much changed
            mp.setattr(incremental, "MAX_CHANGED", 1.0)
        for k in range(4):  # a chain: each placement runs against the previous one's trace
            reps = _mutate(rng, reps, n_models, stages)
            if sparse and ref.trace is not None:  # its variants scored first: the run
                ev.evaluate_moves(ref, [Move()])  # against it is the sparse kernel's
                assert ev.scratch.serves(ref.trace)
            out = ev.evaluate(reps, reference=ref, consume=k % 2 == 1)  # copied or taken
            if always:
                assert incremental.usable(ev, ref) == (k % 2 == 0 and len(stages) > 1)
            _same(out, ev.evaluate(reps))
            _same(out, ev.evaluate(reps, trace=False))
            ref = out


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 100_000), mode=st.sampled_from(["earliest-finish", "alpaserve"]),
       admission=st.booleans(), many=st.sampled_from([False, False, False, True]),
       catch_up=st.sampled_from([0, 2, 16]))
def test_moves_against_a_trace_equal_fresh_runs(seed, mode, admission, many, catch_up):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_sparse_kernel, "CATCH_UP", catch_up)  # groups' states scanned or looked up
        _moves_equal_fresh_runs(seed, mode, admission, many)


def _moves_equal_fresh_runs(seed: int, mode: str, admission: bool, many: bool) -> None:
    ev, stages, n_models = _setup(seed, mode, admission, many)
    rng = np.random.default_rng(seed + 2)
    base = ev.evaluate(_replicas(rng, n_models, stages, windows=True))
    moves = []
    for _ in range(6):
        g = int(rng.integers(0, len(stages)))
        lat = tuple(float(x) for x in rng.choice([0.02, 0.05, 0.1], stages[g]))
        skip = int(rng.integers(-1, base.arrays.size)) if base.arrays.size else -1
        add = int(rng.integers(-1, n_models))
        moves.append(Move(skip=skip, add_model=add, add_group=g if add >= 0 else -1,
                          add_latencies=lat if add >= 0 else ()))
    assert (base.trace is None) == (len(stages) == 1)  # one group: never traced
    fresh = ev.evaluate_moves(base.arrays, moves)
    np.testing.assert_array_equal(ev.evaluate_moves(base, moves), fresh)
    assert ev.num_evaluations == 1 + 2 * len(moves)
    if base.trace is not None:  # the sparse re-simulation of one variant, traced
        mv = moves[0]
        ra = base.arrays
        reps = [Replica(model=int(ra.model[j]), group=int(ra.group[j]),
                        latencies=tuple(ra.latencies[j, :stages[int(ra.group[j])]]),
                        active_from=float(ra.active_from[j]),
                        active_until=float(ra.active_until[j]),
                        ready_at=float(ra.ready_at[j]))
                for j in range(ra.size) if j != mv.skip]
        if mv.add_model >= 0:
            reps.append(Replica(model=mv.add_model, group=mv.add_group,
                                latencies=mv.add_latencies))
        calls = []
        kernel = _sparse_kernel.run_sparse
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(incremental, "MAX_CHANGED", 1.0)
            mp.setattr(_sparse_kernel, "run_sparse", lambda *a: calls.append(1) or kernel(*a))
            _same(ev.evaluate(reps, reference=base), ev.evaluate(reps))
        assert calls == [1]


def test_a_trace_is_reused_only_by_its_evaluator():
    w = Workload.from_arrays(arrival=[0.0, 0.05, 0.1], model="a")
    work = prepare_workload(w, ["a"], slo=0.15)
    one, two = (Evaluator(work, group_stages=[1, 1]) for _ in range(2))
    reps = [Replica(model=0, group=0, latencies=(0.1,))]
    out = one.evaluate(reps)
    assert incremental.usable(one, out)
    assert not incremental.usable(two, out)
    more = [*reps, Replica(model=0, group=1, latencies=(0.1,))]
    assert two.evaluate(more, reference=out).good == one.evaluate(more, reference=out).good == 3
    assert one.evaluate(reps, trace=False).trace is None
    with pytest.raises(SimulationError, match="same evaluator"):
        incremental.run_moves(two, out, np.array([-1]), np.array([0]), np.array([1]),
                              np.array([[0.1]]))


def test_the_search_is_the_same_without_traces(monkeypatch):
    p = tiny_problem(num_models=3, num_devices=4, cv=4.0, duration=40.0)
    space = sr_space(p)
    opts = SearchOptions()
    with_traces = screen_layout(space, p.train, p, opts)
    start = with_traces[0][1]
    refined = refine_layout(space, p.train, p, opts, start)
    monkeypatch.setattr(incremental, "usable", lambda ev, ref: False)
    fresh = screen_layout(space, p.train, p, opts)
    again = refine_layout(space, p.train, p, opts, fresh[0][1])
    for a, b in zip(with_traces + refined, fresh + again, strict=True):
        assert (a[0], a[2], a[3]) == (b[0], b[2], b[3])
        np.testing.assert_array_equal(a[1].hosts, b[1].hosts)
