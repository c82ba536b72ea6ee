"""``alpaserve fidelity``: serve a placement for real and compare with its simulation."""

from __future__ import annotations

import argparse
import json

from alpaserve.cli import _checks as checks
from alpaserve.cli._runtime_args import add_device_args, devices_from
from alpaserve.errors import SpecError


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("placement", type=checks.input_file, metavar="PLACEMENT",
                        help="placement JSON (Placement.to_json)")
    parser.add_argument("--rate", type=checks.rate, default=20.0,
                        help="total Gamma arrival rate, req/s (default 20)")
    parser.add_argument("--cv", type=checks.cv, default=2.0,
                        help="coefficient of variation of inter-arrival times (default 2)")
    parser.add_argument("--requests", type=checks.count, default=200,
                        help="number of requests (default 200)")
    parser.add_argument("--slo-scale", type=checks.scale, default=5.0,
                        help="SLO = this x the model's measured single-request latency on "
                             "its fastest group (default 5)")
    parser.add_argument("--time-scale", type=checks.scale, default=1.0,
                        help="replay the arrivals this many times slower (default 1)")
    parser.add_argument("--workload-seed", type=checks.seed, default=0)
    parser.add_argument("--repeats", type=checks.count, default=10,
                        help="calibration runs per stage (default 10)")
    parser.add_argument("--out", type=checks.json_file, help="write the report as JSON here")
    add_device_args(parser)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from alpaserve.runtime.fidelity import measure_fidelity
    from alpaserve.runtime.stationarity import Tolerance
    from workloads import Workload

    placement = checks.load_placement(args.placement)
    models = sorted(placement.hosted_models)
    if not models:
        raise SpecError(f"placement {args.placement} hosts no model")
    if args.rate <= 0 or args.cv <= 0 or args.requests <= 0:
        raise SpecError("--rate, --cv and --requests must be positive, got "
                        f"{args.rate}, {args.cv}, {args.requests}")
    rng = np.random.default_rng(args.workload_seed)
    shape = 1.0 / args.cv**2
    arrival = np.cumsum(rng.gamma(shape, args.cv**2 / args.rate, args.requests))
    workload = Workload.from_arrays(arrival=arrival, model=rng.choice(models, args.requests),
                                    model_names=models)
    report = measure_fidelity(placement, workload, slo_scale=args.slo_scale,
                              time_scale=args.time_scale,
                              runtime_options={"devices": devices_from(args), "seed": args.seed,
                                               "dtype": args.dtype, "repeats": args.repeats})
    print(report.format())
    if report.host is not None and (why := report.host.violations(Tolerance())):
        print(f"warning: the host was not steady ({'; '.join(why)}); the difference may "
              "reflect the host rather than the simulator (alpaserve/runtime/stationarity.py)")
    if args.out:
        args.out.write_text(json.dumps(report.to_dict(), indent=1))
    return 0
