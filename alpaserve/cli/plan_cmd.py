"""``alpaserve plan``: plan a placement for a synthetic multi-model workload.

Example::

    alpaserve plan --models bert-1.3b:8,bert-2.6b:4 --devices 8 --rate 8 --cv 4 \\
        --slo-scale 5 --policy alpaserve --out plan.json

Models are presets with a count (copies are named ``bert-1.3b-0``, ``bert-1.3b-1``, ...).
Requests follow Gamma arrivals with power-law popularity (``--zipf``). The plan is printed
(``PlanResult.explain()``) and, with ``--out``, written as JSON; ``--json`` prints the JSON.
"""

from __future__ import annotations

import argparse
import math
import sys


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", default="bert-1.3b:8",
                        help="comma-separated PRESET[:COUNT], e.g. bert-1.3b:8,bert-2.6b:4 "
                             "(%(default)s)")
    parser.add_argument("--devices", type=int, default=8, help="number of devices (8)")
    parser.add_argument("--device", default="v100-16gb", help="device preset (%(default)s)")
    parser.add_argument("--devices-per-node", type=int, default=8,
                        help="devices per node (%(default)s)")
    parser.add_argument("--rate", type=float, default=20.0,
                        help="total request rate, requests per second (%(default)s)")
    parser.add_argument("--cv", type=float, default=1.0,
                        help="inter-arrival coefficient of variation (%(default)s)")
    parser.add_argument("--zipf", type=float, default=0.5,
                        help="power-law popularity exponent (%(default)s; 0 = equal)")
    parser.add_argument("--duration", type=float, default=60.0,
                        help="seconds of training and of test workload (%(default)s)")
    slo = parser.add_mutually_exclusive_group()
    slo.add_argument("--slo-scale", type=float, default=5.0,
                     help="SLO as a multiple of each model's single-device latency "
                          "(%(default)s)")
    slo.add_argument("--slo", type=float, default=None, help="one SLO in seconds for all")
    parser.add_argument("--policy", default="alpaserve",
                        choices=("sr", "clockwork++", "alpaserve", "alpaserve-published"))
    parser.add_argument("--window", type=float, default=60.0,
                        help="Clockwork++ window in seconds (%(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (%(default)s)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (%(default)s)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bars (default: on when stderr is a terminal)")
    parser.add_argument("--memory-gib", type=float, default=None,
                        help="usable GiB per device (default: the preset's; AlpaServe's V100 "
                             "budget is 13)")
    parser.add_argument("--in-sample", action="store_true",
                        help="plan on the evaluation workload itself (AlpaServe's artifact); "
                             "by default the plan is tested on an independent sample")
    parser.add_argument("--out", default=None, help="write the plan as JSON to this file")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    from alpaserve.cluster_spec import homogeneous_cluster
    from alpaserve.errors import SpecError
    from alpaserve.model_spec import model_copies
    from placement import ClockworkOptions, SearchOptions, plan
    from workloads.mixes import MixSpec

    models = model_copies(args.models)
    budget = None
    if args.memory_gib is not None:
        if not (math.isfinite(args.memory_gib) and args.memory_gib > 0):
            raise SpecError(f"--memory-gib must be a positive number, got {args.memory_gib}")
        budget = round(args.memory_gib * 2**30)
    cluster = homogeneous_cluster(args.devices, args.device,
                                  devices_per_node=args.devices_per_node)
    mix = MixSpec(model_names=tuple(m.name for m in models), total_rate=args.rate,
                  zipf_alpha=args.zipf, cv=args.cv)
    result = plan(models, cluster, mix, slo=args.slo, slo_scale=args.slo_scale,
                  policy=args.policy, seed=args.seed, duration=args.duration,
                  search=SearchOptions(n_jobs=args.jobs,
                                       progress=sys.stderr.isatty() if args.progress is None
                                       else args.progress),
                  clockwork=ClockworkOptions(window=args.window), memory_budget=budget,
                  in_sample=args.in_sample)
    text = result.to_json()
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    sys.stdout.write((text if args.json else result.explain()) + "\n")
    return 0
