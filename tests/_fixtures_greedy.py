"""Random search spaces and workloads for the compiled greedy routines' tests: coarse
enough that every ranking the routines make has ties."""

from __future__ import annotations

import numpy as np

from placement._examples import tiny_cluster, tiny_model
from placement.evaluator import EvalOptions, Evaluator, prepare_workload
from placement.partitions import GroupShape
from placement.space import SearchSpace
from workloads.workload import Workload


def random_case(seed: int, groups: int | None = None) -> tuple[Evaluator, SearchSpace, np.ndarray]:
    """A random space and workload, coarse enough that every ranking has ties: equal
    request counts and latencies, equal loads and free memory, tied arrivals."""
    rng = np.random.default_rng(seed)
    n_m = int(rng.integers(1, 7))
    n_grp = int(rng.integers(1, 6)) if groups is None else groups
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
