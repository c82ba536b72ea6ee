"""Rescale a workload's rate and burstiness window by window, and scale its time axis.

:func:`rescale` follows AlpaServe: cut the workload into windows, fit a Gamma process to each
model's arrivals in each window (rate = count / window length, CV = inter-arrival CV), and
replace them with fresh Gamma arrivals at ``rate × rate_scale`` and ``CV × cv_scale`` (or a
CV set outright). Per-request columns (``slo``, token counts) of the new requests are drawn
from the original requests of the same model and window, so their distribution carries over.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workloads._rng import SeedLike, spawn
from workloads.arrivals import GammaProcess
from workloads.errors import WorkloadError
from workloads.stats import grid, window_index, window_stats_by_model
from workloads.workload import OPTIONAL_COLUMNS, Workload

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

__all__ = ["RescaleResult", "RescaleSpec", "rescale", "scale_time"]


def _finite_nonneg(name: str, value: float | None, *, positive: bool = False) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        kind = "positive" if positive else "non-negative"
        raise WorkloadError(f"{name} must be a {kind} finite number, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class RescaleSpec:
    """How to refit and rescale a workload.

    ``window`` is the refit window in seconds. ``cv``, when given, sets every window's CV and
    ``cv_scale`` is ignored. ``default_cv`` stands in for the fitted CV of a window with fewer
    than two gaps for a model (it is then scaled like a fitted one); such windows are counted
    in the result. ``start`` and ``end`` bound the window grid, as in
    :func:`workloads.stats.window_stats`; requests outside it are dropped and counted.

    Parameters
    ----------
    window : float
        Refit window in seconds; positive.
    rate_scale : float, default 1.0
        Factor on every fitted rate; non-negative.
    cv_scale : float, default 1.0
        Factor on every fitted CV; non-negative; ignored when ``cv`` is given.
    cv : float, optional
        One CV for every window instead of the fitted ones.
    default_cv : float, default 1.0
        CV of a window with fewer than two gaps for a model.
    start, end : float, optional
        Bounds of the window grid in seconds; default: the first and last arrival.

    Raises
    ------
    WorkloadError
        If a value is negative or not finite, or ``window`` is not positive.

    Examples
    --------
    >>> RescaleSpec(window=60.0, cv=2.0).cv_scale  # ignored when cv is given
    1.0
    """

    window: float
    rate_scale: float = 1.0
    cv_scale: float = 1.0
    cv: float | None = None
    default_cv: float = 1.0
    start: float | None = None
    end: float | None = None

    def __post_init__(self) -> None:
        _finite_nonneg("window", self.window, positive=True)
        _finite_nonneg("rate_scale", self.rate_scale)
        _finite_nonneg("cv_scale", self.cv_scale)
        _finite_nonneg("cv", self.cv)
        _finite_nonneg("default_cv", self.default_cv)


@dataclass(frozen=True, kw_only=True)
class RescaleResult:
    """The rescaled workload and what the refit had to do.

    ``fitted`` counts (model, window) pairs that had requests and were refitted;
    ``default_cv_windows`` those among them whose CV fell back to ``default_cv``;
    ``outside_grid`` the input requests outside the window grid (dropped).

    Parameters
    ----------
    workload : Workload
        The new requests; optional columns are resampled from the same model and window.
    windows : int
        Windows in the grid.
    fitted : int
        (model, window) pairs refitted.
    default_cv_windows : int
        Refitted pairs whose CV fell back to ``default_cv``.
    outside_grid : int
        Input requests outside the grid, dropped.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 1.0, 2.0, 70.0], model="m")
    >>> r = rescale(w, RescaleSpec(window=60.0), seed=0)
    >>> r.windows, r.fitted, r.default_cv_windows, r.outside_grid
    (2, 2, 1, 0)
    """

    workload: Workload
    windows: int
    fitted: int
    default_cv_windows: int
    outside_grid: int


def rescale(workload: Workload, spec: RescaleSpec, *, seed: SeedLike) -> RescaleResult:
    """Refit a Gamma process per model and window, scale it, and draw new arrivals.

    Parameters
    ----------
    workload : Workload
        The workload to refit.
    spec : RescaleSpec
        Window, scales and CV overrides.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness; each model gets its own stream.

    Returns
    -------
    RescaleResult
        The new workload and the counts of fitted, defaulted and dropped.

    Examples
    --------
    >>> from workloads.arrivals import GammaProcess
    >>> t = GammaProcess(rate=20.0, cv=1.0).generate(duration=600.0, seed=0)
    >>> w = Workload.from_arrays(arrival=t, model="m")
    >>> r = rescale(w, RescaleSpec(window=60.0, rate_scale=2.0), seed=1)
    >>> round(len(r.workload) / len(w), 1), r.windows
    (2.0, 10)
    """
    stats = window_stats_by_model(workload, window=spec.window, start=spec.start, end=spec.end)
    grid_start, grid_end, n_windows, _ = grid(workload.arrival, spec.window, spec.start, spec.end)
    rngs = spawn(seed, len(workload.model_names))
    columns = [c for c in OPTIONAL_COLUMNS if getattr(workload, c) is not None]
    arrivals: list[FloatArray] = []
    codes: list[npt.NDArray[np.int32]] = []
    picks: list[npt.NDArray[np.int64]] = []
    fitted = defaulted = windows = 0
    for code, name in enumerate(workload.model_names):
        s = stats[name]
        windows = len(s)
        rng = rngs[code]
        mine = np.flatnonzero(workload.model_codes == code)
        lo, hi, idx = window_index(workload.arrival[mine], start=grid_start, end=grid_end,
                                   n=n_windows, window=spec.window)
        mine = mine[lo:hi]
        bounds = np.searchsorted(idx, np.arange(n_windows + 1), side="left")
        for i in np.flatnonzero(s.count > 0):
            fitted += 1
            cv = float(s.cv[i])
            if spec.cv is not None:
                cv = spec.cv
            else:
                if math.isnan(cv):
                    defaulted += 1
                    cv = spec.default_cv
                cv *= spec.cv_scale
            rate = float(s.rate[i]) * spec.rate_scale
            if rate == 0:
                continue
            start, length = float(s.start[i]), float(s.length[i])
            t = GammaProcess(rate=rate, cv=cv).generate(duration=length, start=start, seed=rng)
            arrivals.append(t)
            codes.append(np.full(t.size, code, dtype=np.int32))
            if columns:
                picks.append(mine[rng.integers(bounds[i], bounds[i + 1], size=t.size)])
    total_in_grid = sum(int(s.count.sum()) for s in stats.values())
    outside = len(workload) - total_in_grid
    if defaulted:
        logger.info("rescale: %d of %d model windows had < 2 gaps; used default_cv=%s",
                    defaulted, fitted, spec.default_cv)
    if outside:
        logger.warning("rescale: %d requests lie outside the window grid and were dropped",
                       outside)
    pick = np.concatenate(picks) if picks else np.empty(0, np.int64)
    out = Workload.from_arrays(
        arrival=np.concatenate(arrivals) if arrivals else np.empty(0),
        model=np.concatenate(codes) if codes else np.empty(0, np.int32),
        model_names=workload.model_names,
        **{c: getattr(workload, c)[pick] for c in columns})
    return RescaleResult(workload=out, windows=windows, fitted=fitted,
                         default_cv_windows=defaulted, outside_grid=outside)


def scale_time(workload: Workload, factor: float, *, origin: float = 0.0) -> Workload:
    """Stretch time by ``factor`` around ``origin``: every gap times ``factor``.

    ``factor = 0.5`` doubles the rate; the inter-arrival CV and the request order are kept.

    Parameters
    ----------
    workload : Workload
        The workload to rescale; all columns are kept.
    factor : float
        Time factor; positive and finite.
    origin : float, default 0.0
        The fixed point in seconds; finite.

    Returns
    -------
    Workload
        The same requests at the stretched times.

    Raises
    ------
    WorkloadError
        If ``factor`` is not positive and finite or ``origin`` is not finite.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[1.0, 2.0, 4.0], model="m")
    >>> scale_time(w, 0.5).arrival.tolist()
    [0.5, 1.0, 2.0]
    """
    _finite_nonneg("factor", factor, positive=True)
    if not math.isfinite(origin):
        raise WorkloadError(f"origin must be finite, got {origin!r}")
    arrival = (workload.arrival - origin) * factor + origin
    return Workload.from_arrays(
        arrival=arrival, model=workload.model_codes, model_names=workload.model_names,
        **{c: getattr(workload, c) for c in OPTIONAL_COLUMNS if getattr(workload, c) is not None})
