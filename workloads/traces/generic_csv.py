"""Reader (and writer) for the generic request CSV.

Header ``arrival_s,model`` plus any of ``slo_s,prompt_tokens,output_tokens``, in any order;
one request per row. Every row must fill every column of the header. Model names are
taken exactly as written (no whitespace stripping) and must not be empty. Times are at most
``MAX_SECONDS`` (1e12) in magnitude and token counts fit in int64.
"""

from __future__ import annotations

import csv
import os
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workloads.errors import TraceFormatError
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
    parse_count,
    parse_float,
    read_header,
)
from workloads.workload import Workload

__all__ = ["GenericCsvSpec", "read_generic_csv", "write_generic_csv"]

REQUIRED = ("arrival_s", "model")
OPTIONAL = ("slo_s", "prompt_tokens", "output_tokens")
_COLUMN_OF = {"slo_s": "slo", "prompt_tokens": "prompt_tokens", "output_tokens": "output_tokens"}


@dataclass(frozen=True, kw_only=True)
class GenericCsvSpec:
    """How to read a generic CSV; ``require_sorted`` rejects arrivals that go back in time.

    Parameters
    ----------
    require_sorted : bool, default False
        Reject arrivals that go back in time; otherwise rows are sorted on load.
    on_error : {"raise", "skip"}, default "raise"
        On a malformed row, raise :class:`TraceFormatError` naming file, line and column,
        or skip it and count it in the result.

    Examples
    --------
    >>> GenericCsvSpec(on_error="skip").require_sorted
    False
    """

    require_sorted: bool = False
    on_error: OnError = "raise"


def read_generic_csv(paths: PathLike | Sequence[PathLike], spec: GenericCsvSpec | None = None,
                     ) -> TraceReadResult:
    """Stream one or more generic request CSVs into a workload.

    Models are named in order of first appearance.

    Parameters
    ----------
    paths : path or sequence of paths
        CSVs with an ``arrival_s,model`` header plus any of ``slo_s``, ``prompt_tokens``,
        ``output_tokens``.
    spec : GenericCsvSpec, optional
        Ordering and error handling; default ``GenericCsvSpec()``.

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
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "w.csv")
    ...     _ = open(p, "w").write("arrival_s,model,slo_s\\n0.5,b,0.1\\n0.2,a,0.2\\n")
    ...     w = read_generic_csv(p).workload
    >>> w.arrival.tolist(), w.models_of().tolist(), w.slo.tolist(), w.model_names
    ([0.2, 0.5], ['a', 'b'], [0.2, 0.1], ('b', 'a'))
    """
    spec = spec or GenericCsvSpec()
    path_list = as_paths(paths)
    errors = RowErrors(spec.on_error)
    names: dict[str, int] = {}
    arrival: array[float] = array("d")
    codes: array[int] = array("i")
    optional: dict[str, array[float] | array[int]] | None = None
    rows = 0
    previous = -np.inf
    for p in path_list:
        path = str(p)
        file_rows = 0
        with open_text(p) as fh:
            reader = csv.reader(fh)
            index = read_header(reader, path, required=REQUIRED, optional=OPTIONAL)
            header = [name for name, _ in sorted(index.items(), key=lambda kv: kv[1])]
            present = [c for c in OPTIONAL if c in index]
            if optional is None:
                optional = {c: array("d") if c == "slo_s" else array("q") for c in present}
            elif sorted(optional) != sorted(present):
                raise TraceFormatError(f"columns {present} differ from the first file's "
                                       f"{sorted(optional)}", path=path, line=1)
            i_arr, i_model = index["arrival_s"], index["model"]
            for line, row in data_rows(reader, path):
                file_rows += 1
                try:
                    check_width(row, header, path, line)
                    t = parse_float(row[i_arr], path=path, line=line, column="arrival_s",
                                    limit=MAX_SECONDS)
                    if spec.require_sorted and t < previous:
                        raise TraceFormatError(f"arrival {t!r} is earlier than the row before "
                                               "(order is required)", path=path, line=line,
                                               column="arrival_s")
                    model = row[i_model]  # kept exactly, so names round-trip
                    if not model:
                        raise TraceFormatError("empty model name", path=path, line=line,
                                               column="model")
                    values: dict[str, float | int] = {}
                    for c in present:
                        if c == "slo_s":
                            slo = parse_float(row[index[c]], path=path, line=line, column=c,
                                              limit=MAX_SECONDS)
                            if slo <= 0:
                                raise TraceFormatError(f"SLO must be positive, got {slo!r}",
                                                       path=path, line=line, column=c)
                            values[c] = slo
                        else:
                            values[c] = parse_count(row[index[c]], path=path, line=line,
                                                    column=c)
                except TraceFormatError as exc:
                    errors(exc)
                    continue
                previous = t
                arrival.append(t)
                codes.append(names.setdefault(model, len(names)))
                for c, v in values.items():
                    optional[c].append(v)  # type: ignore[arg-type]
        rows += file_rows
        errors.report(path, file_rows)
    columns = {_COLUMN_OF[c]: np.asarray(v) for c, v in (optional or {}).items()}
    workload = Workload.from_arrays(arrival=np.asarray(arrival, dtype=np.float64),
                                    model=np.asarray(codes, dtype=np.int32),
                                    model_names=tuple(names), **columns)
    return TraceReadResult(workload=workload, paths=tuple(str(p) for p in path_list), rows=rows,
                           rows_skipped=errors.skipped, skipped_examples=tuple(errors.examples))


def write_generic_csv(workload: Workload, path: str | os.PathLike[str]) -> None:
    """Write ``workload`` as a generic CSV (floats in shortest round-trip form).

    Parameters
    ----------
    workload : Workload
        The requests; every optional column present is written.
    path : str or os.PathLike
        The file to create or overwrite.

    Examples
    --------
    >>> import tempfile, os
    >>> w = Workload.from_arrays(arrival=[0.1, 0.3], model=["a", "b"], prompt_tokens=[5, 6])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     write_generic_csv(w, os.path.join(d, "w.csv"))
    ...     back = read_generic_csv(os.path.join(d, "w.csv")).workload
    >>> back.equals(w)
    True
    """
    cols = [(name, _COLUMN_OF[name]) for name in OPTIONAL
            if getattr(workload, _COLUMN_OF[name]) is not None]
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*REQUIRED, *(name for name, _ in cols)])
        models = workload.models_of()
        extra = [getattr(workload, attr).tolist() for _, attr in cols]
        for i, t in enumerate(workload.arrival.tolist()):
            writer.writerow([repr(t), models[i], *(repr(e[i]) for e in extra)])
