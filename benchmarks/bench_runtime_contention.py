"""CPU pipelines: the plain prediction vs the contention-aware ones vs the real run.

Serves the layouts of ``bench_runtime_gap.py`` (bert-tiny and gpt-tiny, 200 Gamma CV 3
arrivals at 40 req/s, SLO 5x) on 8 virtual CPU devices, several attempts per (layout, max
batch) on one open runtime. Before each attempt the serving-path profile is measured afresh,
and the contention curves just before and just after it (:mod:`alpaserve.runtime.contention`;
their average predicts, their shift judges the host); the attempt is then predicted three
ways: by the plain simulator (the baseline, each stage its profiled latency), by the
contention-aware fixed point with one curve for every stage, and with each group's own curve
(:func:`simulator.contention.predict_contended`, what ``alpaserve fidelity`` reports), and
compared with the run. Prints one row per attempt (with ``host_steady``, the replay
agreement, the shift, the lone stage runs' speed, the rounds and the curves) and, per row and
over all and over steady attempts, each prediction's median gap, mean absolute gap and share
of attempts within 2 points. Example::

    python benchmarks/bench_runtime_contention.py --layouts pp4,pp2xtp2+pp4 --max-batch 1,4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alpaserve.cluster_spec import homogeneous_cluster  # noqa: E402
from alpaserve.model_spec import model_preset  # noqa: E402
from alpaserve.placement_spec import Group, Placement  # noqa: E402
from workloads import Workload  # noqa: E402

LAYOUTS = {"pp1": [(0, 1, 1)], "pp2": [(0, 2, 2)], "pp4": [(0, 4, 4)],
           "pp2xtp2": [(0, 4, 2)], "pp2xtp2+pp4": [(0, 4, 2), (4, 4, 4)],
           "2xpp1": [(0, 1, 1), (1, 1, 1)]}  # (first device, devices, pipeline degree)


def placement_of(layout: str) -> Placement:
    a, b = model_preset("bert-tiny"), model_preset("gpt-tiny")
    groups = tuple(Group.uniform(name=f"g{i}", device_ids=list(range(first, first + n)),
                                 pipeline_degree=pp, models=[a, b])
                   for i, (first, n, pp) in enumerate(LAYOUTS[layout]))
    return Placement(cluster=homogeneous_cluster(8, "cpu"), models={a.name: a, b.name: b},
                     groups=groups)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layouts", default="pp4,pp2xtp2+pp4")
    parser.add_argument("--max-batch", default="1,4", help="comma-separated (default 1,4)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--attempts", type=int, default=3, help="per layout and max batch")
    args = parser.parse_args()
    unknown = sorted(set(args.layouts.split(",")) - set(LAYOUTS))
    if unknown:
        parser.error(f"unknown layouts {unknown}; choose from {sorted(LAYOUTS)}")
    from alpaserve.runtime.devices import use_cpu_devices

    devs = use_cpu_devices(8)
    from alpaserve.runtime.fidelity import measure_fidelity_steady
    from alpaserve.runtime.stationarity import Tolerance

    print(f"{'layout':12s} {'mb':>2s} {'try':>3s} {'plain':>6s} {'1 curve':>7s} "
          f"{'groups':>6s} {'measured':>8s} | gaps: {'plain':>6s} {'1 curve':>7s} "
          f"{'groups':>6s} {'replay':>6s} steady  shift  alone  rounds  s(n) 1..N per group")
    summary = []
    for layout in args.layouts.split(","):
        for mb in (int(x) for x in args.max_batch.split(",")):
            rng = np.random.default_rng(0)
            names = ["bert-tiny", "gpt-tiny"]
            arrival = np.cumsum(rng.gamma(1 / 9, 9 / args.rate, args.requests))  # CV 3
            w = Workload.from_arrays(arrival=arrival, model=rng.choice(names, args.requests),
                                     model_names=names)
            runs = measure_fidelity_steady(
                placement_of(layout), w, slo_scale=5.0, contention="on",
                needed=args.attempts, max_attempts=args.attempts,
                tolerance=Tolerance(max_drift=1e9, max_other_cores=1e9, max_steal_cores=1e9,
                                    max_tail=1e9, max_calibration_skew=1e9,
                                    max_calibration_shift=1e9,
                                    max_alone_speed=1e9),  # all kept; judged below
                runtime_options={"devices": devs, "repeats": 10, "max_batch": mb})
            for i, rep in enumerate(runs.steady):
                c = rep.contention or {}
                real = rep.attainment_real
                plain = c.get("predicted_attainment_uncontended", rep.attainment_sim)
                one = c.get("predicted_attainment_one_curve", rep.attainment_sim)
                gap = [100 * (real - x) for x in (plain, one, rep.attainment_sim)]
                summary.append((layout, mb, *gap, bool(rep.host_steady)))
                curve = " | ".join(" ".join(f"{x:.2f}" for x in g["slowdown"])
                                   for g in c["group_curves"] or [c["curve"]])
                agree = rep.replay.agreement if rep.replay is not None else float("nan")
                alone = rep.host.alone_speed if rep.host is not None else None
                print(f"{layout:12s} {mb:2d} {i:3d} {plain:6.3f} {one:7.3f} "
                      f"{rep.attainment_sim:6.3f} {real:8.3f} |       {gap[0]:+6.1f} "
                      f"{gap[1]:+7.1f} {gap[2]:+6.1f} {agree:6.3f} {rep.host_steady!s:6s} "
                      f"{100 * (c.get('shift') or 0):4.0f}% "
                      f"{'  -  ' if alone is None else f'{100 * alone:+4.0f}%'} {c['rounds']:4d}"
                      f"{'' if c['converged'] else '*':1s}    {curve}", flush=True)
                if not rep.host_steady and rep.host is not None:
                    print(f"{'':16s}host: {rep.host.describe()}")
    print("\nmeasured - predicted (points): median; mean |gap|; share within 2 points. "
          "plain | one curve | a curve per group")
    rows = np.array([x[2:] for x in summary], dtype=np.float64).reshape(-1, 4)
    for label, keep in [(f"{layout} max batch {mb}", [x[:2] == (layout, mb) for x in summary])
                        for layout in args.layouts.split(",")
                        for mb in (int(x) for x in args.max_batch.split(","))] + [
            ("all attempts", [True] * len(summary)),
            ("steady attempts", [bool(x[-1]) for x in summary])]:
        sel = rows[np.asarray(keep, dtype=bool)] if len(rows) else rows
        if not len(sel):
            print(f"  {label:26s} no attempt")
            continue
        cells = [f"{np.median(sel[:, j]):+5.1f}; {np.mean(np.abs(sel[:, j])):4.1f}; "
                 f"{np.mean(np.abs(sel[:, j]) <= 2.0 + 1e-9):4.2f}" for j in range(3)]
        print(f"  {label:26s} ({len(sel):2d}) " + " | ".join(cells))
    print("(* : the fixed point did not converge in its rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
