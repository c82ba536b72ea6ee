"""``alpaserve sweep``: a resumable grid of planning studies, locally or on Ray.

The grid comes from flags or from a YAML/JSON experiment file (the format is in
:mod:`alpaserve.sweep.schema`; settings in :mod:`alpaserve.sweep.cases`). Rows append to
``--out`` as cases finish; rerunning the same command skips the cases already there.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from alpaserve.errors import SpecError

EPILOG = """\
experiment file (--config, YAML or JSON); every case of the cross product runs:
  policies: [sr, alpaserve]      a name or a list (required; `policies: sr` is one policy)
  devices: [4, 8]                integers                       (default 8)
  rate_scales: [0.5, 1, 2]       numbers, times settings.rate   (default 1)
  cv_scales: [1, 4]              numbers, times settings.cv     (default 1)
  slo_scales: [2.5, 5, 10]       numbers, SLO / model latency   (default 5)
  windows: [[0, 1800], null]     [start_s, end_s] of a trace; null = the whole trace
  seeds: [0, 1, 2]               integers (or `seed: 0`)
  settings:                      fixed for every case:
    models: "bert-1.3b:8"        preset:copies, comma separated
    device: v100-16gb            device preset; devices_per_node: 8
    rate: 16                     base req/s; cv: 4; zipf: 0 (equal shares); duration: 60
    trace: path/to/trace.csv     a trace instead of synthetic traffic (relative to the
                                 current directory; --trace overrides it)
An unknown key or a wrong type is an error naming it. Examples: examples/*.yaml.

results (--out .csv or .parquet): one row per case with plain typed cells: case_id,
experiment (hash of the experiment's cases), version, config (JSON), the axes (policy,
devices, rate_scale, cv_scale, slo_scale, window_start, window_end, seed) and the metrics
(attainment, p99_s, dropped, requests, devices_used, groups, plan_wall_s). Load it with
alpaserve.sweep.load_sweep(path) -> pandas.DataFrame. A rerun resumes the same experiment;
another experiment's file or a file that is not a sweep's is refused unless --force. The
file is locked while a sweep runs: a second sweep on it fails, or waits with --wait.

Ray: --ray-address HOST:PORT joins an existing cluster (this process's code is shipped
with the job; with token auth set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN or
RAY_AUTH_TOKEN_PATH); --ray alone starts a local Ray.
"""

GRID_FLAGS = ("policies", "devices", "rate_scales", "cv_scales", "slo_scales", "seeds",
              "models", "rate", "cv", "duration")


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
    """Add ``alpaserve sweep``'s flags to its parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser; flags are added in place.
    """
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("--config", type=Path, help="experiment file (.yaml, .yml or .json)")
    parser.add_argument("--out", type=Path, default=Path("sweep.csv"),
                        help="results file, .csv or .parquet (default: sweep.csv)")
    parser.add_argument("--policies", help="comma-separated policies (default: sr,alpaserve)")
    parser.add_argument("--devices", type=_ints, help="e.g. 4,8,16 (default 8)")
    parser.add_argument("--rate-scales", type=_floats, help="default 1")
    parser.add_argument("--cv-scales", type=_floats, help="default 1")
    parser.add_argument("--slo-scales", type=_floats, help="default 5")
    parser.add_argument("--seeds", type=_ints, help="seeds, an axis (default 0)")
    parser.add_argument("--models", help="preset:copies,... (default bert-1.3b:8)")
    parser.add_argument("--rate", type=float, help="base req/s (default 16)")
    parser.add_argument("--cv", type=float, help="base CV (default 4)")
    parser.add_argument("--trace", help="trace file instead of synthetic traffic "
                                        "(overrides the experiment file's)")
    parser.add_argument("--duration", type=float,
                        help="seconds of synthetic traffic per case (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="one seed for every case (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="local processes (default 1)")
    parser.add_argument("--ray", action="store_true", help="run the cases as Ray tasks")
    parser.add_argument("--ray-address", help="connect to this Ray cluster (implies --ray)")
    parser.add_argument("--ray-num-cpus", type=float, default=1.0,
                        help="CPUs per Ray task (default 1)")
    parser.add_argument("--wait", action="store_true",
                        help="wait while another sweep writes --out instead of failing")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--json", action="store_true",
                        help="print the report and the result rows as JSON")


def grid_from_args(args: argparse.Namespace) -> Any:
    """The sweep's grid: the ``--config`` file, with the axis flags overriding its keys.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags.

    Returns
    -------
    SweepGrid
        The checked grid.

    Raises
    ------
    SpecError
        When the file or a flag is malformed (one line naming the key).
    """
    from alpaserve.sweep.cases import SETTINGS
    from alpaserve.sweep.runner import SweepGrid
    from alpaserve.sweep.schema import load_experiment

    if args.config:
        given = [f"--{f.replace('_', '-')}" for f in GRID_FLAGS
                 if getattr(args, f, None) is not None]
        if given:
            raise SpecError(f"{', '.join(given)} cannot be combined with --config; set them "
                            "in the experiment file")
        grid = load_experiment(args.config, settings_schema=SETTINGS)
        if args.trace:
            grid = SweepGrid(**{**{f: getattr(grid, f) for f in grid.__dataclass_fields__},
                                "settings": {**grid.settings, "trace": args.trace}})
    else:
        settings: dict[str, Any] = {
            "models": args.models or "bert-1.3b:8",
            "rate": 16.0 if args.rate is None else args.rate,
            "cv": 4.0 if args.cv is None else args.cv,
            "duration": 60.0 if args.duration is None else args.duration}
        if args.trace:
            settings["trace"] = args.trace
        policies = args.policies or "sr,alpaserve"
        grid = SweepGrid(policies=tuple(p.strip() for p in policies.split(",") if p.strip()),
                         devices=args.devices or (8,), rate_scales=args.rate_scales or (1.0,),
                         cv_scales=args.cv_scales or (1.0,),
                         slo_scales=args.slo_scales or (5.0,),
                         seed=args.seed if args.seeds is None else 0, seeds=args.seeds,
                         settings=settings)
    trace = grid.settings.get("trace")
    if trace is not None and not Path(trace).is_file():
        raise SpecError(f"trace file {trace!r} does not exist (a relative path is taken from "
                        "the current directory; --trace FILE overrides it)")
    return grid


def run(args: argparse.Namespace) -> int:
    """Run ``alpaserve sweep``: a resumable parameter sweep.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags (:func:`register`'s, plus the shell's ``--json``, ``--force``, ...).

    Returns
    -------
    int
        The exit status: 0, or 1 when a case failed. Errors raise the library's exceptions, which
        :func:`alpaserve.cli.main` prints as one line with exit status 2.
    """
    from alpaserve.cli._output import format_table
    from alpaserve.sweep.cases import run_plan_case
    from alpaserve.sweep.runner import read_results, run_sweep

    grid = grid_from_args(args)
    report = run_sweep(grid, args.out, runner=run_plan_case, workers=args.workers,
                       use_ray=args.ray, ray_address=args.ray_address,
                       ray_num_cpus=args.ray_num_cpus, force=getattr(args, "force", False),
                       wait_for_lock=args.wait, progress=not args.no_progress)
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
          + f"; results in {report.path} (experiment {report.experiment})")
    for case_id, message in report.failed.items():
        print(f"  failed {case_id}: {' '.join(message.split())}")
    rows = read_results(args.out)
    windows = ["window_start", "window_end"] if any(r.get("window_end") is not None
                                                    for r in rows) else []
    columns = ["policy", "devices", "rate_scale", "cv_scale", "slo_scale", *windows, "seed",
               "attainment", "p99_s", "devices_used"]
    print(format_table(rows, columns))
    return 1 if report.failed else 0
