"""``alpaserve sweep``: a resumable grid of planning studies, locally or on Ray.

The grid comes from flags or from a YAML/JSON experiment file (keys of
:class:`alpaserve.sweep.runner.SweepGrid`: ``policies``, ``devices``, ``rate_scales``,
``cv_scales``, ``slo_scales``, ``windows``, ``seed``, ``settings``; settings are described in
:mod:`alpaserve.sweep.cases`). Rows append to ``--out`` as cases finish; rerunning the same
command skips the cases already there.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from alpaserve.errors import SpecError


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas: {text!r}") \
            from None


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas: {text!r}") \
            from None


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="experiment file (.yaml, .yml or .json)")
    parser.add_argument("--out", type=Path, default=Path("sweep.csv"),
                        help="results file, .csv or .parquet (default: sweep.csv)")
    parser.add_argument("--policies", default="sr,alpaserve",
                        help="comma-separated policies (default: %(default)s)")
    parser.add_argument("--devices", type=_ints, default=(8,), help="e.g. 4,8,16")
    parser.add_argument("--rate-scales", type=_floats, default=(1.0,))
    parser.add_argument("--cv-scales", type=_floats, default=(1.0,))
    parser.add_argument("--slo-scales", type=_floats, default=(5.0,))
    parser.add_argument("--models", default="bert-1.3b:8", help="preset:copies,...")
    parser.add_argument("--rate", type=float, default=16.0, help="base req/s (default 16)")
    parser.add_argument("--cv", type=float, default=4.0, help="base CV (default 4)")
    parser.add_argument("--trace", help="trace file instead of synthetic traffic")
    parser.add_argument("--duration", type=float, default=60.0,
                        help="seconds of synthetic traffic per case (default 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="local processes (default 1)")
    parser.add_argument("--ray", action="store_true", help="run the cases as Ray tasks")
    parser.add_argument("--ray-address", help="connect to this Ray cluster (implies --ray)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--json", action="store_true",
                        help="print the report and the result rows as JSON")


def grid_from_args(args: argparse.Namespace) -> Any:
    from alpaserve.sweep.runner import SweepGrid

    if args.config:
        try:
            text = args.config.read_text()
        except OSError as exc:
            raise SpecError(f"cannot read experiment file {str(args.config)!r}: "
                            f"{exc.strerror}") from exc
        if args.config.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
        if not isinstance(data, dict):
            raise SpecError(f"experiment file {str(args.config)!r} must hold a mapping")
        return SweepGrid.from_dict(data)
    settings: dict[str, Any] = {"models": args.models, "rate": args.rate, "cv": args.cv,
                                "duration": args.duration}
    if args.trace:
        settings["trace"] = args.trace
    return SweepGrid(policies=tuple(p.strip() for p in args.policies.split(",") if p.strip()),
                     devices=args.devices, rate_scales=args.rate_scales,
                     cv_scales=args.cv_scales, slo_scales=args.slo_scales, seed=args.seed,
                     settings=settings)


def run(args: argparse.Namespace) -> int:
    from alpaserve.cli._output import format_table
    from alpaserve.sweep.cases import run_plan_case
    from alpaserve.sweep.runner import read_results, run_sweep

    grid = grid_from_args(args)
    report = run_sweep(grid, args.out, runner=run_plan_case, workers=args.workers,
                       use_ray=args.ray, ray_address=args.ray_address,
                       progress=not args.no_progress)
    if args.json:
        from alpaserve.cli._output import print_json

        print_json({"total": report.total, "skipped_done": report.skipped_done,
                    "completed": report.completed, "failed": dict(report.failed),
                    "torn_rows_dropped": report.torn_rows_dropped, "path": str(report.path),
                    "rows": read_results(args.out)}, args)
        return 1 if report.failed else 0
    print(f"{report.total} cases: {report.skipped_done} already done, {report.completed} run, "
          f"{len(report.failed)} failed" +
          (f", {report.torn_rows_dropped} torn row dropped" if report.torn_rows_dropped else "")
          + f"; results in {report.path}")
    for case_id, message in report.failed.items():
        print(f"  failed {case_id}: {message}")
    columns = ["policy", "devices", "rate_scale", "cv_scale", "slo_scale", "attainment",
               "p99_s", "devices_used"]
    print(format_table(read_results(args.out), columns))
    return 1 if report.failed else 0
