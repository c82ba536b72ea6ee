"""Quality check of ``SearchOptions.refine_gap``: plans with and without it on random instances.

The search refines the ``refine_top`` best screened layouts; ``refine_gap`` skips those
screened more than that share of the training requests below the best. This compares
``plan()`` with the default gap against ``refine_gap=None`` (refine them all) on random
instances in the style of ``bench_placement.py`` (BERT-style measured profiles, 13 GiB per
device, AlpaServe's simulation options): 1 or 2 model sizes, 2 to 24 copies each, 4 to 32
devices, rates, CVs, SLO scales and seeds drawn per instance. Per instance it prints the
training and held-out attainment of both, their plan times, and, from the unpruned search's
log, the largest screening gap of a layout whose refinement won its bucket. The summary gives
the mean and the worst training difference in points (the acceptance rule: mean not lower,
no instance more than 0.5 points worse).

Run: ``python benchmarks/bench_refine_gap.py [--instances 30] [--gap 0.01]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import bench_placement as bp

PRESETS = ("bert-1.3b", "bert-2.6b", "bert-6.7b")


def instance(k: int) -> dict:
    """The ``k``-th random instance (its own seeded generator)."""
    rng = np.random.default_rng(1000 + k)
    devices = int(rng.choice([4, 8, 8, 16, 16, 32]))
    kinds = [str(x) for x in rng.choice(PRESETS, int(rng.integers(1, 3)), replace=False)]
    spec = [(p, int(rng.integers(2, 25))) for p in kinds]
    per_device = float(rng.choice([2.0, 4.0, 8.0, 12.0]))
    rate = devices * per_device / (2 if "bert-6.7b" in kinds else 1)
    return {"devices": devices, "spec": spec, "rate": rate,
            "cv": float(rng.choice([1.0, 2.0, 4.0, 8.0])),
            "slo_scale": float(rng.choice([2.0, 3.0, 5.0, 8.0])),
            "seed": int(rng.integers(0, 1000))}


def run(inst: dict, gap: float | None, duration: float) -> tuple:
    """Plan one instance; returns the result and its wall time."""
    from alpaserve.cluster_spec import homogeneous_cluster
    from alpaserve.model_spec import model_preset
    from alpaserve.profiles import ProfileDB
    from placement import SearchOptions, plan
    from simulator.options import SimulationOptions
    from workloads.mixes import MixSpec

    models, presets = [], {}
    for preset, copies in inst["spec"]:
        for i in range(copies):
            models.append(model_preset(preset).renamed(f"{preset}#{i}"))
            presets[models[-1].name] = preset
    cluster = homogeneous_cluster(inst["devices"])
    tsv = bp.bert_style_tsv(models, presets, min(inst["devices"], 8))
    profiles = ProfileDB.from_tsv(tsv, {m.name: m for m in models})
    mix = MixSpec(model_names=tuple(m.name for m in models), total_rate=inst["rate"],
                  zipf_alpha=0.5, cv=inst["cv"])
    t0 = time.perf_counter()
    r = plan(models, cluster, mix, duration=duration, slo_scale=inst["slo_scale"],
             profiles=profiles, options=SimulationOptions.alpaserve(),
             memory_budget=13 * bp.GIB, search=SearchOptions(threads=1, refine_gap=gap),
             seed=inst["seed"])
    return r, time.perf_counter() - t0


def winning_gap(log: tuple) -> float:
    """Largest screening gap (points of the bucket's requests) of a layout whose refined
    result beat every other layout's in its bucket (0 when the best screened one won)."""
    by: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    requests: dict[str, int] = {}
    for e in log:
        by[e.bucket].setdefault(e.layout, {})[e.phase] = e.good
        requests[e.bucket] = e.requests
    worst = 0.0
    for bucket, lays in by.items():
        best_screen = max(d["screen"] for d in lays.values() if "screen" in d)
        final = {lay: max(d.values()) for lay, d in lays.items()}
        top = max(final.values())
        for lay, good in final.items():
            if good == top and good > best_screen and "screen" in lays[lay]:
                gap = (best_screen - lays[lay]["screen"]) / requests[bucket]
                worst = max(worst, 100 * gap)
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=30)
    ap.add_argument("--gap", type=float, default=0.01)
    ap.add_argument("--duration", type=float, default=100.0, help="seconds of traffic")
    args = ap.parse_args()
    run(instance(0), None, 10.0)  # compile and cache the kernels
    print(f"{'#':>3} {'dev':>4} {'models':<22} {'rate':>6} {'cv':>3} {'slo':>3}  "
          f"{'train all':>9} {'train gap':>9} {'diff pt':>8}  {'test all':>8} "
          f"{'test gap':>8}  {'s all':>6} {'s gap':>6}  won-from-gap pt")
    diffs, test_diffs, t_all, t_gap = [], [], 0.0, 0.0
    for k in range(args.instances):
        inst = instance(k)
        full, s_full = run(inst, None, args.duration)
        cut, s_cut = run(inst, args.gap, args.duration)
        d = 100 * (cut.train_attainment - full.train_attainment)
        td = 100 * (cut.attainment - full.attainment)
        diffs.append(d)
        test_diffs.append(td)
        t_all += s_full
        t_gap += s_cut
        label = "+".join(f"{c}x{p[5:]}" for p, c in inst["spec"])
        print(f"{k:>3} {inst['devices']:>4} {label:<22} {inst['rate']:>6g} {inst['cv']:>3g} "
              f"{inst['slo_scale']:>3g}  {full.train_attainment:>9.4f} "
              f"{cut.train_attainment:>9.4f} {d:>+8.3f}  {full.attainment:>8.4f} "
              f"{cut.attainment:>8.4f}  {s_full:>6.2f} {s_cut:>6.2f}  "
              f"{winning_gap(full.search_log):.2f}", flush=True)
    print(f"training: mean difference {np.mean(diffs):+.4f} points, worst {min(diffs):+.3f}; "
          f"held-out: mean {np.mean(test_diffs):+.4f}, worst {min(test_diffs):+.3f}; "
          f"plan time {t_all:.2f} s -> {t_gap:.2f} s ({t_all / max(t_gap, 1e-9):.2f}x)")


if __name__ == "__main__":
    main()
