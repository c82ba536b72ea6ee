"""CPU pipelines: the plain prediction vs the contention-aware one vs the real run.

Serves the layouts of ``bench_runtime_gap.py`` (bert-tiny and gpt-tiny, Gamma CV 3 arrivals
at 40 req/s, SLO 5x) on 8 virtual CPU devices, several attempts per (layout, max batch) on
one open runtime. Before each attempt the serving-path profile is measured afresh, and the
contention curve just before and just after it (:mod:`alpaserve.runtime.contention`; their
average predicts, their shift judges the host); the attempt is then predicted twice,
by the plain simulator (the baseline, each stage its profiled latency) and by the
contention-aware fixed point (:func:`simulator.contention.predict_contended`), and compared
with the run. Prints one row per attempt (with ``host_steady``, the replay agreement, the
curve and the rounds) and the median gaps over all and over steady attempts. Example::

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
    parser.add_argument("--requests", type=int, default=120)
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

    print(f"{'layout':12s} {'mb':>2s} {'try':>3s} {'plain':>6s} {'contend':>7s} "
          f"{'measured':>8s} {'gap plain':>9s} {'gap cont':>8s} {'replay':>6s} steady  "
          "shift  rounds  s(n) 1..N per group")
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
                                    max_calibration_shift=1e9),  # all kept; judged below
                runtime_options={"devices": devs, "repeats": 10, "max_batch": mb})
            gaps = []
            for i, rep in enumerate(runs.steady):
                c = rep.contention or {}
                plain = c.get("predicted_attainment_uncontended", rep.attainment_sim)
                g_plain = 100 * (rep.attainment_real - plain)
                gaps.append((g_plain, rep.attainment_diff_pp, bool(rep.host_steady)))
                curve = " | ".join(" ".join(f"{x:.2f}" for x in g["slowdown"])
                                   for g in c["group_curves"] or [c["curve"]])
                agree = rep.replay.agreement if rep.replay is not None else float("nan")
                print(f"{layout:12s} {mb:2d} {i:3d} {plain:6.3f} {rep.attainment_sim:7.3f} "
                      f"{rep.attainment_real:8.3f} {g_plain:+9.1f} {rep.attainment_diff_pp:+8.1f}"
                      f" {agree:6.3f} {rep.host_steady!s:6s} {100 * (c.get('shift') or 0):4.1f}%"
                      f" {c['rounds']:3d}"
                      f"{'' if c['converged'] else '*':1s}    {curve}", flush=True)
                if not rep.host_steady and rep.host is not None:
                    print(f"{'':16s}host: {rep.host.describe()}")
            summary.append((layout, mb, gaps))
    print("\nmedian measured - predicted (pp): plain | contention-aware  [steady attempts only]")
    for layout, mb, gaps in summary:
        if not gaps:
            print(f"  {layout:12s} max batch {mb}: no attempt")
            continue
        g = np.array([x[:2] for x in gaps])
        steady = np.array([x[:2] for x in gaps if x[2]]).reshape(-1, 2)
        tail = (f"[{np.median(steady[:, 0]):+.1f} | {np.median(steady[:, 1]):+.1f}, "
                f"{len(steady)} steady]" if len(steady) else "[no steady attempt]")
        print(f"  {layout:12s} max batch {mb}: {np.median(g[:, 0]):+.1f} | "
              f"{np.median(g[:, 1]):+.1f}  {tail}")
    print("(* : the fixed point did not converge in its rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
