"""Reader for the Azure Functions 2019 trace (per-minute invocation counts).

Each day is one file, ``invocations_per_function_md.anon.dNN.csv``, with columns
``HashOwner,HashApp,HashFunction,Trigger,1,2,…,1440``: the invocations of one function in each
minute of the day. The reader streams the files row by row, keeps only the non-zero counts
of the selected minutes, maps functions to models (:mod:`workloads.function_mapping`) and turns each
minute's count into exactly that many arrivals inside the minute.

Time 0 is the start of the first selected minute of the first file; the files are taken to
be consecutive days, so day ``d`` (0-based position in the list) is offset by ``d × 86400`` s.
A function is identified by ``HashOwner/HashApp/HashFunction`` across days; rows repeating a
function within a day are summed and counted in ``counters["duplicate_rows"]``.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from workloads._rng import SeedLike, as_generator
from workloads.arrivals import MAX_ARRIVALS
from workloads.errors import TraceFormatError, WorkloadError
from workloads.function_mapping import FunctionMapping, map_functions
from workloads.traces._common import (
    OnError,
    PathLike,
    RowErrors,
    TraceReadResult,
    as_paths,
    check_width,
    data_rows,
    next_row,
    open_text,
    parse_count,
)
from workloads.workload import Workload

logger = logging.getLogger(__name__)

__all__ = ["AzureFunctions2019Spec", "azure_functions_2019_paths", "read_azure_functions_2019"]

MINUTES_PER_DAY = 1440
# At most this many invocations in one minute of one function (1.7 M/s); a larger count is a
# malformed row. The whole read is bounded by ``AzureFunctions2019Spec.max_arrivals``.
MAX_PER_MINUTE = 100_000_000
KEY_COLUMNS = ("HashOwner", "HashApp", "HashFunction", "Trigger")
WithinMinute = Literal["uniform", "gamma", "even"]


@dataclass(frozen=True, kw_only=True)
class AzureFunctions2019Spec:
    """What to read from the 2019 trace and how to spread counts within each minute.

    ``minutes`` is the half-open, 0-based range of minutes of each day (column ``m + 1`` is
    minute ``m``). ``within_minute``: ``"uniform"`` places the arrivals of a minute
    independently and uniformly (a Poisson process conditioned on its count); ``"gamma"``
    spaces them by Gamma gaps of CV ``cv``, normalised to fit the minute (``cv = 1`` matches
    uniform); ``"even"`` spaces them evenly. A count above ``MAX_PER_MINUTE`` (1e8) is a
    malformed row; more than ``max_arrivals`` arrivals in all (default
    :data:`workloads.arrivals.MAX_ARRIVALS`, 50 M, 8 bytes each) fail the read at the row
    that crosses it, before anything that size is allocated.

    Parameters
    ----------
    mapping : FunctionMapping
        How functions map onto models.
    minutes : tuple of (int, int), default (0, 1440)
        Minutes ``[lo, hi)`` of each day to read, ``0 <= lo < hi <= 1440``.
    within_minute : {"uniform", "gamma", "even"}, default "uniform"
        How a minute's invocations are placed within it.
    cv : float, default 1.0
        CV of the Gamma gaps for ``"gamma"``; finite, non-negative.
    on_error : {"raise", "skip"}, default "raise"
        On a malformed row, raise :class:`TraceFormatError` naming file, line and column,
        or skip it and count it in the result.
    max_arrivals : int, default MAX_ARRIVALS
        The most arrivals a read may produce (50 M); a read that would exceed it fails at
        the row that crosses it.

    Raises
    ------
    WorkloadError
        If ``minutes``, ``within_minute`` or ``cv`` is out of range.

    Examples
    --------
    >>> AzureFunctions2019Spec(mapping=FunctionMapping(num_models=1), minutes=(0, 60)).minutes
    (0, 60)
    """

    mapping: FunctionMapping
    minutes: tuple[int, int] = (0, MINUTES_PER_DAY)
    within_minute: WithinMinute = "uniform"
    cv: float = 1.0
    on_error: OnError = "raise"
    max_arrivals: int = MAX_ARRIVALS

    def __post_init__(self) -> None:
        lo, hi = self.minutes
        if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo < hi <= MINUTES_PER_DAY):
            raise WorkloadError(f"minutes must be a range 0 <= start < end <= 1440, "
                                f"got {self.minutes!r}")
        if self.within_minute not in ("uniform", "gamma", "even"):
            raise WorkloadError(f"within_minute must be 'uniform', 'gamma' or 'even', "
                                f"got {self.within_minute!r}")
        if not (math.isfinite(self.cv) and self.cv >= 0):
            raise WorkloadError(f"cv must be finite and >= 0, got {self.cv!r}")
        if isinstance(self.max_arrivals, bool) or not isinstance(self.max_arrivals, int) \
                or self.max_arrivals < 0:
            raise WorkloadError(f"max_arrivals must be an int >= 0, got {self.max_arrivals!r}")


def azure_functions_2019_paths(directory: PathLike, days: Sequence[int]) -> list[Path]:
    """The files of the given days (1-based, as in ``d01``) under ``directory``.

    Parameters
    ----------
    directory : str or os.PathLike
        Folder holding ``invocations_per_function_md.anon.dNN.csv`` files.
    days : sequence of int
        Day numbers, 1-based.

    Returns
    -------
    list of pathlib.Path
        One path per day, in the order given (existence is not checked).

    Examples
    --------
    >>> [p.name for p in azure_functions_2019_paths("data", [1, 2])]
    ['invocations_per_function_md.anon.d01.csv', 'invocations_per_function_md.anon.d02.csv']
    """
    out = []
    for day in days:
        if not isinstance(day, int) or not 1 <= day <= 99:
            raise WorkloadError(f"day must be an int in [1, 99], got {day!r}")
        out.append(Path(directory) / f"invocations_per_function_md.anon.d{day:02d}.csv")
    return out


def _check_header(header: list[str] | None, path: str, last_minute: int) -> int:
    """Validate the header; return the number of minute columns."""
    if header is None:
        raise TraceFormatError("empty file: no header", path=path, line=1)
    header = [h.strip() for h in header]
    for i, name in enumerate(KEY_COLUMNS):
        if i >= len(header) or header[i] != name:
            raise TraceFormatError(f"header column {i + 1} must be {name!r}", path=path, line=1,
                                   column=header[i] if i < len(header) else name)
    minutes = header[len(KEY_COLUMNS):]
    for m, name in enumerate(minutes):
        if name != str(m + 1):
            raise TraceFormatError(f"minute column {m + 1} is named {name!r}", path=path,
                                   line=1, column=name)
    if len(minutes) < last_minute:
        raise TraceFormatError(f"header has {len(minutes)} minute columns; the selected range "
                               f"needs {last_minute}", path=path, line=1, column=str(last_minute))
    return len(minutes)


def _parse_counts(fields: list[str], first_minute: int, path: str,
                  line: int) -> npt.NDArray[np.int64]:
    try:
        counts = np.array(fields, dtype=np.int64)  # fast path: C parsing of the whole slice
        if counts.size == 0 or (counts.min() >= 0 and counts.max() <= MAX_PER_MINUTE):
            return counts
    except (ValueError, OverflowError):
        pass
    for m, text in enumerate(fields):  # slow path only to name the bad column
        parse_count(text, path=path, line=line, column=str(first_minute + m + 1),
                    limit=MAX_PER_MINUTE)
    raise TraceFormatError("malformed counts", path=path, line=line)  # pragma: no cover


def read_azure_functions_2019(paths: PathLike | Sequence[PathLike], spec: AzureFunctions2019Spec,
                              *, seed: SeedLike) -> TraceReadResult:
    """Stream one or more consecutive days of the 2019 trace into a workload.

    The file at 0-based position ``k`` of ``paths`` starts at ``k * 86400`` seconds.

    Parameters
    ----------
    paths : path or sequence of paths
        The per-day invocation-count CSVs, in day order.
    spec : AzureFunctions2019Spec
        Function mapping, minutes and placement within a minute.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness for the arrival times within each minute.

    Returns
    -------
    TraceReadResult
        The workload and the counts of the rows skipped or dropped.

    Raises
    ------
    TraceFormatError
        On a malformed header or row (with ``on_error="raise"``).

    Examples
    --------
    >>> import tempfile, os
    >>> head = "HashOwner,HashApp,HashFunction,Trigger,1,2,3\\n"
    >>> rows = "o,a,f,http,2,0,1\\no,a,g,timer,0,0,0\\n"
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "invocations_per_function_md.anon.d01.csv")
    ...     _ = open(p, "w").write(head + rows)
    ...     r = read_azure_functions_2019(p, AzureFunctions2019Spec(
    ...         mapping=FunctionMapping(num_models=1), minutes=(0, 3)), seed=0)
    >>> len(r.workload), r.empty_functions_dropped, bool(r.workload.arrival.max() < 180)
    (3, 1, True)
    """
    path_list = as_paths(paths)
    first, last = spec.minutes
    errors = RowErrors(spec.on_error)
    totals: dict[str, int] = {}
    minutes: dict[str, list[npt.NDArray[np.int64]]] = {}
    counts: dict[str, list[npt.NDArray[np.int64]]] = {}
    rows = duplicates = total = 0
    for day, p in enumerate(path_list):
        path = str(p)
        seen_today: set[str] = set()
        day_rows = 0
        with open_text(p) as fh:
            reader = csv.reader(fh)
            width = len(KEY_COLUMNS) + _check_header(next_row(reader, path), path, last)
            header = [*KEY_COLUMNS, *(str(m + 1) for m in range(width - len(KEY_COLUMNS)))]
            for line, row in data_rows(reader, path):
                day_rows += 1
                try:
                    check_width(row, header, path, line)
                    for i, name in enumerate(KEY_COLUMNS[:3]):
                        if not row[i].strip():
                            raise TraceFormatError("empty function key", path=path, line=line,
                                                   column=name)
                    c = _parse_counts(row[len(KEY_COLUMNS) + first:len(KEY_COLUMNS) + last],
                                      first, path, line)
                except TraceFormatError as exc:
                    errors(exc)
                    continue
                total += int(c.sum())
                if total > spec.max_arrivals:
                    raise TraceFormatError(
                        f"more than {spec.max_arrivals} invocations in the selected minutes "
                        "(AzureFunctions2019Spec.max_arrivals); select fewer minutes or days",
                        path=path, line=line)
                key = f"{row[0]}/{row[1]}/{row[2]}"
                if key in seen_today:
                    duplicates += 1
                seen_today.add(key)
                nz = np.flatnonzero(c)
                totals[key] = totals.get(key, 0) + int(c.sum())
                if nz.size:
                    minutes.setdefault(key, []).append(nz + day * MINUTES_PER_DAY)
                    counts.setdefault(key, []).append(c[nz])
        rows += day_rows
        errors.report(path, day_rows)
    if duplicates:
        logger.warning("%d rows repeat a function within a day; their counts were summed",
                       duplicates)
    mapping = map_functions(totals, spec.mapping)
    rng = as_generator(seed)
    minute_parts, count_parts, code_parts = [], [], []
    for key in mapping.ranked:
        m = np.concatenate(minutes[key])
        c = np.concatenate(counts[key])
        minute_parts.append(m)
        count_parts.append(c)
        code_parts.append(np.full(m.size, mapping.assignment[key], dtype=np.int32))
    entry_minute = (np.concatenate(minute_parts) if minute_parts else np.empty(0, np.int64))
    entry_count = np.concatenate(count_parts) if count_parts else np.empty(0, np.int64)
    entry_code = np.concatenate(code_parts) if code_parts else np.empty(0, np.int32)
    # Entries in time order (ties by function rank), so the final sort only has to
    # interleave arrivals within each minute. entry_minute counts from the first selected
    # minute of the first day.
    by_time = np.argsort(entry_minute, kind="stable")
    entry_minute, entry_count, entry_code = (entry_minute[by_time], entry_count[by_time],
                                             entry_code[by_time])
    base = np.repeat(entry_minute, entry_count) * 60.0
    arrival = base + 60.0 * _offsets_in_minute(entry_count, spec, rng)
    base += 60.0
    np.minimum(arrival, np.nextafter(base, 0.0), out=arrival)  # rounding must not leave the minute
    del base
    order = np.argsort(arrival)  # nearly sorted input: the fast unstable sort is ~3x quicker
    workload = Workload.from_arrays(arrival=arrival[order],
                                    model=np.repeat(entry_code, entry_count)[order],
                                    model_names=mapping.model_names)
    return TraceReadResult(workload=workload, paths=tuple(str(p) for p in path_list), rows=rows,
                           rows_skipped=errors.skipped, skipped_examples=tuple(errors.examples),
                           mapping=mapping, counters={"duplicate_rows": duplicates})


def _offsets_in_minute(count: npt.NDArray[np.int64], spec: AzureFunctions2019Spec,
                       rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Fractions in ``[0, 1)`` of a minute for each arrival, ``count[i]`` per entry."""
    total = int(count.sum())
    seg_start = np.cumsum(count) - count
    if spec.within_minute == "uniform":
        return rng.random(total)
    if spec.within_minute == "even" or spec.cv == 0:
        j = np.arange(total, dtype=np.int64) - np.repeat(seg_start, count)  # rank in minute
        return (j + 0.5) / np.repeat(count, count)
    # Gamma gaps, count + 1 per minute, normalised so the arrivals fill the minute exactly
    # (Dirichlet spacings: the count is kept while the gaps get the requested CV). Each
    # minute's gaps are divided by their own sum before the running sum, so a minute adds
    # exactly ~1 to it and small minutes keep their precision (to ~1e-10 of a minute).
    sizes = count + 1
    seg = np.cumsum(sizes) - sizes
    gaps = rng.standard_gamma(1.0 / spec.cv**2, size=int(sizes.sum()))
    sums = np.add.reduceat(gaps, seg) if seg.size else np.empty(0)
    degenerate = sums <= 0  # every gap underflowed (tiny shapes): space evenly
    if degenerate.any():
        gaps[np.repeat(degenerate, sizes)] = 1.0
        sums[degenerate] = sizes[degenerate]
    gaps /= np.repeat(sums, sizes)
    np.cumsum(gaps, out=gaps)
    before = np.zeros(seg.size)
    before[1:] = gaps[seg[1:] - 1]  # running sum at the end of the previous minute
    j = np.arange(total, dtype=np.int64) - np.repeat(seg_start, count)
    frac = gaps[np.repeat(seg, count) + j]
    frac -= np.repeat(before, count)
    return np.clip(frac, 0.0, np.nextafter(1.0, 0.0), out=frac)
