"""``alpaserve trace FILE``: statistics (and optionally a plot) of a trace file.

The format is detected from the header: Azure LLM (``TIMESTAMP,ContextTokens,...``), Azure
Functions 2019 (``HashOwner,HashApp,HashFunction,Trigger,1..``), Azure Functions 2021
(``app,func,end_timestamp,duration``) or the generic CSV (``arrival_s,model,...``). A saved
workload (``.npz`` or ``.parquet``) is read as is.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from alpaserve.cli import _checks as checks
from alpaserve.cli._output import add_output_flags, emit
from alpaserve.errors import TraceFormatError
from alpaserve.safe_files import save_figure

FORMATS = ("auto", "azure-llm", "azure-2019", "azure-2021", "csv", "saved")


def register(parser: argparse.ArgumentParser) -> None:
    """Add ``alpaserve trace``'s flags to its parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser; flags are added in place.
    """
    parser.add_argument("path", type=checks.input_file, help="trace file")
    parser.add_argument("--trace-format", "--format", dest="format", choices=FORMATS,
                        default="auto",
                        help="trace format (default: detect from the header)")
    parser.add_argument("--models", type=checks.count, default=16,
                        help="models to map functions onto, for function traces (default: 16)")
    parser.add_argument("--window", type=checks.seconds, default=60.0,
                        help="window for per-window statistics, seconds (default: 60)")
    parser.add_argument("--seed", type=checks.seed, default=0,
                        help="seed for arrivals within a minute of a 2019 trace (default: 0)")
    parser.add_argument("--plot", metavar="PNG", type=checks.plot_file,
                        help="write the arrival-rate plot here")
    parser.add_argument("--skip-bad-rows", action="store_true",
                        help="skip and count malformed rows instead of failing")
    add_output_flags(parser)


def detect_format(path: Path) -> str:
    """The trace format of ``path`` from its suffix or header line.

    Parameters
    ----------
    path : pathlib.Path
        The trace file.

    Returns
    -------
    str
        One of the reader names (``azure-llm``, ``azure-functions-2019``, ...).

    Raises
    ------
    TraceFormatError
        When the header matches no known format.
    """
    if path.suffix.lower() in (".npz", ".parquet"):
        return "saved"
    from workloads.traces._common import open_text

    with open_text(path) as lines:  # gzip by magic bytes; undecodable bytes are named errors
        header = next(lines, "").strip().removeprefix("\ufeff")
    if header.startswith("TIMESTAMP"):
        return "azure-llm"
    if header.startswith("HashOwner"):
        return "azure-2019"
    if header.startswith("app,func"):
        return "azure-2021"
    if header.startswith("arrival_s"):
        return "csv"
    if any(ch < " " and ch != "\t" for ch in header):
        raise TraceFormatError("control characters in the first line: a binary file, not a "
                               "text trace", path=str(path), line=1)
    raise TraceFormatError(f"cannot tell the trace format from the header {header[:60]!r}; "
                           "pass --format", path=str(path), line=1)


def read_trace(path: Path, fmt: str, *, models: int, skip_bad_rows: bool,
               seed: int = 0) -> tuple[Any, dict]:
    """Read ``path`` into a Workload; also return what the reader counted.

    ``seed`` places the arrivals within each minute of a 2019 per-minute-count trace.

    Parameters
    ----------
    path : pathlib.Path
        The trace file.
    fmt : str
        Its format (:func:`detect_format`).
    models : int
        Models the functions are mapped onto (function traces).
    skip_bad_rows : bool
        Skip and count malformed rows instead of failing on the first.
    seed : int, default 0
        Seed of the within-minute placement.

    Returns
    -------
    tuple of (Workload, dict)
        The workload and the reader's counts (rows read, skipped, ...).
    """
    from workloads.function_mapping import FunctionMapping
    from workloads.storage import load_workload
    from workloads.traces import (
        AzureFunctions2019Spec,
        AzureFunctions2021Spec,
        AzureLLMSpec,
        GenericCsvSpec,
        OnError,
        read_azure_functions_2019,
        read_azure_functions_2021,
        read_azure_llm,
        read_generic_csv,
    )

    on_error: OnError = "skip" if skip_bad_rows else "raise"
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "saved":
        return load_workload(path), {"format": fmt}
    if fmt == "azure-llm":
        result = read_azure_llm(path, AzureLLMSpec(on_error=on_error))
    elif fmt == "azure-2019":
        result = read_azure_functions_2019(path, AzureFunctions2019Spec(
            mapping=FunctionMapping(num_models=models), on_error=on_error), seed=seed)
    elif fmt == "azure-2021":
        result = read_azure_functions_2021(path, AzureFunctions2021Spec(
            mapping=FunctionMapping(num_models=models), on_error=on_error))
    else:
        result = read_generic_csv(path, GenericCsvSpec(on_error=on_error))
    counts = {"format": fmt, "rows": result.rows, "rows_skipped": result.rows_skipped,
              "empty_functions_dropped": result.empty_functions_dropped, **result.counters}
    return result.workload, counts


def run(args: argparse.Namespace) -> int:
    """Run ``alpaserve trace``: a trace's statistics.

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
    from workloads.stats import summarize, window_stats

    path = Path(args.path)
    workload, counts = read_trace(path, args.format, models=args.models,
                                  skip_bad_rows=args.skip_bad_rows, seed=args.seed)
    summary = summarize(workload)
    windows = window_stats(workload, window=args.window) if len(workload) else None
    rows: list[dict[str, Any]] = [{
        "model": "(all)", "requests": summary.requests, "rate_per_s": summary.rate,
        "cv": summary.cv, "duration_s": summary.duration,
    }]
    rows += [{"model": name, "requests": m.requests, "rate_per_s": m.rate, "cv": m.cv,
              "duration_s": summary.duration}
             for name, m in sorted(summary.by_model.items(), key=lambda kv: -kv[1].requests)]
    peak = float(windows.rate.max()) if windows is not None and len(windows) else 0.0
    title = (f"{path.name}: {counts.pop('format')} trace, " +
             ", ".join(f"{k} {v}" for k, v in counts.items()) +
             f"; peak {args.window:g}s-window rate {peak:.3g}/s")
    emit(rows, args, title=title)
    if args.plot:
        from alpaserve.plots import plot_arrival_rate

        figure = plot_arrival_rate(workload, window_s=args.window,
                                   per_model=len(workload.model_names) > 1)
        save_figure(figure, args.plot, force=getattr(args, "force", False), dpi=120)
        if not args.json:
            print(f"wrote {args.plot}")
    return 0
