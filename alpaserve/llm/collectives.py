"""Vidur's measured collective times (``all_reduce.csv``, ``send_recv.csv``).

Times are in milliseconds by message ``size``, ``num_workers`` and ``devices_per_node``, with
``min``/``max``/``mean``/``median``/``std`` columns (the median by default). Rows repeated for
one key are averaged and counted in ``duplicates``.

The ``size`` column is taken as **bytes** (``size_unit_bytes=1``): read as fp16 elements, the
A100 8-GPU all-reduce of the largest message would run at 348 GB/s of bus bandwidth, above
NVLink 3's 300 GB/s per direction; as bytes it is 174 GB/s (A100) and 365 GB/s (H100), in
line with NCCL's published numbers for those machines.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from alpaserve._validation import positive_int
from alpaserve.errors import ProfileError, SpecError, TraceFormatError
from workloads.traces._common import (
    check_width,
    data_rows,
    open_text,
    parse_count,
    parse_float,
    read_header,
)

PathLike = str | os.PathLike[str]
Floats = npt.NDArray[np.float64]
STATISTICS = ("min", "max", "mean", "median")
_MS = 1e-3


def _interp(n: Floats, xs: Floats, ys: Floats) -> Floats:
    out = np.interp(n, xs, ys)
    if xs.size >= 2:
        slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        out = np.where(n > xs[-1], ys[-1] + (n - xs[-1]) * slope, out)
    return np.asarray(out, dtype=np.float64)


def _group(keys: list[tuple[int, ...]], values: list[list[float]],
           ) -> tuple[dict[tuple[int, ...], list[float]], int]:
    """Average rows sharing a key; return them with the count of repeats."""
    sums: dict[tuple[int, ...], list[float]] = {}
    counts: dict[tuple[int, ...], int] = {}
    for key, vals in zip(keys, values, strict=True):
        if key in sums:
            sums[key] = [a + b for a, b in zip(sums[key], vals, strict=True)]
            counts[key] += 1
        else:
            sums[key], counts[key] = list(vals), 1
    dup = sum(c - 1 for c in counts.values())
    return {k: [v / counts[k] for v in vs] for k, vs in sums.items()}, dup


def _check_statistic(statistic: str) -> None:
    if statistic not in STATISTICS:
        raise SpecError(f"statistic must be one of {STATISTICS}, got {statistic!r}")


@dataclass(frozen=True, kw_only=True)
class CollectiveProfile:
    """Measured times of one collective by message size, workers and devices per node.

    Parameters
    ----------
    path : str
        The file read.
    collective : str
        ``all_reduce`` or ``send_recv`` (from the time column's name).
    sizes : mapping of (int, int) to ndarray
        ``sizes[(num_workers, devices_per_node)]``: message bytes, increasing.
    seconds : mapping of (int, int) to ndarray
        Seconds aligned with ``sizes``.
    rows : int
        Data rows read.
    duplicates : int
        Rows repeating an earlier (workers, devices per node, size) key (averaged).
    """

    path: str
    collective: str
    sizes: MappingProxyType[tuple[int, int], Floats] = field(repr=False)
    seconds: MappingProxyType[tuple[int, int], Floats] = field(repr=False)
    rows: int
    duplicates: int

    def time_s(self, num_bytes: npt.ArrayLike, *, num_workers: int,
               devices_per_node: int | None = None) -> Floats:
        """Seconds of the collective for messages of ``num_bytes``.

        Parameters
        ----------
        num_bytes : array_like of float
            Message bytes; interpolated, the smallest measured time below the range,
            extrapolated along the last segment above it.
        num_workers : int
            Devices taking part.
        devices_per_node : int, optional
            Of them per node; by default all on one node (``num_workers``).

        Returns
        -------
        ndarray of float
            Seconds aligned with ``num_bytes``.

        Raises
        ------
        ProfileError
            If that (workers, devices per node) was not measured, listing those that were.
        """
        key = (num_workers, num_workers if devices_per_node is None else devices_per_node)
        if key not in self.sizes:
            raise ProfileError(f"{self.path}: no {self.collective} measured for "
                               f"(num_workers, devices_per_node)={key}; measured: "
                               f"{sorted(self.sizes)}")
        return _interp(np.asarray(num_bytes, dtype=np.float64), self.sizes[key],
                       self.seconds[key])


def read_collective_profile(path: PathLike, *, statistic: str = "median",
                            size_unit_bytes: int = 1) -> CollectiveProfile:
    """Read one of Vidur's collective profiles (``all_reduce.csv``, ``send_recv.csv``).

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    statistic : {"min", "max", "mean", "median"}, default "median"
        Which ``time_stats`` column to use.
    size_unit_bytes : int, default 1
        Bytes per unit of the ``size`` column (see the module docstring).

    Returns
    -------
    CollectiveProfile
        The tables in bytes and seconds.

    Raises
    ------
    ProfileError
        Naming the file, line and column of a missing column or a bad value.
    """
    _check_statistic(statistic)
    positive_int("read_collective_profile", "size_unit_bytes", size_unit_bytes)
    p = str(path)
    keys: list[tuple[int, ...]] = []
    values: list[list[float]] = []
    try:
        with open_text(path) as lines:
            reader = csv.reader(lines)
            index = read_header(reader, p, required=("num_workers", "size", "devices_per_node"),
                                extra_ok=True)
            cols = [c for c in index if c.startswith("time_stats.")
                    and c.endswith(f".{statistic}")]
            if len(cols) != 1:
                raise TraceFormatError(f"expected one time_stats.<collective>.{statistic} "
                                       f"column, found {cols}", path=p, line=1)
            time_col = cols[0]
            header = [name for name, _ in sorted(index.items(), key=lambda kv: kv[1])]
            for line, row in data_rows(reader, p):
                check_width(row, header, p, line)
                key = tuple(parse_count(row[index[c]], path=p, line=line, column=c)
                            for c in ("num_workers", "devices_per_node", "size"))
                keys.append(key)
                values.append([parse_float(row[index[time_col]], path=p, line=line,
                                           column=time_col, non_negative=True) * _MS])
    except TraceFormatError as exc:
        raise ProfileError(str(exc)) from None
    if not keys:
        raise ProfileError(f"{p}: no data rows")
    table, dup = _group(keys, values)
    sizes: dict[tuple[int, int], Floats] = {}
    seconds: dict[tuple[int, int], Floats] = {}
    for group in sorted({k[:2] for k in table}):
        ks = sorted(k for k in table if k[:2] == group)
        sizes[(group[0], group[1])] = np.array([k[2] * size_unit_bytes for k in ks], dtype=float)
        seconds[(group[0], group[1])] = np.array([table[k][0] for k in ks])
    return CollectiveProfile(path=p, collective=time_col.split(".")[1],
                             sizes=MappingProxyType(sizes), seconds=MappingProxyType(seconds),
                             rows=len(keys), duplicates=dup)


