"""Output helpers shared by subcommands: readable tables, ``--json`` and ``--out FILE``."""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from alpaserve.cli import _checks as checks
from alpaserve.errors import SpecError
from alpaserve.strict_json import dumps_strict, strict

__all__ = ["add_output_flags", "dumps_strict", "emit", "format_table", "machine_stdout",
           "print_json", "strict", "write_rows"]


def add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--out", metavar="FILE", type=checks.table_file,
                        help="also write the rows to FILE (.csv, .parquet or .json)")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    return str(value)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A plain-text table with right-aligned numbers.

    Examples
    --------
    >>> print(format_table([{"policy": "sr", "attainment": 0.5}]))
    policy  attainment
    sr             0.5
    """
    if not rows:
        return "(no rows)"
    cols = list(columns or rows[0].keys())
    cells = [[_cell(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    numeric = [all(isinstance(r.get(c), int | float) for r in rows) for c in cols]

    def fmt(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    return "\n".join([fmt(cols), *(fmt(row) for row in cells)])


def write_rows(rows: Sequence[Mapping[str, Any]], path: str | Path, *,
               force: bool = False) -> None:
    """Write rows to CSV, parquet (needs pyarrow) or JSON, chosen by the file suffix, through
    :mod:`alpaserve.safe_files` (atomic; a file alpaserve did not write needs ``force``)."""
    from alpaserve.safe_files import atomic_open

    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".json":
        with atomic_open(target, force=force) as fh:
            fh.write(dumps_strict(list(rows)))
    elif suffix == ".csv":
        cols = list(rows[0].keys()) if rows else []
        with atomic_open(target, newline="", force=force) as fh:
            writer = csv.DictWriter(fh, fieldnames=cols)
            writer.writeheader()
            writer.writerows(rows)
    elif suffix in (".parquet", ".pq"):
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise SpecError("writing parquet needs pyarrow: pip install 'alpaserve[data]'") \
                from exc
        with atomic_open(target, "wb", force=force) as fh:
            pq.write_table(pa.Table.from_pylist([dict(r) for r in rows]), fh)
    else:
        raise SpecError(f"--out {str(path)!r} must end in .csv, .parquet or .json")


def print_json(value: Any, args: argparse.Namespace | None = None) -> None:
    """Print ``value`` as strict JSON on the command's real standard output.

    Under ``--json``, :func:`machine_stdout` sends everything else the command writes to
    stderr and keeps the real stdout in ``args``; this writes there.

    Parameters
    ----------
    value
        The machine-readable result.
    args
        The parsed arguments (carrying the real stdout under ``--json``), or None.

    Examples
    --------
    >>> print_json({"rate": float("inf")})
    {
      "rate": null
    }
    """
    stream: TextIO = getattr(args, "_json_stream", None) or sys.stdout
    stream.write(dumps_strict(value) + "\n")
    stream.flush()


@contextlib.contextmanager
def machine_stdout(args: argparse.Namespace) -> Iterator[None]:
    """Under ``--json``, send all other output of the command to stderr.

    Solver banners written by C code (HiGHS), progress bars and stray prints go to stderr,
    both at the Python level and at the file-descriptor level, so stdout carries only what
    :func:`print_json` writes. Without ``--json`` this does nothing.

    Parameters
    ----------
    args
        The parsed arguments; ``args.json`` turns the redirection on.

    Returns
    -------
    Iterator[None]
        A context manager.

    Examples
    --------
    >>> import argparse
    >>> ns = argparse.Namespace(json=False)
    >>> with machine_stdout(ns):
    ...     print("table")
    table
    """
    if not getattr(args, "json", False):
        yield
        return
    real = sys.stdout
    real.flush()
    try:
        real_is_fd1 = real.fileno() == 1
    except (AttributeError, OSError, ValueError):  # captured in memory (e.g. by pytest)
        real_is_fd1 = False
    try:  # C code (HiGHS) writes to fd 1 directly: point it at stderr for the run
        saved_fd: int | None = os.dup(1)
        os.dup2(2, 1)
    except OSError:
        saved_fd = None
    stream = os.fdopen(saved_fd, "w", encoding="utf-8", closefd=False) \
        if real_is_fd1 and saved_fd is not None else real
    args._json_stream = stream
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = real
        try:
            stream.flush()  # may raise BrokenPipeError (`| head`); restore fd 1 regardless
        finally:
            if saved_fd is not None:
                sys.stderr.flush()
                os.dup2(saved_fd, 1)
                os.close(saved_fd)
            args._json_stream = None


def emit(rows: Sequence[Mapping[str, Any]], args: argparse.Namespace, *,
         columns: Sequence[str] | None = None, title: str | None = None,
         extra: Mapping[str, Any] | None = None) -> None:
    """Print rows as a table (or JSON with ``--json``) and write ``--out`` when given.

    Parameters
    ----------
    rows
        One mapping per row.
    args
        Parsed flags: ``--json`` and ``--out`` (either may be absent).
    columns
        The table's columns (default: the first row's keys).
    title
        A line above the table (not printed with ``--json``).
    extra
        With ``--json``, print ``{"rows": [...], **extra}`` instead of the bare list.

    Returns
    -------
    None

    Examples
    --------
    >>> ns = argparse.Namespace(json=True, out=None)
    >>> emit([{"model": "a", "attainment": float("nan")}], ns, extra={"warnings": []})
    {
      "rows": [
        {
          "model": "a",
          "attainment": null
        }
      ],
      "warnings": []
    }
    """
    if getattr(args, "out", None):
        write_rows(rows, args.out, force=getattr(args, "force", False))
    if getattr(args, "json", False):
        print_json(list(rows) if extra is None else {"rows": list(rows), **extra}, args)
        return
    if title:
        print(title)
    print(format_table(rows, columns))


# Flags naming files a command writes; checked before the command starts its work.
OUTPUT_FLAGS = ("out", "plot", "per_request", "plan_json", "tsv")


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse, before any work, an output that alpaserve would not be allowed to write.

    Parameters
    ----------
    args
        Parsed arguments of a subcommand.

    Returns
    -------
    None

    Examples
    --------
    >>> check_outputs(argparse.Namespace(command="costs", out=None, force=False))
    """
    from alpaserve.safe_files import check_target

    if args.command == "sweep":
        return  # a sweep file carries its own header; run_sweep checks it under its lock
    for flag in OUTPUT_FLAGS:
        value = getattr(args, flag, None)
        if not value or (args.command == "profile" and flag == "out"):
            continue  # profile merges into an existing profile database
        if flag == "plot":
            from matplotlib.backend_bases import FigureCanvasBase

            known = FigureCanvasBase.get_supported_filetypes()
            if Path(value).suffix.lower().lstrip(".") not in known:
                raise SpecError(f"--plot {str(value)!r}: unknown image format; use one of "
                                f"{', '.join('.' + k for k in sorted(known))}")
        check_target(value, force=getattr(args, "force", False))
