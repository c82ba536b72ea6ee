"""``alpaserve simulate PLAN``: SLO attainment of a placement under a workload.

``PLAN`` is a plan file (``alpaserve plan --out``) or a bare placement JSON. With a plan
file and no other flags, the workload it was planned for is replayed: for a synthetic mix a
fresh sample with the plan's seed + 1 (neither the search's nor the plan's test sample), for
a trace the held-out test part of the same window; the SLOs are the plan's. Flags override
each of these. Profiles come from ``--profiles`` (a ProfileDB JSON, or AlpaServe's TSV) or,
by default, from the analytic cost model for exactly the configs and devices the placement
uses.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from alpaserve.cli import _checks as checks
from alpaserve.cli._output import add_output_flags, emit
from alpaserve.cli._trace_args import add_trace_flags
from alpaserve.cli._workload_args import add_workload_flags, slo_per_model
from alpaserve.errors import ProfileError, SpecError


def register(parser: argparse.ArgumentParser) -> None:
    """Add ``alpaserve simulate``'s flags to its parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser; flags are added in place.
    """
    parser.add_argument("placement", type=checks.input_file, metavar="PLAN",
                        help="plan file (from `plan --out`) or placement JSON")
    parser.add_argument("--profiles", type=checks.input_file,
                        help="profile database (.json or AlpaServe .tsv); default: the plan "
                             "file's profile file if it names one, else analytic")
    parser.add_argument("--engine", choices=("fast", "reference"), default="fast")
    parser.add_argument("--dispatch", choices=("earliest-finish", "least-outstanding",
                                               "alpaserve"), default="earliest-finish",
                        help="dispatch policy (default: %(default)s)")
    parser.add_argument("--max-batch", type=checks.batch, default=None,
                        help=f"batching limit, at most {checks.MAX_BATCH} (default: the plan "
                             "file's max_batch, else 1)")
    parser.add_argument("--no-admission", action="store_true",
                        help="run late requests instead of dropping them")
    parser.add_argument("--alpaserve-mode", action="store_true",
                        help="AlpaServe-compatible overheads, dispatch, float32 latencies "
                             "and request-count trimming, and synthetic arrivals with "
                             "AlpaServe's ordinary (non-stationary) start")
    parser.add_argument("--warmup", type=checks.seconds_or_zero, default=0.0,
                        help="seconds trimmed at the start before statistics (AlpaServe mode: "
                             "int(warmup / span * n) requests)")
    parser.add_argument("--cooldown", type=checks.seconds_or_zero, default=0.0,
                        help="seconds trimmed at the end before statistics")
    parser.add_argument("--plot", metavar="PNG", type=checks.plot_file,
                        help="write SLO attainment over time (and the arrival rate) here")
    parser.add_argument("--plot-window", type=checks.seconds, default=60.0, metavar="S",
                        help="window of --plot, seconds (default: %(default)s)")
    parser.add_argument("--per-request", metavar="FILE", type=checks.table_file,
                        help="write the per-request table here (.csv, .parquet or .json)")
    add_workload_flags(parser, from_plan=True)
    add_trace_flags(parser, simulate=True)
    add_output_flags(parser)


def load_profiles(path: Path, models: Any) -> Any:
    """A profile database from a JSON file or AlpaServe's TSV (by suffix).

    Parameters
    ----------
    path : pathlib.Path
        The file.
    models : mapping of str to ModelSpec
        The placement's models (the TSV needs their layer counts).

    Returns
    -------
    ProfileDB
        The profiles.

    Raises
    ------
    ProfileError
        When the file is malformed; the message names it.
    """
    from alpaserve.profiles import ProfileDB
    from alpaserve.strict_json import read_text

    text = read_text(path, "profiles")
    if path.suffix.lower() == ".tsv":
        return ProfileDB.from_tsv(text, models, path=str(path))
    try:
        return ProfileDB.from_json(text)
    except (SpecError, ProfileError) as exc:  # name the file, as the TSV reader does
        raise type(exc)(f"profiles {str(path)!r}: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    """Run ``alpaserve simulate``: a simulation of a plan.

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
    from alpaserve.cli._workload_args import resolve_workload
    from alpaserve.cost.model import profile_entry
    from alpaserve.plan_file import load_plan_file
    from alpaserve.profiles import ProfileDB
    from simulator import SimulationOptions, simulate

    def read_profiles(models: Any, planned: Any) -> Any:
        """--profiles, else the profile file the plan was made with, else None (analytic)."""
        path = args.profiles
        if path is None and (planned or {}).get("source") == "file":
            path = Path(planned["path"])
            if not path.is_file():
                raise SpecError(f"the plan was made with profiles {str(path)!r}, which is "
                                "gone; give --profiles")
        return None if path is None else load_profiles(path, models)

    # Profiles are the truth for memory: the placement is checked with their weights.
    plan_file = load_plan_file(args.placement, profiles=read_profiles)
    placement = plan_file.placement
    max_batch = checks.planned_max_batch(args.max_batch, plan_file, args.placement)
    names = sorted(placement.models)
    if placement.profiles is not None:
        profiles = placement.profiles
    else:
        profiles = ProfileDB()
        for group in placement.groups:
            stage_ids = [mesh.device_ids for mesh in group.stage_meshes]
            for name, config in group.models.items():
                for b in range(1, max_batch + 1):
                    profiles.add(profile_entry(model=placement.models[name], config=config,
                                               cluster=placement.cluster, batch_size=b,
                                               stage_device_ids=stage_ids))
    workload, source = resolve_workload(args, plan_file, tuple(names))
    slo = slo_per_model(placement.models, placement.cluster.device, args, plan_file.slo)
    unplaced = sorted(set(placement.models) - placement.hosted_models)
    if plan_file.summary.get("schedule"):
        print(f"warning: {args.placement} holds a time-varying plan "
              f"({len(plan_file.summary['schedule'])} windows); simulating the placement of "
              "its first window", file=sys.stderr)
    if unplaced:
        print(f"warning: {len(unplaced)} model(s) have no replica and miss every SLO: "
              f"{', '.join(unplaced[:8])}", file=sys.stderr)
    if args.alpaserve_mode:
        options = SimulationOptions.alpaserve(engine=args.engine, max_batch=max_batch,
                                              admission=not args.no_admission,
                                              warmup=args.warmup, cooldown=args.cooldown)
    else:
        options = SimulationOptions(engine=args.engine, policy=args.dispatch,
                                    max_batch=max_batch, admission=not args.no_admission,
                                    warmup=args.warmup, cooldown=args.cooldown)
    result = simulate(placement, profiles, workload, options, slo=slo)
    rows: list[dict[str, Any]] = [{
        "model": "(all)", "requests": result.num_requests, "attainment": result.attainment,
        "served": result.num_served, "dropped": result.num_dropped,
        "unserved": result.num_unserved, "p50_ms": 1e3 * result.latency_p50,
        "p99_ms": 1e3 * result.latency_p99,
    }]
    for name in names:
        rows.append({"model": name, "requests": result.requests_per_model.get(name, 0),
                     "attainment": result.attainment_per_model.get(name, float("nan")),
                     "slo_ms": 1e3 * slo[name]})
    title = (f"workload: {source['description']}\n{len(workload)} requests on "
             f"{len(placement.groups)} groups, throughput {result.throughput:.3g} req/s, "
             f"engine {args.engine}" + (f", batches up to {max_batch}" if max_batch > 1 else ""))
    emit(rows, args, title=title, columns=("model", "requests", "attainment", "served",
                                           "dropped", "unserved", "p50_ms", "p99_ms", "slo_ms"),
         extra={"workload": source, "models_without_replica": unplaced,
                "max_batch": max_batch})
    if args.plot:
        from alpaserve.plots import plot_attainment_over_time
        from alpaserve.safe_files import save_figure

        fig = plot_attainment_over_time(result.arrival, result.good, window_s=args.plot_window,
                                        label=f"{args.placement.name} ({args.engine})")
        save_figure(fig, args.plot, force=getattr(args, "force", False), dpi=120)
        print(f"wrote {args.plot}")  # to stderr under --json (machine_stdout)
    if args.per_request:
        from alpaserve.cli._per_request import write_per_request

        write_per_request(result, args.per_request, force=getattr(args, "force", False))
    return 0
