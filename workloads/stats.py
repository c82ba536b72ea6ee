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
    """Statistics of consecutive time windows ``[start[i], start[i] + length[i])``.

    Parameters
    ----------
    start : numpy.ndarray
        Window start times in seconds (float64).
    length : numpy.ndarray
        Window lengths in seconds (the last may be cut short by ``end``).
    count : numpy.ndarray
        Arrivals per window (int64).
    rate : numpy.ndarray
        Arrivals per second per window.
    cv : numpy.ndarray
        Inter-arrival CV of the gaps within each window; NaN with fewer than two gaps.

    Examples
    --------
    >>> s = window_stats([1.0, 2.0, 3.0], window=5.0)
    >>> s.start.tolist(), s.length.tolist(), s.count.tolist()
    ([0.0], [5.0], [3])
    """

    start: FloatArray
    length: FloatArray
    count: IntArray
    rate: FloatArray
    cv: FloatArray

    def __len__(self) -> int:
        return int(self.start.shape[0])


@dataclass(frozen=True, kw_only=True)
class ModelSummary:
    """Request count, mean rate and inter-arrival CV of one model over a workload's span.

    Parameters
    ----------
    requests : int
        The model's requests.
    rate : float
        Its requests per second over the workload's span (NaN for a span of 0).
    cv : float
        CV of its inter-arrival gaps (NaN with fewer than two gaps).

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 1.0, 2.0], model=["a", "a", "b"])
    >>> summarize(w).by_model["a"].requests
    2
    """

    requests: int
    rate: float
    cv: float


@dataclass(frozen=True, kw_only=True)
class WorkloadSummary:
    """Shape of a whole workload: size, span, mean rate, inter-arrival CV, and per model.

    Parameters
    ----------
    requests : int
        Number of requests.
    duration : float
        Seconds from the first to the last arrival.
    rate : float
        Requests per second over that span (NaN for a span of 0).
    cv : float
        CV of the inter-arrival gaps of all requests (NaN with fewer than two gaps).
    by_model : dict of str to ModelSummary
        The same per model, in name order.

    Examples
    --------
    >>> summarize(Workload.from_arrays(arrival=[0.0, 2.0], model="m")).rate
    1.0
    """

    requests: int
    duration: float
    rate: float
    cv: float
    by_model: dict[str, ModelSummary]


def interarrival_cv(arrival: npt.ArrayLike) -> float:
    """CV (std / mean, population) of the gaps of sorted arrival times; NaN with < 2 gaps.

    Parameters
    ----------
    arrival : array_like of float
        Sorted arrival times in seconds.

    Returns
    -------
    float
        The coefficient of variation of the gaps (NaN with fewer than two gaps or a zero
        mean gap).

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


def grid(arrival: FloatArray, window: float, start: float | None, end: float | None
          ) -> tuple[float, float, int, FloatArray]:
    """Grid start and end, number of windows and their lengths.

    Parameters
    ----------
    arrival : numpy.ndarray
        Sorted arrival times in seconds.
    window : float
        Window length in seconds; positive and finite.
    start, end : float or None
        Grid bounds in seconds; None picks them from the arrivals as in
        :func:`window_stats` (an open end is returned as ``inf``).

    Returns
    -------
    tuple of (float, float, int, numpy.ndarray)
        Grid start, grid end, number of windows and each window's length in seconds.

    Raises
    ------
    WorkloadError
        If ``window`` is not positive and finite or ``end`` does not exceed ``start``.

    Examples
    --------
    >>> import numpy as np
    >>> grid(np.array([12.0, 31.0]), 10.0, None, None)[:3]
    (10.0, inf, 3)
    >>> grid(np.array([12.0]), 10.0, 0.0, 25.0)[3].tolist()
    [10.0, 10.0, 5.0]
    """
    if not (math.isfinite(window) and window > 0):
        raise WorkloadError(f"window must be positive and finite, got {window!r}")
    if start is None:
        start = math.floor(float(arrival[0]) / window) * window if arrival.size else 0.0
    if end is None:
        n = int((float(arrival[-1]) - start) // window) + 1 if arrival.size else 0
        n = max(n, 0)
        # Index arrivals with the same formula as n, so the last one lands in window n - 1.
        return start, math.inf, n, np.full(n, float(window))
    if not end > start:
        raise WorkloadError(f"end {end!r} must exceed start {start!r}")
    n = math.ceil((end - start) / window)
    starts = start + window * np.arange(n, dtype=np.float64)
    return start, end, n, np.minimum(float(window), end - starts)


def window_index(arrival: FloatArray, *, start: float, end: float, n: int,
                 window: float) -> tuple[int, int, IntArray]:
    """Window of each sorted arrival in ``[start, end)``: ``(lo, hi, index of arrival[lo:hi])``.

    The one place that assigns arrivals to windows, so every user agrees on the boundaries.

    Parameters
    ----------
    arrival : numpy.ndarray
        Sorted arrival times in seconds.
    start, end : float
        The grid's bounds in seconds (``end`` may be ``inf``).
    n : int
        Number of windows; indices are clipped to ``[0, n - 1]``.
    window : float
        Window length in seconds.

    Returns
    -------
    tuple of (int, int, numpy.ndarray)
        ``lo`` and ``hi``, the slice of arrivals inside the grid, and the int64 window
        index of each of them.

    Examples
    --------
    >>> import numpy as np
    >>> lo, hi, idx = window_index(np.array([1.0, 5.0, 12.0, 30.0]), start=0.0, end=20.0, n=2,
    ...                            window=10.0)
    >>> lo, hi, idx.tolist()
    (0, 3, [0, 0, 1])
    """
    lo, hi = np.searchsorted(arrival, [start, end], side="left")
    idx = ((arrival[lo:hi] - start) // window).astype(np.int64)
    np.clip(idx, 0, max(n - 1, 0), out=idx)  # rounding at the boundaries
    return int(lo), int(hi), idx


def _stats(arrival: FloatArray, start: float, end: float, n: int, lengths: FloatArray,
           window: float) -> WindowStats:
    lo, hi, idx = window_index(arrival, start=start, end=end, n=n, window=window)
    a = arrival[lo:hi]
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

    Parameters
    ----------
    data : Workload or array_like of float
        A workload, or sorted arrival times in seconds.
    window : float
        Window length in seconds; positive and finite.
    start : float, optional
        Grid start in seconds; default: the first arrival rounded down to a multiple of
        ``window``.
    end : float, optional
        Grid end in seconds (must exceed ``start``); default: the end of the window holding
        the last arrival.

    Returns
    -------
    WindowStats
        Start, length, count, rate and CV of every window.

    Raises
    ------
    WorkloadError
        If ``window`` is not positive and finite or ``end`` does not exceed ``start``.

    Examples
    --------
    >>> s = window_stats([0.5, 1.0, 1.5, 2.0, 12.0], window=10.0)
    >>> s.count.tolist(), s.rate.tolist(), s.cv.tolist()
    ([4, 1], [0.4, 0.1], [0.0, nan])
    """
    arrival = data.arrival if isinstance(data, Workload) else np.asarray(data, np.float64)
    start0, end0, n, lengths = grid(arrival, window, start, end)
    return _stats(arrival, start0, end0, n, lengths, window)


def window_stats_by_model(workload: Workload, *, window: float, start: float | None = None,
                          end: float | None = None) -> dict[str, WindowStats]:
    """:func:`window_stats` of each model, all on the grid of the whole workload.

    Parameters
    ----------
    workload : Workload
        The workload; the grid comes from all its arrivals.
    window : float
        Window length in seconds; positive and finite.
    start : float, optional
        Grid start in seconds; default: the first arrival rounded down to a multiple of
        ``window``.
    end : float, optional
        Grid end in seconds (must exceed ``start``); default: the end of the window holding
        the last arrival.

    Returns
    -------
    dict of str to WindowStats
        Each model's windows, in name order, on the shared grid.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 1.0, 2.0, 3.0], model=["a", "b", "a", "b"])
    >>> {m: s.count.tolist() for m, s in window_stats_by_model(w, window=2.0).items()}
    {'a': [1, 1], 'b': [1, 1]}
    """
    start0, end0, n, lengths = grid(workload.arrival, window, start, end)
    order = np.argsort(workload.model_codes, kind="stable")
    bounds = np.searchsorted(workload.model_codes[order],
                             np.arange(len(workload.model_names) + 1))
    out: dict[str, WindowStats] = {}
    for code, name in enumerate(workload.model_names):
        arrival = workload.arrival[order[bounds[code]:bounds[code + 1]]]
        out[name] = _stats(arrival, start0, end0, n, lengths, window)
    return out


def summarize(workload: Workload) -> WorkloadSummary:
    """Requests, span, mean rate and inter-arrival CV of a workload, overall and per model.

    The rate is requests over the span from the first to the last arrival (NaN for a span
    of 0).

    Parameters
    ----------
    workload : Workload
        The workload to summarise.

    Returns
    -------
    WorkloadSummary
        Totals and a :class:`ModelSummary` per model.

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
