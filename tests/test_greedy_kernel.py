"""The compiled greedy (plain and look-ahead) equals :func:`placement.greedy.construct`'s
Python loop."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from placement._examples import tiny_cluster, tiny_model
from placement._greedy_kernel import row_sum
from placement.evaluator import EvalOptions, Evaluator, prepare_workload
from placement.greedy import GreedyOptions, GreedyResult, construct
from placement.partitions import GroupShape
from placement.space import SearchSpace
from workloads.workload import Workload


def _case(seed: int) -> tuple[Evaluator, SearchSpace, np.ndarray]:
    """A random space and workload, coarse enough that every ranking has ties: equal
    request counts and latencies, equal loads and free memory, tied arrivals."""
    rng = np.random.default_rng(seed)
    n_m = int(rng.integers(1, 7))
    n_grp = int(rng.integers(1, 6))
    pipes = [int(p) for p in rng.integers(1, 4, min(n_grp, int(rng.integers(1, 3))))]
    shapes = tuple(GroupShape(pipeline=p, tensor=1 + i) for i, p in enumerate(pipes))
    # every shape has a group, as in a real space
    group_shape = rng.permutation(np.arange(n_grp) % len(shapes)).astype(np.int64)
    smax = max(pipes)
    latency = np.zeros((len(shapes), n_m, smax))
    memory = np.zeros((len(shapes), n_m, smax), dtype=np.int64)
    for s, p in enumerate(pipes):
        latency[s, :, :p] = rng.choice([0.05, 0.1, 0.2], (n_m, p))
        memory[s, :, :p] = rng.choice([1, 2, 3], (n_m, p))
    feasible = rng.random((len(shapes), n_m)) < 0.9
    capacity = int(rng.integers(2, 9))  # from one replica per group to all of them
    models = tuple(tiny_model(f"m{i}") for i in range(n_m))
    space = SearchSpace(cluster=tiny_cluster(4), models=models,
                        group_devices=tuple((g,) for g in range(n_grp)),
                        group_shape=group_shape, shapes=shapes,
                        configs=tuple((None,) * n_m for _ in shapes), latency=latency,
                        memory=memory, feasible=feasible, capacity=capacity)
    n = int(rng.integers(0, 150))
    arrival = np.sort(np.round(rng.exponential(0.03, n).cumsum(), 2))
    names = [f"m{i}" for i in range(n_m)]
    # half the cases give every model the same count (tied unmet requests and rates)
    code = np.arange(n) % n_m if rng.random() < 0.5 else rng.integers(0, n_m, n)
    work = Workload.from_arrays(arrival=arrival, model=[names[int(c)] for c in code])
    opts = EvalOptions(dispatch=str(rng.choice(["earliest-finish", "alpaserve"])),
                       admission=bool(rng.random() < 0.5))
    prepared = prepare_workload(work, names, slo=float(rng.choice([0.15, 0.3, 2.0, 50.0])),
                                options=opts)
    ev = Evaluator(prepared, group_stages=space.group_stages, options=opts)
    start = (rng.random((n_grp, n_m)) < 0.2) & space.replica_mask()
    return ev, space, start


def _both(ev: Evaluator, space: SearchSpace, start: np.ndarray, opts: GreedyOptions
          ) -> tuple[GreedyResult, GreedyResult]:
    begin = space.empty()
    for g, m in zip(*np.nonzero(start), strict=True):
        if begin.fits(int(g), int(m)):
            begin.add(int(g), int(m))
    before = ev.num_evaluations
    fast = construct(ev, begin, options=opts, compiled=True)
    assert ev.num_evaluations - before == fast.evaluations
    slow = construct(ev, begin, options=opts, compiled=False)
    np.testing.assert_array_equal(fast.assignment.hosts, slow.assignment.hosts)
    np.testing.assert_array_equal(fast.assignment.used, slow.assignment.used)
    assert (fast.good, fast.steps) == (slow.good, slow.steps)
    # the look-ahead keeps its chosen candidate's counts: one simulation a step fewer
    lookahead = opts.top_models > 1 or opts.top_groups > 1
    assert fast.evaluations == slow.evaluations - (fast.steps if lookahead else 0)
    return fast, slow


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10**6), batch=st.integers(1, 4),
       patience=st.one_of(st.none(), st.integers(0, 2)))
def test_compiled_equals_python(seed, batch, patience):
    ev, space, start = _case(seed)
    _both(ev, space, start, GreedyOptions(batch=batch, patience=patience))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), top_models=st.integers(1, 4), top_groups=st.integers(1, 3),
       patience=st.one_of(st.none(), st.integers(0, 2)))
def test_compiled_lookahead_equals_python(seed, top_models, top_groups, patience):
    ev, space, start = _case(seed)
    _both(ev, space, start, GreedyOptions(top_models=max(top_models, 3 - top_groups),
                                          top_groups=top_groups, patience=patience))


def test_covers_early_stop_and_an_earlier_best():
    """Over fixed seeds the cases include a stop at "every request good" and a best state
    that is not the last one (more replicas fit, fewer requests good)."""
    stopped = earlier = 0
    for seed in range(150):
        ev, space, start = _case(seed)
        opts = GreedyOptions(batch=1 + seed % 3) if seed % 2 else \
            GreedyOptions(top_models=1 + seed % 4, top_groups=2)
        fast, _ = _both(ev, space, start, opts)
        n = ev.prepared.num_requests
        more_fit = bool(fast.assignment.fit_matrix().any())
        stopped += fast.good == n and more_fit and n > 0
        earlier += fast.good < n and more_fit
    assert stopped >= 5
    assert earlier >= 5


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 1500), zeros=st.floats(0.0, 0.9), seed=st.integers(0, 10**6))
def test_row_sum_is_numpys(n, zeros, seed):
    rng = np.random.default_rng(seed)
    x = rng.random(n) * rng.random(n) * 100
    x[rng.random(n) < zeros] = 0.0
    assert row_sum(x) == x.sum()
