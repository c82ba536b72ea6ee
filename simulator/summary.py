"""Statistics over per-request outcomes: status codes, the measurement window,
:class:`Summary` (what :class:`~simulator.result.SimResult` reports) and
:class:`AttainmentSummary` (the counts a placement search reads).

The rules are in :mod:`simulator.result`'s docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SimulationError
from simulator.engine.percentiles import percentiles_in_place

#: Status code: ran to completion (possibly late when admission control is off).
SERVED = 0
#: Status code: rejected by SLO-aware admission; used no resources.
DROPPED = 1
#: Status code: no group hosts the request's model.
UNSERVED = 2
#: The name of each status code, by code.
STATUS_NAMES = ("served", "dropped", "unserved")


class RequestStatus(IntEnum):
    """What happened to a request: the status codes as an enum (equal to the ints)."""

    SERVED = SERVED      # ran to completion (possibly after its deadline)
    DROPPED = DROPPED    # refused at admission: its predicted finish exceeded arrival + SLO
    UNSERVED = UNSERVED  # no group hosts its model

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True, eq=False)
class Summary:
    """Counts over measured requests; latency statistics over the measured served ones.

    Parameters
    ----------
    requests_per_model, good_per_model : numpy.ndarray of int64, shape (M,)
        Measured requests, and those served within their SLO, per model code.
    num_served, num_dropped, num_unserved : int
        Measured requests with each status.
    latency_mean : float
        Mean latency in seconds of the measured served requests (NaN if none).
    latency_percentiles : tuple of float
        Their 50th, 90th and 99th percentile latencies in seconds (NaN if none).
    max_finish : float
        The latest finish in seconds of any served request, measured or not (``-inf``
        when none was served).

    Examples
    --------
    >>> a = np.array([0.0, 1.0]); f = np.array([0.5, 2.0])
    >>> s = summarize(a, np.array([0, 0]), a + 0.8, f, np.array([SERVED, SERVED]), 0, 2, 1)
    >>> s.good_per_model.tolist(), s.latency_percentiles, s.max_finish
    ([1], (0.75, 0.95, 0.995), 2.0)
    """

    requests_per_model: npt.NDArray[np.int64]
    good_per_model: npt.NDArray[np.int64]
    num_served: int
    num_dropped: int
    num_unserved: int
    latency_mean: float
    latency_percentiles: tuple[float, float, float]
    max_finish: float


def summarize(arrival: FloatArray, model_codes: np.ndarray, deadline: FloatArray,
              finish: FloatArray, status: np.ndarray, i0: int, i1: int,
              num_models: int) -> Summary:
    """Count outcomes of requests ``i0 <= i < i1``: the statistics of :class:`SimResult`.

    The latency mean is a left-to-right sum (``cumsum``) so that compiled engines can
    reproduce it bit for bit.

    Parameters
    ----------
    arrival : numpy.ndarray of float64, shape (n,)
        Arrival times in seconds.
    model_codes : numpy.ndarray of int, shape (n,)
        Per request: its model code, in ``[0, num_models)``.
    deadline, finish : numpy.ndarray of float64, shape (n,)
        Per request, in seconds: ``arrival + slo`` and finish (NaN unless served).
    status : numpy.ndarray of int, shape (n,)
        Per request: :data:`SERVED`, :data:`DROPPED` or :data:`UNSERVED`.
    i0, i1 : int
        The measured index range (see :func:`stats_window`).
    num_models : int
        Length of the per-model count arrays.

    Returns
    -------
    Summary
        The counts and latency statistics.

    Examples
    --------
    >>> a = np.array([0.0, 1.0, 2.0]); f = np.array([0.5, np.nan, 2.9])
    >>> s = summarize(a, np.array([0, 0, 1]), a + 0.6, f, np.array([SERVED, DROPPED, SERVED]),
    ...               0, 3, 2)
    >>> s.good_per_model.tolist(), s.num_dropped, round(s.latency_mean, 2)
    ([1, 0], 1, 0.7)
    """
    st = status[i0:i1]
    served = st == SERVED
    codes = model_codes[i0:i1]
    fin = finish[i0:i1]
    good = served & (fin <= deadline[i0:i1])
    latency = fin[served] - arrival[i0:i1][served]
    done = finish[status == SERVED]
    mean = float(np.cumsum(latency)[-1] / latency.size) if latency.size else math.nan
    p50, p90, p99 = percentiles_in_place(latency)
    return Summary(
        requests_per_model=np.bincount(codes, minlength=num_models),
        good_per_model=np.bincount(codes[good], minlength=num_models),
        num_served=int(served.sum()),
        num_dropped=int(np.count_nonzero(st == DROPPED)),
        num_unserved=int(np.count_nonzero(st == UNSERVED)),
        latency_mean=mean,
        latency_percentiles=(p50, p90, p99),
        max_finish=float(done.max()) if done.size else -math.inf,
    )


TRIMS = ("time", "requests")

def stats_window(arrival: FloatArray, finish: FloatArray | None, *, warmup: float = 0.0,
                 cooldown: float = 0.0, max_finish: float | None = None, trim: str = "time"
                 ) -> tuple[tuple[float, float], tuple[int, int]]:
    """The statistics window ``(t_lo, t_hi)`` and the index range of measured requests.

    Without trimming the window ends at the later of the last arrival and the last finish
    (``max_finish``, else the largest non-NaN ``finish``). With ``trim="time"`` the measured
    requests arrive in ``[first + warmup, last - cooldown]``; with ``trim="requests"``
    (AlpaServe's rule) the first ``int(warmup / span * n)`` and the last
    ``int(cooldown / span * n)`` requests in arrival order are skipped, ``span`` being
    ``last - first``, which differs from the time rule when arrivals are bursty or tied.

    Parameters
    ----------
    arrival : numpy.ndarray of float64, shape (n,)
        Arrival times in seconds, non-decreasing.
    finish : numpy.ndarray of float64 or None
        Finish times in seconds (NaN unless served); read only without trimming and
        without ``max_finish``.
    warmup, cooldown : float, default 0.0
        Seconds trimmed from the first and the last arrival; both >= 0.
    max_finish : float, optional
        The latest finish in seconds, when the caller already knows it.
    trim : {"time", "requests"}, default "time"
        Trim by arrival time, or by request count (AlpaServe's rule).

    Returns
    -------
    window : tuple of float
        ``(t_lo, t_hi)`` in seconds.
    measured : tuple of int
        ``(i0, i1)``: requests ``i0 <= i < i1`` arrive inside the window.

    Raises
    ------
    SimulationError
        If ``warmup`` or ``cooldown`` is negative or not finite, or together they leave no
        window.

    Examples
    --------
    >>> a = np.array([0.0, 1.0, 2.0, 3.0]); f = np.array([0.5, 1.5, np.nan, 3.9])
    >>> stats_window(a, f)
    ((0.0, 3.9), (0, 4))
    >>> stats_window(a, f, warmup=0.5, cooldown=1.0)
    ((0.5, 2.0), (1, 3))
    >>> stats_window(np.array([0.0, 0.0, 0.0, 3.0]), None, warmup=1.0, trim="requests")
    ((0.0, 3.0), (1, 4))
    """
    if trim not in TRIMS:
        raise SimulationError(f"trim must be one of {TRIMS}, got {trim!r}")
    for name, value in (("warmup", warmup), ("cooldown", cooldown)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise SimulationError(f"{name} must be a non-negative number of seconds, "
                                  f"got {value!r}")
    n = arrival.shape[0]
    if n == 0:
        return (0.0, 0.0), (0, 0)
    first, last = float(arrival[0]), float(arrival[-1])
    if warmup == 0 and cooldown == 0:
        if max_finish is None:
            done = finish[~np.isnan(finish)] if finish is not None else np.empty(0)
            max_finish = float(done.max()) if done.size else -math.inf
        return (first, max(last, max_finish)), (0, n)
    if trim == "requests":
        span = last - first
        if span <= 0:
            raise SimulationError(f"request trimming needs arrivals spanning some time, got "
                                  f"{n} at {first}")
        i0, i1 = int(warmup / span * n), n - int(cooldown / span * n)
        if not i1 > i0:
            raise SimulationError(f"warmup={warmup} and cooldown={cooldown} skip all {n} "
                                  f"requests spanning [{first}, {last}]")
        return (float(arrival[i0]), float(arrival[i1 - 1])), (i0, i1)
    lo, hi = first + warmup, last - cooldown
    if not hi > lo:
        raise SimulationError(f"warmup={warmup} and cooldown={cooldown} leave no window in "
                              f"arrivals spanning [{first}, {last}]")
    i0, i1 = np.searchsorted(arrival, [lo, hi], side="left")
    i1 = int(np.searchsorted(arrival, hi, side="right"))
    return (lo, hi), (int(i0), i1)


@dataclass(frozen=True, kw_only=True, eq=False)
class AttainmentSummary:
    """Only the counts a placement search needs: measured and good requests per model.

    Parameters
    ----------
    model_names : tuple of str
        The workload's models, in code order.
    requests_per_model : numpy.ndarray of int64, shape (M,)
        Measured requests per model.
    good_per_model : numpy.ndarray of int64, shape (M,)
        Measured requests per model served within their SLO.

    Examples
    --------
    >>> s = AttainmentSummary(model_names=("a", "b"), requests_per_model=np.array([4, 0]),
    ...                       good_per_model=np.array([3, 0]))
    >>> s.attainment, s.unmet_per_model.tolist(), s.attainment_per_model.tolist()
    (0.75, [1, 0], [0.75, nan])
    """

    model_names: tuple[str, ...]
    requests_per_model: npt.NDArray[np.int64]
    good_per_model: npt.NDArray[np.int64]

    @property
    def num_requests(self) -> int:
        """Measured requests over all models."""
        return int(self.requests_per_model.sum())

    @property
    def num_good(self) -> int:
        """Measured requests served within their SLO, over all models."""
        return int(self.good_per_model.sum())

    @property
    def attainment(self) -> float:
        """Good / measured requests, in ``[0, 1]`` (NaN with no measured request)."""
        n = self.num_requests
        return self.num_good / n if n else math.nan

    @property
    def unmet_per_model(self) -> npt.NDArray[np.int64]:
        """Per model: measured requests not served within their SLO."""
        return self.requests_per_model - self.good_per_model

    @property
    def attainment_per_model(self) -> FloatArray:
        """Per model: its attainment (NaN for a model with no measured request)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.good_per_model / np.where(self.requests_per_model > 0,
                                                  self.requests_per_model, np.nan)
