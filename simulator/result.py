"""The outcome of one simulated (or measured) serving run: :class:`SimResult`.

A result holds one row per request (arrival, start, finish, group, status, batch size) and
the statistics derived from those rows. Every engine, and the real runtime, builds it with
:meth:`SimResult.from_outcomes`, so the statistics mean the same thing everywhere:

* ``status`` is :data:`SERVED` (ran to completion, possibly late when admission control is off),
  :data:`DROPPED` (rejected by SLO-aware admission; used no resources) or :data:`UNSERVED` (no
  group hosts the model). Every request has exactly one status.
* A request is *good* when it was served and ``finish <= arrival + slo``.
* Statistics cover the *measured* requests: those whose arrival lies in ``window``. Without
  trimming the window runs from the first arrival to the later of the last arrival and the
  last finish; with warm-up/cool-down trimming it is ``[first + warmup, last - cooldown]``.
* ``attainment`` (goodput) is good / measured requests; dropped and unserved requests count as
  misses. Latency statistics cover measured served requests (late ones included).
* ``throughput`` is measured served requests per second of window.
* ``group_busy_fraction`` is the mean over a group's stages of the fraction of the window that
  the stage spent executing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SimulationError
from simulator.prepared import per_request_slos
from simulator.summary import (
    DROPPED,
    SERVED,
    STATUS_NAMES,
    UNSERVED,
    AttainmentSummary,
    FloatArray,
    Summary,
    stats_window,
    summarize,
)

__all__ = ["DROPPED", "SERVED", "STATUS_NAMES", "UNSERVED", "AttainmentSummary", "SimResult",
           "Summary", "stats_window", "summarize"]


def _frozen_copy(array: npt.ArrayLike, dtype: Any) -> np.ndarray:
    out = np.array(array, dtype=dtype, copy=True)
    out.flags.writeable = False
    return out


def _frozen_view(array: npt.ArrayLike, dtype: Any) -> np.ndarray:
    out = np.asarray(array, dtype=dtype).view()
    out.flags.writeable = False
    return out


@dataclass(frozen=True, kw_only=True, eq=False)
class SimResult:
    """Per-request outcomes of a run and their statistics.

    Build one with :meth:`from_outcomes`; the statistics fields are derived there. Per-request
    arrays are read-only and in arrival order; statistics cover the measured requests (see
    the module docstring for the exact definitions).

    Attributes
    ----------
    model_names, group_names : tuple of str
        Model and group names; codes in ``model_codes`` and ``group`` index them.
    engine : str
        Who produced the outcomes: ``"fast"``, ``"reference"``, ``"schedule"`` or
        ``"runtime"``.
    arrival, start, finish : numpy.ndarray of float64
        Per request, in seconds; ``start`` and ``finish`` are NaN unless served.
    model_codes, group : numpy.ndarray of int32
        Per request: its model and the group it was dispatched to.
    status : numpy.ndarray of int8
        Per request: :data:`~simulator.summary.SERVED`, :data:`~simulator.summary.DROPPED`
        or :data:`~simulator.summary.UNSERVED`.
    stage_start : numpy.ndarray of float64 or None
        Per request and stage, the start time in seconds, when recorded.
    request_slo, slo_of_model : numpy.ndarray of float64 or None
        The SLOs in seconds, per request or per model (exactly one is set).
    batch_sizes : numpy.ndarray of int32 or None
        Per request: its batch size; None when every served request ran alone.
    window : tuple of float
        ``(begin, end)`` in seconds of the measured interval.
    measured : tuple of int
        ``(i0, i1)``: the measured requests are ``i0 <= i < i1``.
    num_requests, num_served, num_dropped, num_unserved, num_good : int
        Counts over the measured requests.
    attainment : float
        Good / measured requests, in ``[0, 1]`` (NaN with no measured request).
    requests_per_model, good_per_model : Mapping[str, int]
        Measured and good requests per model name.
    attainment_per_model : Mapping[str, float]
        Attainment per model name (NaN for a model with no measured request).
    latency_mean, latency_p50, latency_p90, latency_p99 : float
        Latency (``finish - arrival``, seconds) of the measured served requests.
    throughput : float
        Measured served requests per second of window.
    group_busy_fraction : Mapping[str, float]
        Per group: mean over its stages of the fraction of the window spent executing
        (NaN when busy time is unknown).

    Examples
    --------
    >>> r = SimResult.from_outcomes(
    ...     model_names=("a", "b"), group_names=("g0",),
    ...     arrival=[0.0, 0.5, 1.0], model_codes=[0, 1, 1], slo=[1.0, 1.0, 1.0],
    ...     start=[0.0, float("nan"), 1.0], finish=[0.4, float("nan"), 2.5],
    ...     group=[0, 0, 0], status=[SERVED, DROPPED, SERVED],
    ...     group_busy_seconds=[1.9], group_num_stages=[1])
    >>> r.attainment, r.num_served, r.num_dropped, dict(r.attainment_per_model)
    (0.3333333333333333, 2, 1, {'a': 1.0, 'b': 0.0})
    >>> r.window, round(r.group_busy_fraction["g0"], 2)
    ((0.0, 2.5), 0.76)
    """

    model_names: tuple[str, ...]
    group_names: tuple[str, ...]
    engine: str
    # ---- per request (read-only arrays, arrival order)
    arrival: FloatArray
    model_codes: npt.NDArray[np.int32]
    start: FloatArray
    finish: FloatArray
    group: npt.NDArray[np.int32]
    status: npt.NDArray[np.int8]
    stage_start: FloatArray | None
    # the SLOs: per request, or per model (then ``slo`` is formed on first use)
    request_slo: FloatArray | None
    slo_of_model: FloatArray | None
    # batch sizes per request; None when every served request ran alone
    batch_sizes: npt.NDArray[np.int32] | None
    # ---- statistics over the measured requests
    window: tuple[float, float]
    measured: tuple[int, int]
    num_requests: int
    num_served: int
    num_dropped: int
    num_unserved: int
    num_good: int
    attainment: float
    requests_per_model: Mapping[str, int]
    good_per_model: Mapping[str, int]
    attainment_per_model: Mapping[str, float]
    latency_mean: float
    latency_p50: float
    latency_p90: float
    latency_p99: float
    throughput: float
    group_busy_fraction: Mapping[str, float]

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_outcomes(
        cls,
        *,
        model_names: Sequence[str],
        group_names: Sequence[str],
        arrival: npt.ArrayLike,
        model_codes: npt.ArrayLike,
        slo: npt.ArrayLike | None = None,
        start: npt.ArrayLike,
        finish: npt.ArrayLike,
        group: npt.ArrayLike,
        status: npt.ArrayLike,
        batch_size: npt.ArrayLike | None = None,
        stage_start: npt.ArrayLike | None = None,
        group_busy_seconds: npt.ArrayLike | None = None,
        group_num_stages: Sequence[int] | None = None,
        warmup: float = 0.0,
        cooldown: float = 0.0,
        trim: str = "time",
        engine: str = "runtime",
        summary: Summary | None = None,
        copy: bool = True,
        slo_of_model: npt.ArrayLike | None = None,
    ) -> SimResult:
        """Freeze per-request outcomes and derive the statistics.

        ``group_busy_seconds[g]`` is the stage-seconds group ``g`` executed inside the
        window, summed over its ``group_num_stages[g]`` stages (see :func:`stats_window` for
        the window an engine must clip to). Unknown busy time gives NaN fractions. An engine
        that already counted the outcomes passes ``summary`` (see :func:`summarize`) and
        ``copy=False`` to hand over arrays it owns instead of copying them.

        SLOs are given per request (``slo``) or per model (``slo_of_model``). Without
        ``batch_size`` every served request ran alone (batch size 1, else 0).

        Parameters
        ----------
        model_names, group_names : Sequence[str]
            Model and group names, indexed by ``model_codes`` and ``group``.
        arrival : array_like of float, shape (n,)
            Arrival times in seconds, non-decreasing.
        model_codes : array_like of int, shape (n,)
            Per request: its model's index into ``model_names``.
        slo : array_like of float, shape (n,), optional
            Per-request SLOs in seconds.
        start, finish : array_like of float, shape (n,)
            Per request: start and finish times in seconds (NaN unless served).
        group : array_like of int, shape (n,)
            Per request: the group's index into ``group_names``.
        status : array_like of int, shape (n,)
            Per request: :data:`~simulator.summary.SERVED` (0),
            :data:`~simulator.summary.DROPPED` (1) or :data:`~simulator.summary.UNSERVED` (2).
        batch_size : array_like of int, shape (n,), optional
            Per request: the size of the batch it ran in.
        stage_start : array_like of float, optional
            Per request and stage: the start time in seconds.
        group_busy_seconds : array_like of float, optional
            Per group: stage-seconds executed inside the window.
        group_num_stages : Sequence[int], optional
            Per group: its number of stages.
        warmup, cooldown : float, default 0.0
            Seconds trimmed from the start and the end of the arrivals.
        engine : str, default "runtime"
            Recorded as the result's ``engine``.
        summary : Summary, optional
            Counts the engine already made over the measured requests.
        copy : bool, default True
            Copy the arrays and validate order and status; False takes read-only views.
        slo_of_model : array_like of float, shape (len(model_names),), optional
            Per-model SLOs in seconds; exactly one of ``slo`` and ``slo_of_model`` is given.
        trim : {"time", "requests"}, default "time"
            How ``warmup``/``cooldown`` trim the measured requests (see :func:`stats_window`).

        Returns
        -------
        SimResult
            The frozen outcomes and their statistics.

        Raises
        ------
        SimulationError
            If neither or both SLO forms are given, a column has the wrong shape, arrivals
            are not sorted or a status is out of range.

        Examples
        --------
        >>> r = SimResult.from_outcomes(model_names=("a",), group_names=("g0",),
        ...     arrival=[0.0, 1.0], model_codes=[0, 0], start=[0.0, 1.0], finish=[0.5, 2.0],
        ...     group=[0, 0], status=[SERVED, SERVED], slo_of_model=[0.8])
        >>> r.good.tolist(), r.attainment, r.latency_p50
        ([True, False], 0.5, 0.75)
        """
        if (slo is None) == (slo_of_model is None):
            raise SimulationError("give exactly one of slo (per request) and slo_of_model")
        _frozen = _frozen_copy if copy else _frozen_view
        arr = _frozen(arrival, np.float64)
        n = arr.shape[0]
        columns: dict[str, Any] = {
            "model_codes": _frozen(model_codes, np.int32),
            "start": _frozen(start, np.float64),
            "finish": _frozen(finish, np.float64),
            "group": _frozen(group, np.int32),
            "status": _frozen(status, np.int8),
        }
        # per request, but only when given (else formed on first use)
        columns["request_slo"] = None if slo is None else _frozen(slo, np.float64)
        columns["batch_sizes"] = None if batch_size is None else _frozen(batch_size, np.int32)
        for name, col in columns.items():
            if col is not None and col.shape != (n,):
                raise SimulationError(f"{name} has shape {col.shape}, expected ({n},)")
        names = tuple(model_names)
        per_model = None if slo_of_model is None else _frozen(slo_of_model, np.float64)
        if per_model is not None and per_model.shape != (len(names),):
            raise SimulationError(f"slo_of_model has shape {per_model.shape}, expected "
                                  f"({len(names)},)")
        columns["slo_of_model"] = per_model
        if copy and n and np.any(arr[1:] < arr[:-1]):
            raise SimulationError("arrival must be sorted in non-decreasing order")
        gnames = tuple(group_names)
        st = columns["status"]
        if copy and n and (st.min() < SERVED or st.max() > UNSERVED):
            raise SimulationError(f"status values must be in {{0, 1, 2}}, got {np.unique(st)}")

        if summary is None:
            done = columns["finish"][st == SERVED]
            max_finish = float(done.max()) if done.size else -math.inf
        else:
            max_finish = summary.max_finish
        window, (i0, i1) = stats_window(arr, None, warmup=warmup, cooldown=cooldown,
                                        max_finish=max_finish, trim=trim)
        if summary is None:
            slo_values = per_request_slos(columns["request_slo"], per_model,
                                          columns["model_codes"])
            summary = summarize(arr, columns["model_codes"], arr + slo_values,
                                columns["finish"], st, i0, i1, len(names))
        req_pm, good_pm = summary.requests_per_model, summary.good_per_model
        p50, p90, p99 = summary.latency_percentiles
        mean = summary.latency_mean
        length = window[1] - window[0]
        num_served = summary.num_served
        busy: dict[str, float] = {}
        for g, gname in enumerate(gnames):
            if group_busy_seconds is None or group_num_stages is None or length <= 0:
                busy[gname] = math.nan
            else:
                busy[gname] = float(np.asarray(group_busy_seconds, dtype=np.float64)[g]
                                    / (group_num_stages[g] * length))
        num_measured = int(i1 - i0)
        return cls(
            model_names=names,
            group_names=gnames,
            engine=engine,
            arrival=arr,
            stage_start=None if stage_start is None else _frozen(stage_start, np.float64),
            window=window,
            measured=(int(i0), int(i1)),
            num_requests=num_measured,
            num_served=num_served,
            num_dropped=summary.num_dropped,
            num_unserved=summary.num_unserved,
            num_good=int(good_pm.sum()),
            attainment=float(good_pm.sum() / num_measured) if num_measured else math.nan,
            requests_per_model=MappingProxyType(
                {nm: int(c) for nm, c in zip(names, req_pm, strict=True)}),
            good_per_model=MappingProxyType(
                {nm: int(c) for nm, c in zip(names, good_pm, strict=True)}),
            attainment_per_model=MappingProxyType(
                {nm: (float(gd / c) if c else math.nan)
                 for nm, gd, c in zip(names, good_pm, req_pm, strict=True)}),
            latency_mean=mean,
            latency_p50=p50,
            latency_p90=p90,
            latency_p99=p99,
            throughput=num_served / length if length > 0 else math.nan,
            group_busy_fraction=MappingProxyType(busy),
            **columns,
        )

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return int(self.arrival.shape[0])

    def __repr__(self) -> str:
        return (f"SimResult({len(self)} requests, attainment={self.attainment:.4f}, "
                f"served={self.num_served}, dropped={self.num_dropped}, "
                f"unserved={self.num_unserved}, engine={self.engine!r})")

    @property
    def unmet_per_model(self) -> dict[str, int]:
        """Measured requests per model that were not served within their SLO."""
        return {m: self.requests_per_model[m] - self.good_per_model[m] for m in self.model_names}

    @cached_property
    def slo(self) -> FloatArray:
        """Per request: its SLO in seconds."""
        return per_request_slos(self.request_slo, self.slo_of_model, self.model_codes)

    @cached_property
    def batch_size(self) -> npt.NDArray[np.int32]:
        """Per request: the size of the batch it ran in (0 unless served)."""
        if self.batch_sizes is not None:
            return self.batch_sizes
        out = (self.status == SERVED).astype(np.int32)
        out.flags.writeable = False
        return out

    @property
    def good(self) -> npt.NDArray[np.bool_]:
        """Per request: served and finished within its SLO."""
        with np.errstate(invalid="ignore"):
            return (self.status == SERVED) & (self.finish <= self.arrival + self.slo)

    @property
    def latency(self) -> FloatArray:
        """Per request ``finish - arrival`` (NaN unless served)."""
        return self.finish - self.arrival

    def to_dataframe(self) -> Any:
        """The per-request table as a ``pandas.DataFrame`` (pandas is imported here).

        Returns
        -------
        pandas.DataFrame
            One row per request with columns ``arrival``, ``model`` (categorical),
            ``slo``, ``start``, ``finish``, ``latency`` (seconds), ``group`` and ``status``
            (categorical), ``batch_size`` and ``good``.

        Examples
        --------
        >>> r = SimResult.from_outcomes(model_names=("a",), group_names=("g0",),
        ...     arrival=[0.0, 1.0], model_codes=[0, 0], start=[0.0, 1.0], finish=[0.5, 2.0],
        ...     group=[0, 0], status=[SERVED, SERVED], slo_of_model=[0.8])
        >>> r.to_dataframe()[["arrival", "latency", "good"]]
           arrival  latency   good
        0      0.0      0.5   True
        1      1.0      1.0  False
        """
        import pandas as pd

        def categorical(codes: np.ndarray, names: Sequence[str]) -> Any:
            return pd.Categorical.from_codes(codes, categories=list(names))

        return pd.DataFrame({
            "arrival": self.arrival,
            "model": categorical(self.model_codes, self.model_names),
            "slo": self.slo,
            "start": self.start,
            "finish": self.finish,
            "latency": self.latency,
            "group": categorical(self.group, self.group_names),
            "status": categorical(self.status.astype(np.int32), STATUS_NAMES),
            "batch_size": self.batch_size,
            "good": self.good,
        })
