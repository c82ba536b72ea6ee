"""Shared pieces of the streaming trace readers: opening, header checks, field parsing,
the raise-or-skip policy for malformed rows, and the result object."""

from __future__ import annotations

import gzip
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from workloads.errors import TraceFormatError, WorkloadError
from workloads.mapping import MappingResult
from workloads.workload import Workload

logger = logging.getLogger(__name__)

OnError = Literal["raise", "skip"]
PathLike = str | os.PathLike[str]
MAX_EXAMPLES = 5


@dataclass(frozen=True, kw_only=True)
class TraceReadResult:
    """A trace read into a workload, with everything the reader had to leave out.

    ``rows`` counts the data rows read (header excluded, skipped rows included);
    ``rows_skipped`` those skipped as malformed (only with ``on_error="skip"``), the first
    few of whose errors are in ``skipped_examples``. ``mapping`` tells how functions were
    mapped to models and how many were dropped (function traces only). ``counters`` holds
    reader-specific counts, e.g. ``out_of_range`` rows outside the selected time range.
    """

    workload: Workload
    paths: tuple[str, ...]
    rows: int
    rows_skipped: int
    skipped_examples: tuple[str, ...] = ()
    mapping: MappingResult | None = None
    counters: Mapping[str, int] = field(default_factory=dict)

    @property
    def empty_functions_dropped(self) -> int:
        """Functions without invocations in the selected range, dropped by the mapping."""
        return 0 if self.mapping is None else self.mapping.empty_dropped


def as_paths(paths: PathLike | Sequence[PathLike]) -> list[Path]:
    """One path or a sequence of paths, as a non-empty list of ``Path``."""
    if isinstance(paths, str | os.PathLike):
        return [Path(paths)]
    out = [Path(p) for p in paths]
    if not out:
        raise WorkloadError("no trace files given")
    return out


class RowErrors:
    """Raise on a malformed row, or (``on_error="skip"``) count it and keep a few examples."""

    def __init__(self, on_error: OnError) -> None:
        if on_error not in ("raise", "skip"):
            raise WorkloadError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.on_error = on_error
        self.skipped = 0
        self.examples: list[str] = []

    def __call__(self, error: TraceFormatError) -> None:
        if self.on_error == "raise":
            raise error
        self.skipped += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(str(error))

    def report(self, path: str, rows: int) -> None:
        if self.skipped:
            logger.warning("%s: skipped %d of %d rows as malformed; first: %s", path,
                           self.skipped, rows, self.examples[0])


@contextmanager
def open_text(path: PathLike) -> Iterator[TextIO]:
    """Open a text trace for streaming (``.gz`` is decompressed on the fly)."""
    p = Path(path)
    try:
        if p.suffix == ".gz":
            fh: TextIO = gzip.open(p, "rt", encoding="utf-8-sig", newline="")  # noqa: SIM115
        else:
            fh = p.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise TraceFormatError(f"cannot open: {exc}", path=str(p)) from exc
    with fh:
        yield fh


def data_rows(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` of each non-blank row; ``reader`` is a ``csv.reader``."""
    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # a blank line is not a row
        yield reader.line_num, row


def read_header(reader: Iterator[list[str]], path: str, *, required: Sequence[str],
                optional: Sequence[str] = (), extra_ok: bool = False) -> dict[str, int]:
    """Column index of each known header name; raises on a missing or unknown column."""
    header = next(reader, None)
    if header is None:
        raise TraceFormatError("empty file: no header", path=path, line=1)
    header = [h.strip() for h in header]
    index = {name: i for i, name in enumerate(header)}
    if len(index) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise TraceFormatError("duplicate column in header", path=path, line=1, column=dup)
    for name in required:
        if name not in index:
            raise TraceFormatError(f"header lacks required column; header is {header}",
                                   path=path, line=1, column=name)
    if not extra_ok:
        for name in header:
            if name not in required and name not in optional:
                raise TraceFormatError(f"unknown column; expected {list(required)} "
                                       f"and optionally {list(optional)}", path=path, line=1,
                                       column=name)
    return index


def check_width(row: list[str], header: Sequence[str], path: str, line: int) -> None:
    """Raise unless ``row`` has exactly one field per header column."""
    if len(row) < len(header):
        raise TraceFormatError(f"missing column: row has {len(row)} fields, header has "
                               f"{len(header)}", path=path, line=line, column=header[len(row)])
    if len(row) > len(header):
        raise TraceFormatError(f"row has {len(row)} fields, header has {len(header)}",
                               path=path, line=line, column=f"field {len(header) + 1}")


def parse_float(text: str, *, path: str, line: int, column: str,
                non_negative: bool = False) -> float:
    """A finite float from a field, or :class:`TraceFormatError` naming where it is."""
    try:
        value = float(text)
    except ValueError:
        raise TraceFormatError(f"not a number: {text!r}", path=path, line=line,
                               column=column) from None
    if not math.isfinite(value):
        raise TraceFormatError(f"not finite: {text!r}", path=path, line=line, column=column)
    if non_negative and value < 0:
        raise TraceFormatError(f"negative value {text!r}", path=path, line=line, column=column)
    return value


def parse_count(text: str, *, path: str, line: int, column: str) -> int:
    """A non-negative whole number (digits only) from a field."""
    stripped = text.strip()
    if not stripped.isdigit() or not stripped.isascii():
        kind = "negative count" if stripped.startswith("-") else "not a whole number"
        raise TraceFormatError(f"{kind}: {text!r}", path=path, line=line, column=column)
    return int(stripped)
