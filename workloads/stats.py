"""Per-window statistics of arrivals: request rate and inter-arrival CV, overall and per model.

The inter-arrival CV of a window uses the gaps between consecutive arrivals that both fall in
the window (population standard deviation over mean). It is NaN where the window holds fewer
than two such gaps, or where all its gaps are zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workloads.errors import WorkloadError
from workloads.workload import Workload

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

__all__ = [
    "ModelSummary",
    "WindowStats",
    "WorkloadSummary",
    "interarrival_cv",
    "summarize",
    "window_stats",
    "window_stats_by_model",
]


@dataclass(frozen=True, kw_only=True)
class WindowStats:
    """Statistics of consecutive time windows ``[start[i], start[i] + length[i])``."""

    start: FloatArray
    length: FloatArray
    count: IntArray
    rate: FloatArray
    cv: FloatArray

    def __len__(self) -> int:
        return int(self.start.shape[0])


@dataclass(frozen=True, kw_only=True)
class ModelSummary:
    """Request count, mean rate and inter-arrival CV of one model over a workload's span."""

    requests: int
    rate: float
    cv: float


@dataclass(frozen=True, kw_only=True)
class WorkloadSummary:
    """Shape of a whole workload: size, span, mean rate, inter-arrival CV, and per model."""

    requests: int
    duration: float
    rate: float
    cv: float
    by_model: dict[str, ModelSummary]


def interarrival_cv(arrival: npt.ArrayLike) -> float:
    """CV (std / mean, population) of the gaps of sorted arrival times; NaN with < 2 gaps.

    Examples
    --------
    >>> interarrival_cv([0.0, 1.0, 2.0, 3.0])
    0.0
    >>> round(interarrival_cv([0.0, 1.0, 3.0]), 4)
    0.3333
    """
    gaps = np.diff(np.asarray(arrival, dtype=np.float64))
    if gaps.size < 2:
        return math.nan
    mean = float(gaps.mean())
    return float(gaps.std() / mean) if mean > 0 else math.nan


def _grid(arrival: FloatArray, window: float, start: float | None, end: float | None
          ) -> tuple[float, int, FloatArray]:
    if not (math.isfinite(window) and window > 0):
        raise WorkloadError(f"window must be positive and finite, got {window!r}")
    if start is None:
        start = math.floor(float(arrival[0]) / window) * window if arrival.size else 0.0
    if end is None:
        n = int((float(arrival[-1]) - start) // window) + 1 if arrival.size else 0
        n = max(n, 0)
        return start, n, np.full(n, float(window))
    if not end > start:
        raise WorkloadError(f"end {end!r} must exceed start {start!r}")
    n = math.ceil((end - start) / window)
    starts = start + window * np.arange(n, dtype=np.float64)
    return start, n, np.minimum(float(window), end - starts)


def _stats(arrival: FloatArray, start: float, n: int, lengths: FloatArray,
           window: float) -> WindowStats:
    end = start + float(lengths.sum())
    lo, hi = np.searchsorted(arrival, [start, end], side="left")
    a = arrival[lo:hi]
    idx = ((a - start) // window).astype(np.int64)
    np.clip(idx, 0, max(n - 1, 0), out=idx)  # rounding at the last boundary
    count = np.bincount(idx, minlength=n).astype(np.int64)
    same = idx[1:] == idx[:-1]
    gaps = np.diff(a)[same]
    owner = idx[1:][same]
    ngaps = np.bincount(owner, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(owner, gaps, minlength=n) / ngaps
        dev = gaps - mean[owner]
        std = np.sqrt(np.bincount(owner, dev * dev, minlength=n) / ngaps)
        cv = np.where((ngaps >= 2) & (mean > 0), std / mean, np.nan)
    return WindowStats(start=start + window * np.arange(n, dtype=np.float64), length=lengths,
                       count=count, rate=count / lengths, cv=cv)


def window_stats(data: Workload | npt.ArrayLike, *, window: float, start: float | None = None,
                 end: float | None = None) -> WindowStats:
    """Rate and inter-arrival CV of each ``window``-second window of a workload or arrivals.

    Windows start at ``start`` (default: the first arrival rounded down to a multiple of
    ``window``) and cover up to ``end`` (default: the window holding the last arrival; a
    given ``end`` may cut the last window short). Arrivals outside ``[start, end)`` are not
    counted in any window.

    Examples
    --------
    >>> s = window_stats([0.5, 1.0, 1.5, 2.0, 12.0], window=10.0)
    >>> s.count.tolist(), s.rate.tolist(), s.cv.tolist()
    ([4, 1], [0.4, 0.1], [0.0, nan])
    """
    arrival = data.arrival if isinstance(data, Workload) else np.asarray(data, np.float64)
    start0, n, lengths = _grid(arrival, window, start, end)
    return _stats(arrival, start0, n, lengths, window)


def window_stats_by_model(workload: Workload, *, window: float, start: float | None = None,
                          end: float | None = None) -> dict[str, WindowStats]:
    """:func:`window_stats` of each model, all on the grid of the whole workload.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 1.0, 2.0, 3.0], model=["a", "b", "a", "b"])
    >>> {m: s.count.tolist() for m, s in window_stats_by_model(w, window=2.0).items()}
    {'a': [1, 1], 'b': [1, 1]}
    """
    start0, n, lengths = _grid(workload.arrival, window, start, end)
    order = np.argsort(workload.model_codes, kind="stable")
    bounds = np.searchsorted(workload.model_codes[order],
                             np.arange(len(workload.model_names) + 1))
    out: dict[str, WindowStats] = {}
    for code, name in enumerate(workload.model_names):
        arrival = workload.arrival[order[bounds[code]:bounds[code + 1]]]
        out[name] = _stats(arrival, start0, n, lengths, window)
    return out


def summarize(workload: Workload) -> WorkloadSummary:
    """Requests, span, mean rate and inter-arrival CV of a workload, overall and per model.

    The rate is requests over the span from the first to the last arrival (NaN for a span
    of 0).

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 1.0, 2.0, 4.0], model="m")
    >>> s = summarize(w)
    >>> s.requests, s.duration, s.rate, round(s.cv, 4)
    (4, 4.0, 1.0, 0.3536)
    """
    duration = workload.duration
    by_model: dict[str, ModelSummary] = {}
    for code, name in enumerate(workload.model_names):
        arrival = workload.arrival[workload.model_codes == code]
        span = float(arrival[-1] - arrival[0]) if arrival.size > 1 else 0.0
        by_model[name] = ModelSummary(requests=int(arrival.size),
                                      rate=arrival.size / span if span > 0 else math.nan,
                                      cv=interarrival_cv(arrival))
    return WorkloadSummary(requests=len(workload), duration=duration,
                           rate=len(workload) / duration if duration > 0 else math.nan,
                           cv=interarrival_cv(workload.arrival), by_model=by_model)
