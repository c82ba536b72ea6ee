"""Reproduce AlpaServe's synthetic trends: SR vs Clockwork++ vs our search (vs the paper's).

BERT-1.3B copies on V100s with 13 GB usable (``device_preset("v100-16gb")``), latencies
from the analytic cost model, Gamma arrivals with power-law popularity (Zipf 0.5). Around
the default (32 devices, 32 models, rate 64 req/s, CV 4, SLO = 5 × single-device latency)
each parameter is varied in turn. Every policy is trained on one sample and tested on a
fresh one (another seed); Clockwork++ runs as in the paper, with each window's traffic
known (``oracle``), and pays model-load time on every swap.

The published policy's exhaustive greedy is slow (minutes per point at 32 devices), so it
runs at the default point and where ``--published all`` asks for it.
Run: ``python benchmarks/bench_paper_trends.py [--duration 30] [--published default|all|none]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.model_presets import model_preset
from placement import ClockworkOptions, SearchOptions, plan
from placement.problem import build_profiles
from workloads.mixes import MixSpec

DEFAULT = {"devices": 32, "rate": 64.0, "cv": 4.0, "slo_scale": 5.0}
SWEEPS = {
    "devices": [4, 8, 16, 24, 32, 40],
    "rate": [16.0, 64.0, 128.0, 192.0],
    "cv": [1.0, 4.0, 8.0, 12.0],
    "slo_scale": [1.0, 2.5, 5.0, 7.0],
}
N_MODELS = 32


def run_point(point: dict, duration: float, published: bool, profiles_cache: dict) -> dict:
    devices = int(point["devices"])
    cluster = homogeneous_cluster(devices, devices_per_node=min(8, devices))
    models = [model_preset("bert-1.3b").renamed(f"bert-{i}") for i in range(N_MODELS)]
    if devices not in profiles_cache:
        profiles_cache[devices] = build_profiles(models, cluster,
                                                 max_group_size=min(devices, 32))
    mix = MixSpec(model_names=tuple(m.name for m in models), total_rate=point["rate"],
                  zipf_alpha=0.5, cv=point["cv"])
    out = {}
    policies = ["sr", "clockwork++", "alpaserve"] + (["alpaserve-published"] if published
                                                     else [])
    for policy in policies:
        t0 = time.perf_counter()
        r = plan(models, cluster, mix, slo_scale=point["slo_scale"], policy=policy,
                 duration=duration, seed=1, profiles=profiles_cache[devices],
                 clockwork=ClockworkOptions(window=duration / 3, oracle=True),
                 search=SearchOptions(n_jobs=2))
        out[policy] = (r.attainment, time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--published", choices=("default", "all", "none"), default="default")
    args = ap.parse_args()
    cache: dict = {}
    rows = []
    t_all = time.perf_counter()
    for param, values in SWEEPS.items():
        for v in values:
            point = {**DEFAULT, param: v}
            is_default = point == DEFAULT
            pub = args.published == "all" or (args.published == "default" and is_default)
            res = run_point(point, args.duration, pub, cache)
            rows.append((param, v, res))
            cells = "  ".join(f"{k} {a:.3f} ({s:.1f}s)" for k, (a, s) in res.items())
            print(f"{param}={v:g}: {cells}", flush=True)
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s\n")
    print("| varied | value | SR | Clockwork++ | AlpaServe (ours) | AlpaServe (published) | "
          "ours − SR |")
    print("|---|---|---|---|---|---|---|")
    for param, v, res in rows:
        pub = f"{res['alpaserve-published'][0]:.3f}" if "alpaserve-published" in res else "–"
        gain = res["alpaserve"][0] - res["sr"][0]
        print(f"| {param} | {v:g} | {res['sr'][0]:.3f} | {res['clockwork++'][0]:.3f} | "
              f"{res['alpaserve'][0]:.3f} | {pub} | {gain:+.3f} |")


if __name__ == "__main__":
    main()
