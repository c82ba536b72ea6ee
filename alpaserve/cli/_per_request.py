"""``simulate --per-request FILE``: the per-request table, streamed to the file in chunks.

The table is written straight from the result's columns, ``CHUNK`` (16384) rows at a time, so its
memory is a few bytes per request (the columns the result already holds) plus one chunk,
instead of a Python dict per request (~1.2 KB each). CSV leaves missing values (the group
of a request that was never served, the latency of a dropped one) empty; JSON writes them
as ``null`` (strict JSON); parquet writes one row group per chunk.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from alpaserve.errors import SpecError
from alpaserve.safe_files import atomic_open

CHUNK = 1 << 14
COLUMNS = ("arrival", "model", "slo", "start", "finish", "latency", "group", "status",
           "batch_size", "good")


def _names(codes: np.ndarray, names: tuple[str, ...]) -> list[str | None]:
    table = np.array([*names, None], dtype=object)  # code -1 (none) picks the last entry
    return list(table[np.where(codes < 0, len(names), codes)])


def iter_chunks(result: Any, chunk: int = CHUNK) -> Iterator[dict[str, list[Any]]]:
    """The per-request table of a ``SimResult``, ``chunk`` rows at a time, as columns of
    Python values (``None`` where a value is missing).

    Parameters
    ----------
    result
        A :class:`simulator.result.SimResult`.
    chunk
        Rows per chunk.

    Returns
    -------
    Iterator[dict[str, list]]
        One mapping from column name to values per chunk.

    Examples
    --------
    >>> from simulator.result import SimResult
    >>> r = SimResult.from_outcomes(arrival=[0.0, 1.0], model_codes=[0, 1],
    ...     model_names=("a", "b"), group_names=("g0",), slo=[1.0, 1.0],
    ...     start=[0.0, float("nan")], finish=[0.5, float("nan")], group=[0, -1],
    ...     status=[0, 1])
    >>> [c["group"] for c in iter_chunks(r, chunk=1)]
    [['g0'], [None]]
    """
    from simulator.summary import SERVED, STATUS_NAMES

    slo = result.slo
    status_names = tuple(STATUS_NAMES)
    for lo in range(0, len(result.arrival), chunk):
        s = slice(lo, lo + chunk)
        arrival, finish = result.arrival[s], result.finish[s]
        status = np.asarray(result.status[s])
        with np.errstate(invalid="ignore"):
            good = (status == SERVED) & (finish <= arrival + slo[s])
        yield {
            "arrival": arrival.tolist(),
            "model": _names(np.asarray(result.model_codes[s]), tuple(result.model_names)),
            "slo": slo[s].tolist(),
            "start": result.start[s].tolist(),
            "finish": finish.tolist(),
            "latency": (finish - arrival).tolist(),
            "group": _names(np.asarray(result.group[s]), tuple(result.group_names)),
            "status": _names(status.astype(np.int64), status_names),
            "batch_size": result.batch_size[s].tolist(),
            "good": good.tolist(),
        }


def _plain(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def write_per_request(result: Any, path: str | Path, chunk: int = CHUNK, *,
                      force: bool = False) -> int:
    """Stream the per-request table of ``result`` to ``path`` (.csv, .json or .parquet).

    Parameters
    ----------
    result
        A :class:`simulator.result.SimResult`.
    path
        The file; its suffix picks the format.
    chunk
        Rows held in memory at a time.
    force
        Replace a file alpaserve did not write (the write is atomic either way; see
        :mod:`alpaserve.safe_files`).

    Returns
    -------
    int
        The number of rows written.

    Examples
    --------
    >>> import tempfile, os
    >>> from simulator.result import SimResult
    >>> r = SimResult.from_outcomes(arrival=[0.0], model_codes=[0], model_names=("a",),
    ...     group_names=("g0",), slo=[1.0], start=[0.0], finish=[0.5], group=[0], status=[0])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     n = write_per_request(r, os.path.join(d, "r.csv"))
    ...     text = open(os.path.join(d, "r.csv")).read()
    >>> n, text.splitlines()[1]
    (1, '0.0,a,1.0,0.0,0.5,0.5,g0,served,1,True')
    """
    target = Path(path)
    suffix = target.suffix.lower()
    rows = 0
    if suffix == ".csv":
        with atomic_open(target, "w", force=force, newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            for cols in iter_chunks(result, chunk):
                values = [["" if v is None or (isinstance(v, float) and math.isnan(v)) else v
                           for v in cols[c]] for c in COLUMNS]
                writer.writerows(zip(*values, strict=True))
                rows += len(cols["arrival"])
    elif suffix == ".json":
        with atomic_open(target, "w", force=force, encoding="utf-8") as fh:
            fh.write("[")
            for cols in iter_chunks(result, chunk):
                for k in range(len(cols["arrival"])):
                    record = {c: _plain(cols[c][k]) for c in COLUMNS}
                    fh.write(("\n" if rows == 0 else ",\n") + json.dumps(record, allow_nan=False))
                    rows += 1
            fh.write("\n]\n")
    elif suffix in (".parquet", ".pq"):
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise SpecError("writing parquet needs pyarrow: pip install 'alpaserve[data]'") \
                from exc
        f64, text = pa.float64(), pa.string()
        schema = pa.schema([("arrival", f64), ("model", text), ("slo", f64), ("start", f64),
                            ("finish", f64), ("latency", f64), ("group", text),
                            ("status", text), ("batch_size", pa.int32()), ("good", pa.bool_())])
        with atomic_open(target, "wb", force=force) as raw, pq.ParquetWriter(raw, schema) as pw:
            for cols in iter_chunks(result, chunk):
                pw.write_table(pa.table({c: cols[c] for c in COLUMNS}, schema=schema))
                rows += len(cols["arrival"])
    else:
        raise SpecError(f"--per-request {str(path)!r} must end in .csv, .parquet or .json")
    return rows
