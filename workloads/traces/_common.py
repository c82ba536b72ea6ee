"""Shared pieces of the streaming trace readers: opening, header checks, field parsing,
the raise-or-skip policy for malformed rows, and the result object."""

from __future__ import annotations

import csv
import gzip
import logging
import math
import os
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from workloads.errors import TraceFormatError, WorkloadError
from workloads.function_mapping import MappingResult
from workloads.workload import Workload

logger = logging.getLogger(__name__)

OnError = Literal["raise", "skip"]
PathLike = str | os.PathLike[str]
MAX_EXAMPLES = 5
INT64_MAX = 2**63 - 1
# Documented limits on trace fields. Times beyond 1e12 s (31,700 years) lose sub-millisecond
# resolution in float64; 10 M tokens exceed every model's context many times over.
MAX_SECONDS = 1e12
MAX_TOKENS = 10_000_000
_GZIP_MAGIC = b"\x1f\x8b"


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


class CheckedLines:
    """The lines of a file opened in binary mode, decoded as UTF-8 one line at a time (a
    byte-order mark on the first line is dropped), so a read that fails (bytes that are not
    UTF-8, a corrupt or truncated gzip stream) raises :class:`TraceFormatError` naming the
    file and the exact line, instead of ``UnicodeDecodeError`` or ``OSError``.

    Examples
    --------
    >>> import io
    >>> list(CheckedLines(io.BytesIO(b"\\xef\\xbb\\xbfa\\nb\\n"), "x.csv"))
    ['a\\n', 'b\\n']
    >>> lines = CheckedLines(io.BytesIO(b"a\\n\\xff\\xfe\\n"), "x.csv")
    >>> try:
    ...     list(lines)
    ... except TraceFormatError as exc:
    ...     print(exc)
    file x.csv, line 2: not UTF-8 text (byte b'\\xff'); a binary or compressed file?
    """

    def __init__(self, fh: Any, path: str) -> None:
        self._fh = fh
        self.path = path
        self.line = 0

    def __iter__(self) -> CheckedLines:
        return self

    def __next__(self) -> str:
        where = self.line + 1
        try:
            raw: bytes = next(self._fh)
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise TraceFormatError(f"cannot read: {exc}", path=self.path, line=where) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TraceFormatError(f"not UTF-8 text (byte {raw[exc.start:exc.start + 1]!r}); "
                                   "a binary or compressed file?", path=self.path,
                                   line=where) from None
        self.line = where
        return text.removeprefix("\ufeff") if where == 1 else text


def is_gzip(path: PathLike) -> bool:
    """True when the file starts with the gzip magic bytes (whatever its name).

    Examples
    --------
    >>> import gzip, os, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "t.csv")
    ...     _ = open(p, "wb").write(gzip.compress(b"x"))
    ...     is_gzip(p)
    True
    """
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == _GZIP_MAGIC
    except OSError as exc:
        raise TraceFormatError(f"cannot open: {exc.strerror or exc}", path=str(path)) from exc


@contextmanager
def open_text(path: PathLike) -> Iterator[Iterator[str]]:
    """Open a text trace for streaming; a gzip file (by its magic bytes, whatever its name)
    is decompressed on the fly and a UTF-8 byte-order mark is skipped. Lines come through
    :class:`CheckedLines`."""
    p = Path(path)
    if p.is_dir():
        raise TraceFormatError("is a directory, not a trace file", path=str(p))
    try:
        fh: Any = gzip.open(p, "rb") if is_gzip(p) else p.open("rb")  # noqa: SIM115
    except OSError as exc:
        raise TraceFormatError(f"cannot open: {exc.strerror or exc}", path=str(p)) from exc
    with fh:
        yield CheckedLines(fh, str(p))


def next_row(reader: Any, path: str) -> list[str] | None:
    """The next row of a ``csv.reader`` (``None`` at the end); a ``csv.Error`` (e.g. a field
    over the size limit) becomes :class:`TraceFormatError` with its line.

    Examples
    --------
    >>> import csv, io
    >>> reader = csv.reader(io.StringIO("a,b\\n"))
    >>> next_row(reader, "x.csv"), next_row(reader, "x.csv")
    (['a', 'b'], None)
    """
    try:
        return next(reader, None)
    except csv.Error as exc:
        raise TraceFormatError(f"malformed CSV: {exc}", path=path,
                               line=reader.line_num) from None


def data_rows(reader: Any, path: str = "") -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` of each non-blank row; ``reader`` is a ``csv.reader``."""
    while (row := next_row(reader, path)) is not None:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # a blank line is not a row
        yield reader.line_num, row


def read_header(reader: Iterator[list[str]], path: str, *, required: Sequence[str],
                optional: Sequence[str] = (), extra_ok: bool = False) -> dict[str, int]:
    """Column index of each known header name; raises on a missing or unknown column."""
    header = next_row(reader, path)
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
                non_negative: bool = False, limit: float = math.inf) -> float:
    """A finite float from a field, or :class:`TraceFormatError` naming where it is.

    ``limit`` bounds the magnitude (e.g. seconds that float64 arrivals can still resolve).
    """
    try:
        value = float(text)
    except ValueError:
        raise TraceFormatError(f"not a number: {_short(text)}", path=path, line=line,
                               column=column) from None
    if not math.isfinite(value):
        raise TraceFormatError(f"not finite: {_short(text)}", path=path, line=line,
                               column=column)
    if non_negative and value < 0:
        raise TraceFormatError(f"negative value {_short(text)}", path=path, line=line,
                               column=column)
    if abs(value) > limit:
        raise TraceFormatError(f"{_short(text)} is out of range: at most {limit:g} in "
                               "magnitude", path=path, line=line, column=column)
    return value


def parse_count(text: str, *, path: str, line: int, column: str,
                limit: int = INT64_MAX) -> int:
    """A non-negative whole number (digits only, at most ``limit``) from a field."""
    stripped = text.strip()
    if not stripped.isdigit() or not stripped.isascii():
        kind = "negative count" if stripped.startswith("-") else "not a whole number"
        raise TraceFormatError(f"{kind}: {_short(text)}", path=path, line=line, column=column)
    # Check the length first: int() of a huge digit string is slow.
    if len(stripped.lstrip("0")) > 19 or int(stripped) > limit:
        raise TraceFormatError(f"count {_short(stripped)} exceeds the limit of {limit}",
                               path=path, line=line, column=column)
    return int(stripped)


def _short(text: str, width: int = 40) -> str:
    """``repr`` of a field, cut short so an error stays one readable line."""
    return repr(text) if len(text) <= width else repr(text[:width]) + f"... ({len(text)} chars)"
