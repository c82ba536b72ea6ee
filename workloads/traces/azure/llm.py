"""Reader for the Azure LLM inference traces (2023 and 2024).

Columns ``TIMESTAMP,ContextTokens,GeneratedTokens``: a wall-clock time such as
``2023-11-16 18:15:46.6805900`` (any number of decimals up to 9, optional ``Z`` or ``±hh:mm``
offset), the prompt length and the number of generated tokens. The file is streamed row by
row. Timestamps are parsed to integer nanoseconds, so no precision is lost before arrivals
are taken relative to the first request; years must lie in 1678..2261, the span of int64
nanoseconds. Token counts (at most ``MAX_TOKENS``, 10 M) become the workload's
``prompt_tokens`` and ``output_tokens`` columns.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from workloads.errors import TraceFormatError, WorkloadError
from workloads.traces._common import (
    INT64_MAX,
    MAX_TOKENS,
    OnError,
    PathLike,
    RowErrors,
    TraceReadResult,
    as_paths,
    check_width,
    data_rows,
    open_text,
    parse_count,
    read_header,
)
from workloads.workload import Workload

__all__ = ["AzureLLMSpec", "parse_timestamp_ns", "read_azure_llm"]

COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*"
    r"(Z|[+-]\d{2}:?\d{2})?")
_NS = 1_000_000_000
_EPOCH = dt.date(1970, 1, 1).toordinal()  # int64 ns from here reach year 2262


@dataclass(frozen=True, kw_only=True)
class AzureLLMSpec:
    """How to read an Azure LLM trace.

    ``require_sorted``: timestamps must not decrease (the published traces are sorted); a
    row that goes back in time is malformed. Without it, rows are sorted on load and times
    are taken relative to the earliest.

    Parameters
    ----------
    model : str, default "llm"
        The model every request targets.
    require_sorted : bool, default True
        Reject timestamps that go back in time.
    on_error : {"raise", "skip"}, default "raise"
        On a malformed row, raise :class:`TraceFormatError` naming file, line and column,
        or skip it and count it in the result.

    Examples
    --------
    >>> AzureLLMSpec(model="gpt-20b").require_sorted
    True
    """

    model: str = "llm"
    require_sorted: bool = True
    on_error: OnError = "raise"

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise WorkloadError(f"model must be a non-empty name, got {self.model!r}")


def parse_timestamp_ns(text: str) -> int:
    """Nanoseconds since 1970-01-01 (UTC when an offset is given) of a trace timestamp.

    Parameters
    ----------
    text : str
        ``YYYY-MM-DD HH:MM:SS`` (or with ``T``), up to 9 decimals, an optional ``Z`` or
        ``±hh:mm`` offset.

    Returns
    -------
    int
        Nanoseconds since the Unix epoch.

    Raises
    ------
    ValueError
        For text that is not such a timestamp.

    Examples
    --------
    >>> b = parse_timestamp_ns("2023-11-16 18:15:46.6805900")
    >>> parse_timestamp_ns("2023-11-16 18:15:47.0000001") - b
    319410100
    >>> parse_timestamp_ns("2024-05-10 01:00:00+01:00") == parse_timestamp_ns("2024-05-10 00:00:00")
    True
    """
    m = _TIMESTAMP.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"not a timestamp like 2023-11-16 18:15:46.6805900: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    days = dt.date(year, month, day).toordinal() - _EPOCH  # ValueError for an impossible date
    if hour > 23 or minute > 59 or second > 60:
        raise ValueError(f"time of day out of range: {text!r}")
    if not 1678 <= year <= 2261:  # int64 nanoseconds since 1970 span 1677-09-21..2262-04-11
        raise ValueError(f"year {year} is out of range (1678 to 2261): {text!r}")
    frac = m.group(7) or ""
    ns = ((days * 24 + hour) * 60 + minute) * 60 + second
    ns = ns * _NS + int(frac.ljust(9, "0")) if frac else ns * _NS
    zone = m.group(8)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        ns -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60) * _NS
    return ns


def read_azure_llm(paths: PathLike | Sequence[PathLike], spec: AzureLLMSpec | None = None,
                   ) -> TraceReadResult:
    """Stream an Azure LLM inference trace (one or more files, in time order) into a workload.

    Times are seconds from the first request; context and generated tokens become
    ``prompt_tokens`` and ``output_tokens``.

    Parameters
    ----------
    paths : path or sequence of paths
        CSVs with ``TIMESTAMP,ContextTokens,GeneratedTokens`` headers.
    spec : AzureLLMSpec, optional
        Model name, ordering and error handling; default ``AzureLLMSpec()``.

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
    >>> text = ("TIMESTAMP,ContextTokens,GeneratedTokens\\n"
    ...         "2023-11-16 18:15:46.6805900,4808,10\\n2023-11-16 18:15:47.1805900,12,200\\n")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "llm.csv")
    ...     _ = open(p, "w").write(text)
    ...     w = read_azure_llm(p).workload
    >>> w.arrival.tolist(), w.prompt_tokens.tolist(), w.output_tokens.tolist()
    ([0.0, 0.5], [4808, 12], [10, 200])
    """
    spec = spec or AzureLLMSpec()
    path_list = as_paths(paths)
    errors = RowErrors(spec.on_error)
    stamps: array[int] = array("q")
    prompt: array[int] = array("q")
    output: array[int] = array("q")
    rows = 0
    previous: int | None = None
    for p in path_list:
        path = str(p)
        file_rows = 0
        with open_text(p) as fh:
            reader = csv.reader(fh)
            index = read_header(reader, path, required=COLUMNS)
            header = [name for name, _ in sorted(index.items(), key=lambda kv: kv[1])]
            i_ts, i_in, i_out = (index[c] for c in COLUMNS)
            for line, row in data_rows(reader, path):
                file_rows += 1
                try:
                    check_width(row, header, path, line)
                    try:
                        ns = parse_timestamp_ns(row[i_ts])
                    except ValueError as exc:
                        raise TraceFormatError(str(exc), path=path, line=line,
                                               column="TIMESTAMP") from None
                    if spec.require_sorted and previous is not None and ns < previous:
                        raise TraceFormatError(
                            f"timestamp {row[i_ts].strip()!r} is earlier than the row before "
                            "(order is required; pass require_sorted=False to sort instead)",
                            path=path, line=line, column="TIMESTAMP")
                    n_in = parse_count(row[i_in], path=path, line=line, column="ContextTokens",
                                       limit=MAX_TOKENS)
                    n_out = parse_count(row[i_out], path=path, line=line,
                                        column="GeneratedTokens", limit=MAX_TOKENS)
                except TraceFormatError as exc:
                    errors(exc)
                    continue
                previous = ns
                stamps.append(ns)
                prompt.append(n_in)
                output.append(n_out)
        rows += file_rows
        errors.report(path, file_rows)
    ns_arr = np.frombuffer(stamps, dtype=np.int64) if stamps else np.empty(0, np.int64)
    origin = int(ns_arr.min()) if ns_arr.size else 0
    if ns_arr.size and int(ns_arr.max()) - origin > INT64_MAX:
        raise TraceFormatError("timestamps span more than 292 years, beyond int64 nanoseconds",
                               path=", ".join(str(p) for p in path_list), column="TIMESTAMP")
    arrival = (ns_arr - origin).astype(np.float64) / _NS  # exact: differences < 2**53 ns
    workload = Workload.from_arrays(
        arrival=arrival, model=spec.model,
        prompt_tokens=np.frombuffer(prompt, dtype=np.int64) if prompt else np.empty(0, np.int64),
        output_tokens=np.frombuffer(output, dtype=np.int64) if output else np.empty(0, np.int64))
    return TraceReadResult(workload=workload, paths=tuple(str(p) for p in path_list), rows=rows,
                           rows_skipped=errors.skipped, skipped_examples=tuple(errors.examples))
