"""``alpaserve simulate PLACEMENT``: SLO attainment of a placement under a workload.

Profiles come from ``--profiles`` (a ProfileDB JSON, or AlpaServe's TSV) or, by default,
from the analytic cost model for exactly the configs and devices the placement uses.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from alpaserve.cli._output import add_output_flags, emit
from alpaserve.cli._workload_args import (
    add_workload_flags,
    slo_per_model,
    synthetic_workload,
    trace_workload,
)
from alpaserve.errors import SpecError


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("placement", type=Path, help="placement JSON (e.g. from `plan`)")
    parser.add_argument("--profiles", type=Path,
                        help="profile database (.json or AlpaServe .tsv); default: analytic")
    parser.add_argument("--engine", choices=("fast", "reference"), default="fast")
    parser.add_argument("--dispatch", choices=("earliest-finish", "least-outstanding",
                                               "alpaserve"), default="earliest-finish",
                        help="dispatch policy (default: %(default)s)")
    parser.add_argument("--max-batch", type=int, default=1, help="batching limit (default 1)")
    parser.add_argument("--no-admission", action="store_true",
                        help="run late requests instead of dropping them")
    parser.add_argument("--alpaserve-mode", action="store_true",
                        help="AlpaServe-compatible overheads, dispatch, float32 latencies "
                             "and request-count trimming")
    parser.add_argument("--warmup", type=float, default=0.0,
                        help="seconds trimmed at the start before statistics (AlpaServe mode: "
                             "int(warmup / span * n) requests)")
    parser.add_argument("--cooldown", type=float, default=0.0,
                        help="seconds trimmed at the end before statistics")
    parser.add_argument("--per-request", metavar="FILE",
                        help="write the per-request table here (.csv, .parquet or .json)")
    add_workload_flags(parser)
    add_output_flags(parser)


def load_profiles(path: Path, models: Any) -> Any:
    from alpaserve.profiles import ProfileDB

    text = path.read_text()
    if path.suffix.lower() == ".tsv":
        return ProfileDB.from_tsv(text, models, path=str(path))
    return ProfileDB.from_json(text)


def run(args: argparse.Namespace) -> int:
    from alpaserve.cost.model import profile_entry
    from alpaserve.placement_spec import Placement
    from alpaserve.profiles import ProfileDB
    from simulator import SimulationOptions, simulate

    try:
        placement = Placement.from_json(args.placement.read_text())
    except OSError as exc:
        raise SpecError(f"cannot read placement {str(args.placement)!r}: {exc.strerror}") \
            from exc
    if args.max_batch < 1:
        raise SpecError(f"--max-batch must be >= 1, got {args.max_batch}")
    names = sorted(placement.models)
    if args.profiles:
        profiles = load_profiles(args.profiles, placement.models)
    else:
        profiles = ProfileDB()
        for group in placement.groups:
            stage_ids = [mesh.device_ids for mesh in group.stage_meshes]
            for name, config in group.models.items():
                for b in range(1, args.max_batch + 1):
                    profiles.add(profile_entry(model=placement.models[name], config=config,
                                               cluster=placement.cluster, batch_size=b,
                                               stage_device_ids=stage_ids))
    workload = (trace_workload(args.trace, names) if args.trace
                else synthetic_workload(names, args))
    slo = slo_per_model(placement.models, placement.cluster.device, args)
    if args.alpaserve_mode:
        options = SimulationOptions.alpaserve(engine=args.engine, max_batch=args.max_batch,
                                              admission=not args.no_admission,
                                              warmup=args.warmup, cooldown=args.cooldown)
    else:
        options = SimulationOptions(engine=args.engine, policy=args.dispatch,
                                    max_batch=args.max_batch, admission=not args.no_admission,
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
    emit(rows, args, title=f"{len(workload)} requests on {len(placement.groups)} groups, "
                           f"throughput {result.throughput:.3g} req/s, engine {args.engine}")
    if args.per_request:
        from alpaserve.cli._output import write_rows

        table = result.to_dataframe()
        write_rows(table.to_dict(orient="records"), args.per_request)
    return 0
