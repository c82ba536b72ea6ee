"""``alpaserve fidelity PLAN``: serve a placement for real and compare with its simulation.

``PLAN`` is a plan file (``alpaserve plan --out``) or a bare placement JSON. The workload is
Gamma arrivals (``--rate``, ``--cv``, ``--requests``); with a plan file the rate and CV
default to the planned mix's, and for a plan made for a trace the first ``--requests`` of the
trace's held-out test part are replayed (unless ``--rate``/``--cv`` are given).

``--max-batch N`` (N > 1) serves with the simulator's batching rules and predicts with them;
a plan file carrying ``"max_batch"`` (written next to its placement) uses it by default.

``--contention`` chooses the prediction: ``auto`` (the default) predicts pipelines on CPU
devices with the contention model (:mod:`simulator.contention`, calibrated just before and
just after serving, and predicted with their average), everything else with the plain
simulator; the report names the one used and gives both attainments
(``predicted_attainment``, ``predicted_attainment_uncontended``). Two calibrations that
differ by more than 20% mark the host as not steady (``host_not_steady``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from alpaserve.cli import _checks as checks
from alpaserve.cli._output import print_json
from alpaserve.cli._runtime_args import add_device_args, devices_from
from alpaserve.errors import SpecError
from alpaserve.safe_files import write_text

DEFAULT_RATE, DEFAULT_CV = 20.0, 2.0


def register(parser: argparse.ArgumentParser) -> None:
    """Add ``alpaserve fidelity``'s flags to its parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser; flags are added in place.
    """
    parser.add_argument("placement", type=checks.input_file, metavar="PLAN",
                        help="plan file (from `plan --out`) or placement JSON")
    parser.add_argument("--rate", type=checks.rate, default=None,
                        help=f"total Gamma arrival rate, req/s (default: the plan's, else "
                             f"{DEFAULT_RATE:g})")
    parser.add_argument("--cv", type=checks.cv, default=None,
                        help=f"coefficient of variation of inter-arrival times (default: the "
                             f"plan's, else {DEFAULT_CV:g})")
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
    parser.add_argument("--max-batch", type=checks.batch, default=None,
                        help="largest batch the runtime forms (and the simulator predicts "
                             f"with), at most {checks.MAX_BATCH} (default: the plan file's "
                             "max_batch, else 1)")
    parser.add_argument("--out", type=checks.json_file, help="write the report as JSON here")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--calibrate-concurrently", action=argparse.BooleanOptionalAction,
                        default=True,
                        help="calibrate all groups at once, so groups that share hardware "
                             "(CPU virtual devices) are profiled contended; turn off on "
                             "GPUs, where groups have their own devices (default: on)")
    parser.add_argument("--contention", choices=("auto", "on", "off"), default="auto",
                        help="predict with the measured slowdown of stages that share the "
                             "host's cores (auto: pipelines on CPU devices; off: the plain "
                             "simulator; see alpaserve/runtime/fidelity.py)")
    add_device_args(parser)


def _workload(args: argparse.Namespace, plan_file: Any, models: list[str]
              ) -> tuple[Any, str]:
    import numpy as np

    from workloads import Workload

    planned = dict(plan_file.workload or {})
    if planned.get("kind") == "trace" and args.rate is None and args.cv is None:
        from alpaserve.cli._trace_args import TraceSpec, load_trace

        order = tuple(planned.get("model_names") or ())
        targets = order if sorted(order) == sorted(plan_file.placement.models) \
            else tuple(sorted(plan_file.placement.models))
        test = load_trace(TraceSpec.from_dict(planned), targets).test
        if len(test) > args.requests:  # the requests before the (N+1)-th arrival
            test = test.window(float(test.arrival[0]), float(test.arrival[args.requests]))
        keep = np.isin(test.models_of(), models)
        if not keep.all():
            print(f"warning: {int((~keep).sum())} of {len(test)} trace requests are for "
                  "models without a replica and are left out of the real run", file=sys.stderr)
        arrival = test.arrival[keep]
        head = Workload.from_arrays(arrival=arrival - (arrival[0] if len(arrival) else 0.0),
                                    model=test.models_of()[keep], model_names=models)
        return head, (f"the first {len(head)} held-out requests of the plan's "
                      f"trace {planned.get('path')}")
    rate = args.rate if args.rate is not None else float(planned.get("rate", DEFAULT_RATE))
    cv = args.cv if args.cv is not None else float(planned.get("cv", DEFAULT_CV))
    if rate <= 0 or cv <= 0:
        raise SpecError(f"--rate and --cv must be positive, got {rate} and {cv}")
    rng = np.random.default_rng(args.workload_seed)
    shape = 1.0 / cv**2
    arrival = np.cumsum(rng.gamma(shape, cv**2 / rate, args.requests))
    workload = Workload.from_arrays(arrival=arrival, model=rng.choice(models, args.requests),
                                    model_names=models)
    return workload, (f"{args.requests} Gamma arrivals at {rate:g} req/s, CV {cv:g}, seed "
                      f"{args.workload_seed}")


def run(args: argparse.Namespace) -> int:
    """Run ``alpaserve fidelity``: a real run against its simulation.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags (:func:`register`'s, plus the shell's ``--json``, ``--force``, ...).

    Returns
    -------
    int
        The exit status: 0. Errors raise the library's exceptions, which
        :func:`alpaserve.cli.main` prints as one line with exit status 2.
    """
    from alpaserve.plan_file import load_plan_file
    from alpaserve.runtime.fidelity import measure_fidelity
    from alpaserve.runtime.stationarity import Tolerance

    plan_file = load_plan_file(args.placement)
    placement = plan_file.placement
    models = sorted(placement.hosted_models)
    if not models:
        raise SpecError(f"placement {args.placement} hosts no model")
    if args.requests <= 0:
        raise SpecError(f"--requests must be positive, got {args.requests}")
    max_batch = checks.planned_max_batch(args.max_batch, plan_file, args.placement)
    workload, source = _workload(args, plan_file, models)
    if len(workload) == 0:
        raise SpecError(f"no requests to serve from {source}")
    report = measure_fidelity(placement, workload, slo_scale=args.slo_scale,
                              time_scale=args.time_scale,
                              runtime_options={"devices": devices_from(args), "seed": args.seed,
                                               "dtype": args.dtype, "repeats": args.repeats,
                                               "calibrate_concurrently":
                                                   args.calibrate_concurrently,
                                               "max_batch": max_batch},
                              contention=args.contention)
    why = report.host.violations(Tolerance()) if report.host is not None else []
    data = {**report.to_dict(), "workload": source, "host_not_steady": list(why)}
    if args.out:
        from alpaserve.strict_json import dumps_strict

        write_text(args.out, dumps_strict(data, indent=1), force=getattr(args, "force", False))
    if args.json:
        print_json(data, args)
        return 0
    print(f"workload: {source}")
    print(report.format())
    if why:
        print(f"warning: the host was not steady ({'; '.join(why)}); the difference may "
              "reflect the host rather than the simulator (alpaserve/runtime/stationarity.py)")
    return 0
