"""Planning time of the AlpaServe search at scale, against the published policy's greedy.

Cases: 64 devices × 96 models (target ≤ 3 s; AlpaServe's own code needs about 13 s on a
similar synthetic profile) and 256 devices × 512 models (target < 60 s on 2 cores). Models
are BERT-1.3B copies on V100s (13 GB usable), Gamma arrivals with CV 4, power-law
popularity, SLO = 5 × single-device latency, 60 s of training requests.

The published policy (Algorithm 1 of the paper, every (model, group) pair per step) is far
too slow to run over every layout here, so the baseline is timed on its *cheapest* layout
(the largest groups: fewest candidates per step). That is a lower bound on its full time,
and the printed ratio is a lower bound on our speed-up.
Run: ``python benchmarks/bench_placement.py``.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.model_spec import model_preset
from placement import SearchOptions, plan
from placement.buckets import layouts
from placement.evaluator import EvalOptions, Evaluator, prepare_workload
from placement.greedy import full_greedy
from placement.problem import Problem, build_profiles
from placement.space import SearchSpace
from workloads.mixes import MixSpec, generate_mix


def case(devices: int, n_models: int, rate: float, jobs: int, baseline: bool) -> None:
    cluster = homogeneous_cluster(devices)
    models = [model_preset("bert-1.3b").renamed(f"bert-{i}") for i in range(n_models)]
    mix = MixSpec(model_names=tuple(m.name for m in models), total_rate=rate, zipf_alpha=0.5,
                  cv=4.0)
    t0 = time.perf_counter()
    r = plan(models, cluster, mix, duration=60.0, search=SearchOptions(n_jobs=jobs))
    total = time.perf_counter() - t0
    evals = sum(e.evaluations for e in r.search_log)
    print(f"{devices} devices x {n_models} models, rate {rate:g}: plan {total:.2f} s "
          f"({len(r.search_log)} candidates, {evals} simulations), test attainment "
          f"{r.attainment:.4f}, train {r.train_attainment:.4f}, jobs={jobs}", flush=True)
    if not baseline:
        return
    lay = layouts(cluster, range(devices), min(devices, 32))[-1]
    w = generate_mix(mix, duration=60.0, seed=0)
    problem = Problem(models=tuple(models), cluster=cluster,
                      profiles=build_profiles(models, cluster,
                                              max_group_size=min(devices, 32)),
                      slo=dict(r.slo), train=prepare_workload(w, mix.model_names,
                                                               slo=dict(r.slo)),
                      options=EvalOptions())
    space = SearchSpace.build(cluster=cluster, models=models, groups=lay.groups(),
                              profiles=problem.profiles)
    ev = Evaluator(problem.train, group_stages=space.group_stages)
    t0 = time.perf_counter()
    res = full_greedy(ev, space.empty())
    base = time.perf_counter() - t0
    print(f"  published greedy on ONE layout ({lay.key}): {base:.2f} s, {res.evaluations} "
          f"simulations, train attainment {res.good / problem.train.num_requests:.4f}; "
          f"it enumerates {len(layouts(cluster, range(devices), min(devices, 32)))} layouts")
    print(f"  speed-up vs the published policy >= {base / total:.1f}x (lower bound)")


if __name__ == "__main__":
    which = sys.argv[1:] or ["64", "256"]
    # warm the compiled kernels (numba caches them on disk; a first-ever run compiles)
    case(8, 8, 16.0, 1, False)
    if "64" in which:
        case(64, 96, 128.0, 1, True)
    if "256" in which:
        case(256, 512, 512.0, 2, False)
