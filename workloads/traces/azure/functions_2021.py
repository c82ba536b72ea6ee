"""Reader for the Azure Functions 2021 trace (one row per invocation).

``AzureFunctionsInvocationTraceForTwoWeeksJan2021.txt`` is a CSV with columns
``app,func,end_timestamp,duration`` (seconds). A request arrives at
``end_timestamp - duration``; both are at most ``MAX_SECONDS`` (1e12) in magnitude. The
file is streamed row by row; only the arrival times of rows inside the selected time range
are kept, grouped by function (``app/func``), and the functions are then mapped to models
(:mod:`workloads.function_mapping`). Row order is not required.
"""

from __future__ import annotations

import csv
import logging
import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from workloads.errors import TraceFormatError, WorkloadError
from workloads.function_mapping import FunctionMapping, map_functions
from workloads.traces._common import (
    MAX_SECONDS,
    OnError,
    PathLike,
    RowErrors,
    TraceReadResult,
    as_paths,
    check_width,
    data_rows,
    open_text,
    parse_float,
    read_header,
)
from workloads.workload import Workload

logger = logging.getLogger(__name__)

__all__ = ["AzureFunctions2021Spec", "read_azure_functions_2021"]

COLUMNS = ("app", "func", "end_timestamp", "duration")


@dataclass(frozen=True, kw_only=True)
class AzureFunctions2021Spec:
    """What to read from the 2021 trace.

    Only arrivals in ``[start, end)`` (trace seconds; ``None`` = unbounded) are kept; the
    others are counted in ``counters["out_of_range"]``. With ``rebase``, times are shifted so
    that ``start`` (or, without a ``start``, the earliest kept arrival) is 0.

    Parameters
    ----------
    mapping : FunctionMapping
        How functions map onto models.
    start, end : float, optional
        Range of trace seconds to keep; finite, ``end > start``.
    rebase : bool, default True
        Shift times so the kept range starts at 0.
    on_error : {"raise", "skip"}, default "raise"
        On a malformed row, raise :class:`TraceFormatError` naming file, line and column,
        or skip it and count it in the result.

    Raises
    ------
    WorkloadError
        If ``start`` or ``end`` is not finite or ``end <= start``.

    Examples
    --------
    >>> AzureFunctions2021Spec(mapping=FunctionMapping(num_models=1), start=5.0, end=1.0)
    Traceback (most recent call last):
    ...
    workloads.errors.WorkloadError: end 1.0 must exceed start 5.0
    """

    mapping: FunctionMapping
    start: float | None = None
    end: float | None = None
    rebase: bool = True
    on_error: OnError = "raise"

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise WorkloadError(f"{name} must be finite or None, got {value!r}")
        if self.start is not None and self.end is not None and not self.end > self.start:
            raise WorkloadError(f"end {self.end!r} must exceed start {self.start!r}")


def read_azure_functions_2021(paths: PathLike | Sequence[PathLike], spec: AzureFunctions2021Spec,
                              ) -> TraceReadResult:
    """Stream the 2021 invocation trace (one or more files) into a workload.

    An invocation arrives at ``end_timestamp - duration``.

    Parameters
    ----------
    paths : path or sequence of paths
        The trace files (``app,func,end_timestamp,duration`` with a header).
    spec : AzureFunctions2021Spec
        Function mapping, time range and error handling.

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
    >>> text = "app,func,end_timestamp,duration\\na,f,10.5,0.5\\na,g,4.0,1.0\\na,f,12.0,1.0\\n"
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "trace.txt")
    ...     _ = open(p, "w").write(text)
    ...     r = read_azure_functions_2021(p, AzureFunctions2021Spec(
    ...         mapping=FunctionMapping(num_models=2)))
    >>> r.workload.arrival.tolist(), r.workload.models_of().tolist()
    ([0.0, 7.0, 8.0], ['model1', 'model0', 'model0'])
    """
    path_list = as_paths(paths)
    errors = RowErrors(spec.on_error)
    lo = -math.inf if spec.start is None else spec.start
    hi = math.inf if spec.end is None else spec.end
    by_function: dict[str, array[float]] = {}
    rows = out_of_range = 0
    for p in path_list:
        path = str(p)
        file_rows = 0
        with open_text(p) as fh:
            reader = csv.reader(fh)
            index = read_header(reader, path, required=COLUMNS)
            header = [name for name, _ in sorted(index.items(), key=lambda kv: kv[1])]
            i_app, i_func = index["app"], index["func"]
            i_end, i_dur = index["end_timestamp"], index["duration"]
            for line, row in data_rows(reader, path):
                file_rows += 1
                try:
                    check_width(row, header, path, line)
                    for i, name in ((i_app, "app"), (i_func, "func")):
                        if not row[i].strip():
                            raise TraceFormatError("empty function key", path=path, line=line,
                                                   column=name)
                    end = parse_float(row[i_end], path=path, line=line, column="end_timestamp",
                                      limit=MAX_SECONDS)
                    duration = parse_float(row[i_dur], path=path, line=line, column="duration",
                                           non_negative=True, limit=MAX_SECONDS)
                except TraceFormatError as exc:
                    errors(exc)
                    continue
                arrival = end - duration
                if not lo <= arrival < hi:
                    out_of_range += 1
                    continue
                key = f"{row[i_app]}/{row[i_func]}"
                times = by_function.get(key)
                if times is None:
                    times = by_function[key] = array("d")
                times.append(arrival)
        rows += file_rows
        errors.report(path, file_rows)
    if out_of_range:
        logger.info("%d invocations fall outside [%s, %s) and were not read", out_of_range,
                    spec.start, spec.end)
    mapping = map_functions({k: len(v) for k, v in by_function.items()}, spec.mapping)
    parts = [np.frombuffer(by_function[k], dtype=np.float64) for k in mapping.ranked]
    arrival_all = np.concatenate(parts) if parts else np.empty(0)
    codes = np.repeat(np.array([mapping.assignment[k] for k in mapping.ranked], dtype=np.int32),
                      [len(by_function[k]) for k in mapping.ranked])
    if spec.rebase and arrival_all.size:
        arrival_all = arrival_all - (spec.start if spec.start is not None
                                     else float(arrival_all.min()))
    workload = Workload.from_arrays(arrival=arrival_all, model=codes,
                                    model_names=mapping.model_names)
    return TraceReadResult(workload=workload, paths=tuple(str(p) for p in path_list), rows=rows,
                           rows_skipped=errors.skipped, skipped_examples=tuple(errors.examples),
                           mapping=mapping, counters={"out_of_range": out_of_range})
