"""Per-request outcomes of a real run, in the shape the simulator reports.

One row per workload request, in workload order: ``arrival``, ``start`` (first stage begins),
``finish`` (last stage done), ``group`` (index into ``group_names``, -1 if none), ``status``
(:class:`RequestStatus`), ``model_codes`` / ``model_names`` and ``slo``. Times are seconds
on the workload's clock (a run started at wall time ``t0`` records ``wall - t0``); ``start``
and ``finish`` are NaN for requests that never ran.

A request *meets its SLO* (counts towards goodput) when it was served and
``finish - arrival <= slo``. Dropped and unserved requests never meet it.

The columns and status codes are those of ``simulator.SimResult``;
:meth:`RunResult.to_sim_result` converts a run into one (statistics included), and
:mod:`alpaserve.runtime.fidelity` compares any two objects that expose the columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SpecError
from simulator import SimResult
from simulator.summary import RequestStatus


class ResultLike(Protocol):
    """The columns a run or simulation result exposes (``SimResult`` and ``RunResult``)."""

    @property
    def arrival(self) -> npt.NDArray[np.float64]: ...
    @property
    def start(self) -> npt.NDArray[np.float64]: ...
    @property
    def finish(self) -> npt.NDArray[np.float64]: ...
    @property
    def group(self) -> npt.NDArray[np.int32]: ...
    @property
    def status(self) -> npt.NDArray[np.int8]: ...
    @property
    def model_codes(self) -> npt.NDArray[np.int32]: ...
    @property
    def model_names(self) -> tuple[str, ...]: ...
    @property
    def slo(self) -> npt.NDArray[np.float64]: ...


def _frozen(a: Any, dtype: Any) -> np.ndarray:
    out = np.array(a, dtype=dtype)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False, kw_only=True)
class ServeTrace:
    """What the runtime saw of each request on its way through a group.

    Parameters
    ----------
    decided : numpy.ndarray of float64
        ``(n,)`` seconds: when the dispatcher decided each request (its arrival plus the
        dispatch lag).
    stage_begin, stage_end : numpy.ndarray of float64
        ``(n, max_stages)`` seconds: when each stage's thread took the request and when its
        output was ready; NaN for stages a request did not run.
    feedback : bool
        Whether stage ends were reported to the dispatcher during the run.
    overhead : float
        Seconds the dispatcher added to every predicted finish.
    max_batch : int, default 1
        The largest batch the run could form; above 1 it batched, and the next three
        columns are recorded (a batch's members share their stage begins and ends; stage 0
        begins at the formation).
    formed : numpy.ndarray of float64, optional
        ``(n,)`` seconds: when each request left its group's queue, in a batch or dropped
        (NaN: never queued).
    queue_group : numpy.ndarray of int32, optional
        ``(n,)``: the group whose queue each request joined (-1: none).
    batch_size : numpy.ndarray of int32, optional
        ``(n,)``: the size of the batch each request ran in (0: did not run).
    """

    decided: npt.NDArray[np.float64]
    stage_begin: npt.NDArray[np.float64]
    stage_end: npt.NDArray[np.float64]
    feedback: bool
    overhead: float
    max_batch: int = 1
    formed: npt.NDArray[np.float64] | None = None
    queue_group: npt.NDArray[np.int32] | None = None
    batch_size: npt.NDArray[np.int32] | None = None

    @property
    def service(self) -> npt.NDArray[np.float64]:
        """``stage_end - stage_begin``: the measured service time of each request at each
        stage (what :func:`simulator.replay.replay_measured` replays)."""
        return self.stage_end - self.stage_begin


@dataclass(frozen=True, eq=False, kw_only=True)
class RunResult:
    """Per-request outcomes of one run (see the module docstring for the columns).

    Parameters
    ----------
    arrival, start, finish : numpy.ndarray of float64
        Seconds per request (``start``/``finish`` NaN when not served).
    group : numpy.ndarray of int32
        Group index per request, -1 when not served.
    status : numpy.ndarray of int8
        :class:`RequestStatus` codes.
    model_codes : numpy.ndarray of int32
        Index into ``model_names`` per request.
    model_names : tuple of str
        The models.
    slo : numpy.ndarray of float64
        SLO in seconds per request.
    group_names : tuple of str, default ()
        Group names, in index order.
    trace : ServeTrace, optional
        Decision times and per-stage timings, when the run recorded them
        (:meth:`~alpaserve.runtime.runtime.Runtime.serve` does).

    Examples
    --------
    >>> r = RunResult.from_columns(
    ...     arrival=[0.0, 0.1, 0.2], start=[0.0, 0.1, np.nan], finish=[0.05, 0.4, np.nan],
    ...     group=[0, 1, -1], status=[0, 0, 1], model_codes=[0, 0, 0], model_names=("m",),
    ...     slo=[0.1, 0.1, 0.1], group_names=("g0", "g1"))
    >>> round(r.attainment(), 3), r.count(RequestStatus.DROPPED)
    (0.333, 1)
    """

    arrival: npt.NDArray[np.float64]
    start: npt.NDArray[np.float64]
    finish: npt.NDArray[np.float64]
    group: npt.NDArray[np.int32]
    status: npt.NDArray[np.int8]
    model_codes: npt.NDArray[np.int32]
    model_names: tuple[str, ...]
    slo: npt.NDArray[np.float64]
    group_names: tuple[str, ...] = ()
    trace: ServeTrace | None = None

    @classmethod
    def from_columns(cls, *, arrival: Any, start: Any, finish: Any, group: Any, status: Any,
                     model_codes: Any, model_names: Sequence[str], slo: Any,
                     group_names: Sequence[str] = (),
                     trace: ServeTrace | None = None) -> RunResult:
        """Build a result from array-likes, converting and checking the columns.

        Parameters
        ----------
        arrival, start, finish, group, status, model_codes, slo : array_like
            One value per request (see the class parameters).
        model_names : sequence of str
            The models.
        group_names : sequence of str, default ()
            The groups.
        trace : ServeTrace, optional
            The run's per-stage timings.

        Returns
        -------
        RunResult
            Read-only columns of equal length.

        Raises
        ------
        SpecError
            When a column's shape differs from ``arrival``'s or a status code is unknown.
        """
        out = cls(arrival=_frozen(arrival, np.float64), start=_frozen(start, np.float64),
                  finish=_frozen(finish, np.float64), group=_frozen(group, np.int32),
                  status=_frozen(status, np.int8), model_codes=_frozen(model_codes, np.int32),
                  model_names=tuple(model_names), slo=_frozen(slo, np.float64),
                  group_names=tuple(group_names), trace=trace)
        n = out.arrival.shape[0]
        for name in ("start", "finish", "group", "status", "model_codes", "slo"):
            if getattr(out, name).shape != (n,):
                raise SpecError(f"RunResult.{name} has shape {getattr(out, name).shape}, "
                                f"expected ({n},)")
        if trace is not None and (trace.decided.shape != (n,)
                                  or trace.stage_begin.shape != trace.stage_end.shape
                                  or trace.stage_begin.shape[:1] != (n,)):
            raise SpecError(f"RunResult.trace does not hold {n} requests")
        bad = ~np.isin(out.status, [int(s) for s in RequestStatus])
        if bad.any():
            raise SpecError(f"RunResult.status has unknown codes "
                            f"{sorted(set(out.status[bad].tolist()))}")
        return out

    def __len__(self) -> int:
        return int(self.arrival.shape[0])

    @property
    def latency(self) -> npt.NDArray[np.float64]:
        """``finish - arrival`` (NaN for requests that did not run)."""
        return latency(self)

    def count(self, status: RequestStatus) -> int:
        """The number of requests with ``status``.

        Parameters
        ----------
        status : RequestStatus
            The outcome to count.

        Returns
        -------
        int
            The count.
        """
        return int(np.count_nonzero(self.status == status))

    def met_slo(self) -> npt.NDArray[np.bool_]:
        """Per request: served and finished within its SLO.

        Returns
        -------
        numpy.ndarray of bool
            One flag per request.
        """
        return met_slo(self)

    def attainment(self) -> float:
        """Fraction of all requests served within their SLO (1.0 for no requests).

        Returns
        -------
        float
            In ``[0, 1]``.
        """
        return attainment(self)

    def to_sim_result(self) -> SimResult:
        """The same outcomes as a :class:`simulator.SimResult` (with its statistics).

        Returns
        -------
        SimResult
            With the simulator's summary statistics over every request.
        """
        return SimResult.from_outcomes(
            model_names=self.model_names, group_names=self.group_names, arrival=self.arrival,
            model_codes=self.model_codes, slo=self.slo, start=self.start, finish=self.finish,
            group=self.group, status=self.status, engine="runtime")

    def to_dict(self) -> dict[str, Any]:
        """The columns as plain lists (floats keep NaN for requests not served).

        Returns
        -------
        dict
            Column name to list, plus ``model_names`` and ``group_names``.
        """
        return {name: (getattr(self, name).tolist() if isinstance(getattr(self, name),
                                                                   np.ndarray)
                       else list(getattr(self, name)))
                for name in ("arrival", "start", "finish", "group", "status", "model_codes",
                             "model_names", "slo", "group_names")}


def latency(result: ResultLike) -> npt.NDArray[np.float64]:
    """Finish minus arrival per request (NaN when not served).

    Parameters
    ----------
    result : RunResult or SimResult
        Per-request outcomes (anything with the :class:`ResultLike` columns).

    Returns
    -------
    numpy.ndarray of float64
        Seconds.
    """
    return np.asarray(result.finish, dtype=np.float64) - np.asarray(result.arrival, np.float64)


def met_slo(result: ResultLike) -> npt.NDArray[np.bool_]:
    """Per request: served and finished within ``slo`` of its arrival.

    Parameters
    ----------
    result : RunResult or SimResult
        Per-request outcomes (anything with the :class:`ResultLike` columns).

    Returns
    -------
    numpy.ndarray of bool
        One flag per request.
    """
    lat = latency(result)
    served = np.asarray(result.status) == RequestStatus.SERVED
    with np.errstate(invalid="ignore"):
        return served & (lat <= np.asarray(result.slo, dtype=np.float64))


def attainment(result: ResultLike, mask: npt.NDArray[np.bool_] | None = None) -> float:
    """SLO attainment over all requests, or over those selected by ``mask``.

    Parameters
    ----------
    result : RunResult or SimResult
        Per-request outcomes (anything with the :class:`ResultLike` columns).
    mask : numpy.ndarray of bool, optional
        Which requests count; all by default.

    Returns
    -------
    float
        In ``[0, 1]``; 1.0 when no request is selected.
    """
    ok = met_slo(result)
    if mask is not None:
        ok = ok[mask]
    return float(ok.mean()) if ok.size else 1.0
