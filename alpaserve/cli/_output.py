"""Output helpers shared by subcommands: readable tables, ``--json`` and ``--out FILE``."""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from alpaserve.cli import _checks as checks
from alpaserve.errors import SpecError


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


def write_rows(rows: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    """Write rows to CSV, parquet (needs pyarrow) or JSON, chosen by the file suffix."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".json":
        target.write_text(json.dumps(list(rows), indent=2, default=_jsonable))
    elif suffix == ".csv":
        cols = list(rows[0].keys()) if rows else []
        with target.open("w", newline="") as fh:
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
        pq.write_table(pa.Table.from_pylist([dict(r) for r in rows]), target)
    else:
        raise SpecError(f"--out {str(path)!r} must end in .csv, .parquet or .json")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def emit(rows: Sequence[Mapping[str, Any]], args: argparse.Namespace, *,
         columns: Sequence[str] | None = None, title: str | None = None) -> None:
    """Print rows as a table (or JSON with ``--json``) and write ``--out`` when given."""
    if getattr(args, "out", None):
        write_rows(rows, args.out)
    if getattr(args, "json", False):
        print(json.dumps(list(rows), indent=2, default=_jsonable))
        return
    if title:
        print(title)
    print(format_table(rows, columns))
