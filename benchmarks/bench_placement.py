"""Warm ``plan()`` time on AlpaServe-like settings, beside the unoptimised code of the same run.

The six cases of issue 18: BERT-style measured profiles (one device: 1.3B 0.10 s and 2.6 GB,
2.6B 0.15 s and 5.2 GB, 6.7B 0.30 s and 13.4 GB; pipeline and tensor configs up to 8 devices
per group), imported from AlpaServe's TSV schema; power-law popularity (alpha 0.5), Gamma
arrivals, 13 GiB per device (``memory_budget``), 200 s of traffic, AlpaServe's simulation
options (its dispatch rule, overheads, request trimming, float32 latencies).

The baseline is the code before this work (commit ``e273faf`` by default, extracted with
``git archive`` into a temporary folder and run in a subprocess in the same run); it has no
memory budget, so its cluster's device is given 13 GiB usable directly. Both plans are timed
warm (one untimed plan first; the fastest of ``--repeats`` plans is printed, as a shared
machine's load only adds time) and both print their held-out attainment, so a speed-up that
costs goodput shows. Each code scores with its own rules, and the baseline's differ (it took
weights from the analytic model, not the profile, and trimmed by time, not by request
count), so the baseline's placement is also re-scored under today's rules on the same test
sample and on the training sample the search optimises (in brackets; "infeasible" where
the measured weights do not fit it). AlpaServe's
own mp-search times (2 cores) are the issue's.

Run: ``python benchmarks/bench_placement.py [CASE ...] [--baseline COMMIT | --no-baseline]``
with cases ``1`` to ``6`` (default all).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

# (devices, [(preset, copies)], rate, cv, slo scale, AlpaServe's mp-search s, target s)
CASES = {
    "1": (8, [("bert-1.3b", 32)], 64.0, 4.0, 5.0, 0.20, 0.04),
    "2": (32, [("bert-2.6b", 32)], 64.0, 8.0, 2.0, 0.80, 0.16),
    "3": (16, [("bert-6.7b", 16)], 16.0, 4.0, 5.0, 0.04, 0.01),
    "4": (32, [("bert-1.3b", 32)], 128.0, 8.0, 3.0, 2.09, 0.42),
    "5": (64, [("bert-1.3b", 96)], 192.0, 4.0, 5.0, 12.4, 2.5),
    "6": (256, [("bert-1.3b", 512)], 1024.0, 4.0, 5.0, float("nan"), 5.0),
}
# one device: seconds and bytes of weights
BASE = {"bert-1.3b": (0.10, 2.6e9), "bert-2.6b": (0.15, 5.2e9), "bert-6.7b": (0.30, 13.4e9)}
GIB = 1 << 30
BATCH_SIZES = (1, 2, 4, 8, 16)


def bert_style_tsv(models: list, presets: dict[str, str], max_group: int) -> str:
    """AlpaServe-schema profiles: pipeline stages pay 2 % each, tensor shards 15 %; batch
    sizes 1 to 16 (a batch of ``b`` costs ``1 + 0.6 (b - 1)`` times one request)."""
    from alpaserve.parallel_config import ParallelConfig
    from alpaserve.profiles import ProfileDB, ProfileEntry

    db = ProfileDB()
    for m in models:
        lat, weights = BASE[presets[m.name]]
        size = 1
        while size <= max_group:
            t = 1
            while t <= min(size, 8):
                p = size // t
                if p <= m.num_layers and m.num_heads % t == 0:
                    cfg = ParallelConfig.uniform(num_layers=m.num_layers, pipeline_degree=p,
                                                 tensor_degree=t)
                    stage = lat * (1 + 0.02 * (p - 1)) / p / (t * 0.85 if t > 1 else 1.0)
                    for bs in BATCH_SIZES:  # as AlpaServe's files: larger batches cost more
                        db.add(ProfileEntry(model=m.name, config=cfg, batch_size=bs,
                                            stage_latencies=(stage * (1 + 0.6 * (bs - 1)),)
                                            * p,
                                            stage_weight_bytes=(int(weights / size),) * p,
                                            stage_peak_memory_bytes=(int(weights / size)
                                                                     + bs * 10**8,) * p,
                                            source="measured"))
                t *= 2
            size *= 2
    return db.to_tsv()


def rescore(data: dict, profiles, mix, slo: dict) -> list[float] | str:
    """The held-out and training attainment of another code's placement
    (``Placement.to_dict``) under this code's rules: the same samples as ``plan()`` (seed 0's
    children), this code's simulator and options, the measured profiles' memory. A placement
    those weights do not fit gives the error's text instead."""
    import numpy as np

    from alpaserve.errors import AlpaServeError
    from alpaserve.placement_spec import Placement
    from simulator.options import SimulationOptions
    from simulator.simulate import simulate
    from workloads.mixes import generate_mix

    train_seed, test_seed = np.random.SeedSequence(0).spawn(2)
    try:
        placement = Placement.from_dict(data)
        return [simulate(placement, profiles, generate_mix(mix, duration=200.0, seed=seed),
                         SimulationOptions.alpaserve(), slo=slo).attainment
                for seed in (test_seed, train_seed)]
    except AlpaServeError as exc:
        return f"{type(exc).__name__}: {exc}"


def run_case(name: str, new: bool, threads: int = 0, repeats: int = 3,
             other_plan: str | None = None) -> dict:
    """Plan case ``name`` once to warm up, then ``repeats`` times; the fastest is reported
    (a shared machine's load only ever adds time). The old code also returns its placement;
    the new code re-scores ``other_plan`` (that placement's JSON file) with :func:`rescore`."""
    from alpaserve.cluster_spec import homogeneous_cluster
    from alpaserve.model_spec import model_preset
    from alpaserve.profiles import ProfileDB
    from placement import plan
    from simulator.options import SimulationOptions
    from workloads.mixes import MixSpec

    devices, spec, rate, cv, slo_scale, _, _ = CASES[name]
    models, presets = [], {}
    for preset, copies in spec:
        for i in range(copies):
            models.append(model_preset(preset).renamed(f"{preset}#{i}"))
            presets[models[-1].name] = preset
    cluster = homogeneous_cluster(devices)
    tsv = bert_style_tsv(models, presets, min(devices, 8))
    profiles = ProfileDB.from_tsv(tsv, {m.name: m for m in models})
    mix = MixSpec(model_names=tuple(m.name for m in models), total_rate=rate,
                  zipf_alpha=0.5, cv=cv)
    kwargs: dict = {"duration": 200.0, "slo_scale": slo_scale, "profiles": profiles,
                    "options": SimulationOptions.alpaserve()}
    if new:
        from placement import SearchOptions

        kwargs["memory_budget"] = 13 * GIB
        kwargs["search"] = SearchOptions(threads=threads)
    else:  # the old code has no budget: give the device 13 GiB directly
        dev = cluster.device
        cluster = dataclasses.replace(cluster, device=dataclasses.replace(
            dev, reserved_bytes=dev.memory_bytes - 13 * GIB))
    plan(models, cluster, mix, **kwargs)  # warm: compiles and caches what a rerun reuses
    times, cpu = [], []
    for _ in range(max(1, repeats)):
        t0, c0 = time.perf_counter(), time.process_time()
        r = plan(models, cluster, mix, **kwargs)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    out = {"case": name, "seconds": min(times), "cpu_seconds": min(cpu),
           "attainment": r.attainment, "train_attainment": r.train_attainment,
           "replicas": sum(len(g.models) for g in r.placement.groups)}
    if not new:
        out["placement"] = r.placement.to_dict()
    elif other_plan is not None:
        with open(other_plan) as f:
            out["other_rescored"] = rescore(json.load(f), profiles, mix, dict(r.slo))
    return out


def _score(value: list | str | None, train: float | None) -> str:
    if isinstance(value, list):
        return f"{value[0]:.4f}; training {train:.4f} / {value[1]:.4f}"
    return "-" if value is None else f"infeasible: {value[:60]}"


def baseline_tree(commit: str) -> str:
    out = tempfile.mkdtemp(prefix="alpaserve-baseline-")
    archive = subprocess.run(["git", "-C", ROOT, "archive", commit], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", out], input=archive, check=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="*", default=sorted(CASES))
    ap.add_argument("--baseline", default="e273faf", help="commit of the unoptimised code")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--threads", type=int, default=0,
                    help="search threads of the new code (0: one per CPU)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="timed runs per case and code (the fastest is printed; case 6: 1)")
    ap.add_argument("--child", choices=("new", "old"), help=argparse.SUPPRESS)
    ap.add_argument("--other-plan", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:  # one case in a subprocess with its source tree first on the path
        print(json.dumps(run_case(args.cases[0], args.child == "new", args.threads,
                                  1 if args.cases[0] == "6" else args.repeats,
                                  args.other_plan)))
        return
    old_tree = None if args.no_baseline else baseline_tree(args.baseline)
    print(f"{'case':<44} {'AlpaServe':>9} {'target':>7} {'plan()':>8} {'before':>8} "
          f"{'speed-up':>8}  held-out attainment after / before (before's plan under today's "
          "rules; training after / before's plan under today's rules); CPU s after / before")
    plan_file = os.path.join(tempfile.mkdtemp(prefix="alpaserve-bench-"), "old_plan.json")
    for name in args.cases:
        rows = {}
        for kind, tree in (("old", old_tree), ("new", ROOT)):
            if tree is None:
                continue
            env = {**os.environ, "PYTHONPATH": tree}
            argv = [sys.executable, os.path.abspath(__file__), name, "--child", kind,
                    "--threads", str(args.threads), "--repeats", str(args.repeats)]
            if kind == "new" and "old" in rows:
                argv += ["--other-plan", plan_file]
            proc = subprocess.run(argv, env=env, cwd=tree, check=True, capture_output=True,
                                  text=True)
            rows[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
            if kind == "old":
                with open(plan_file, "w") as f:
                    json.dump(rows[kind].pop("placement"), f)
        devices, spec, rate, cv, slo_scale, theirs, target = CASES[name]
        label = (f"{name}: {devices} dev, {spec[0][1]} x {spec[0][0][5:]}, rate {rate:g}, "
                 f"CV {cv:g}, SLO {slo_scale:g}x")
        new = rows["new"]
        old = rows.get("old")
        theirs_s = f"{theirs:>8.2f}s" if theirs == theirs else f"{'-':>9}"
        print(f"{label:<44} {theirs_s} {target:>6.2f}s {new['seconds']:>7.3f}s "
              + (f"{old['seconds']:>7.3f}s {old['seconds'] / new['seconds']:>7.1f}x  "
                 f"{new['attainment']:.4f} / {old['attainment']:.4f} "
                 f"({_score(new.get('other_rescored'), new.get('train_attainment'))})" if old else
                 f"{'-':>8} {'-':>8}  {new['attainment']:.4f}")
              + f"  ({new['replicas']} replicas)"
              + f"; CPU {new['cpu_seconds']:.3f}"
              + (f" / {old['cpu_seconds']:.3f}" if old and 'cpu_seconds' in old else ""),
              flush=True)


if __name__ == "__main__":
    main()
