"""The latency line of a model variant, fitted from profiled (batch size, latency) points.

:func:`fit_latency` fits ``latency = slope × batch + intercept`` by least squares and
returns it with its largest relative error (:class:`LatencyFit`);
:meth:`alpaserve.modelless.variants.Variant.from_points` and the profile-database reader
(:mod:`alpaserve.modelless.profiled`) build variants from it. It is separate from the
variant types because it is numerical fitting with its own failure modes (too few, bad or
non-linear points), not a description of what is served.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alpaserve.errors import ProfileError

__all__ = ["LatencyFit", "fit_latency"]


@dataclass(frozen=True, kw_only=True)
class LatencyFit:
    """A least-squares line ``latency = slope × batch + intercept`` and its residual.


    Parameters
    ----------
    slope : float
        Seconds per item in the batch (>= 0).
    intercept : float
        Seconds per batch (>= 0).
    max_relative_error : float
        Largest ``|fit - measured| / measured`` over the points.
    num_points : int
        Points fitted.

    Examples
    --------
    >>> fit = fit_latency([1, 2, 4], [0.012, 0.014, 0.018])
    >>> round(fit.slope, 6), round(fit.intercept, 6), round(fit.max_relative_error, 6)
    (0.002, 0.01, 0.0)
    """

    slope: float
    intercept: float
    max_relative_error: float
    num_points: int


def fit_latency(batch_sizes: Sequence[int] | np.ndarray,
                latencies: Sequence[float] | np.ndarray) -> LatencyFit:
    """Fit ``slope × batch + intercept`` to profiled (batch size, latency) points.

    With one point the line goes through the origin (intercept 0). The fit is ordinary least
    squares; a negative intercept is clipped to 0 and the slope refitted through the origin,
    and a negative slope is rejected, since neither describes a real device.

    Parameters
    ----------
    batch_sizes : sequence of int or numpy.ndarray
        Profiled batch sizes (positive integers).
    latencies : sequence of float or numpy.ndarray
        Measured latency of each, seconds (positive, finite).

    Returns
    -------
    LatencyFit
        The line and its largest relative error on the points.

    Raises
    ------
    ProfileError
        If there are no points, the arrays differ in length, a batch size is not a positive
        integer, a latency is not positive and finite, or the fitted slope is negative.

    Examples
    --------
    >>> fit = fit_latency([1, 8, 32], [0.05, 0.12, 0.36])
    >>> 0.009 < fit.slope < 0.011 and fit.intercept > 0
    True
    """
    b = np.asarray(batch_sizes, dtype=np.float64).ravel()
    t = np.asarray(latencies, dtype=np.float64).ravel()
    if b.size == 0:
        raise ProfileError("cannot fit a latency line to no points")
    if b.shape != t.shape:
        raise ProfileError(f"batch_sizes has {b.size} points but latencies has {t.size}")
    if np.any(b < 1) or np.any(b != np.round(b)):
        raise ProfileError(f"batch sizes must be positive integers, got {b.tolist()}")
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ProfileError(f"latencies must be positive and finite, got {t.tolist()}")
    if np.unique(b).size == 1:
        slope, intercept = float(np.mean(t / b)), 0.0
    else:
        design = np.stack([b, np.ones_like(b)], axis=1)
        (slope, intercept), *_ = np.linalg.lstsq(design, t, rcond=None)
        slope, intercept = float(slope), float(intercept)
        if intercept < 0:
            slope, intercept = float(np.dot(b, t) / np.dot(b, b)), 0.0
    if -1e-9 * float(t.max()) < slope < 0:  # rounding noise on a flat profile
        slope = 0.0
        intercept = float(t.mean())
    if slope < 0:
        raise ProfileError(f"latency falls with batch size (slope {slope:.3g} s per item) "
                           f"for points {list(zip(b.tolist(), t.tolist(), strict=True))}")
    predicted = slope * b + intercept
    error = float(np.max(np.abs(predicted - t) / t))
    return LatencyFit(slope=slope, intercept=intercept, max_relative_error=error,
                      num_points=int(b.size))
