"""A workload encoded once for many simulations: :class:`PreparedWorkload`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import cast

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SimulationError
from workloads.workload import Workload

SloSpec = float | Mapping[str, float] | None


@dataclass(frozen=True, kw_only=True, eq=False)
class PreparedWorkload:
    """Contiguous arrays of one workload, shared by every placement evaluated on it.

    SLOs come per request (``request_slo``) or per model (``slo_of_model[m]`` for every
    request of model ``m``). The per-request ``slo`` and ``deadline = arrival + slo`` are
    formed on first use and kept; the fast engine's common case forms deadlines on the fly
    from ``slo_of_model`` instead, so one simulation does not pay for them. Arrays are
    read-only. Build one with :func:`prepare` rather than by hand.

    Parameters
    ----------
    model_names : tuple of str
        Model names; code ``m`` in ``model_codes`` means ``model_names[m]``.
    arrival : numpy.ndarray of float64, shape (n,)
        Arrival times in seconds, non-decreasing.
    model_codes : numpy.ndarray of int32, shape (n,)
        Per request: the index of its model in ``model_names``.
    slo_of_model : numpy.ndarray of float64, shape (len(model_names),), optional
        Per model: the SLO in seconds of each of its requests.
    request_slo : numpy.ndarray of float64, shape (n,), optional
        Per request: its SLO in seconds. Exactly one of ``slo_of_model`` and
        ``request_slo`` is given.

    Raises
    ------
    SimulationError
        If neither or both SLO forms are given, or one has the wrong shape.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 1.0], model=["a", "b"])
    >>> p = prepare(w, slo={"a": 0.5, "b": 2.0})
    >>> p.deadline.tolist(), p.model_names, len(p), p.slo_of_model.tolist()
    ([0.5, 3.0], ('a', 'b'), 2, [0.5, 2.0])
    """

    model_names: tuple[str, ...]
    arrival: npt.NDArray[np.float64]
    model_codes: npt.NDArray[np.int32]
    slo_of_model: npt.NDArray[np.float64] | None = None
    request_slo: npt.NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        if (self.slo_of_model is None) == (self.request_slo is None):
            raise SimulationError("a PreparedWorkload needs exactly one of slo_of_model and "
                                  "request_slo")
        n, M = len(self), len(self.model_names)
        if self.slo_of_model is not None and self.slo_of_model.shape != (M,):
            raise SimulationError(f"slo_of_model has shape {self.slo_of_model.shape}, "
                                  f"expected ({M},)")
        if self.request_slo is not None and self.request_slo.shape != (n,):
            raise SimulationError(f"request_slo has shape {self.request_slo.shape}, "
                                  f"expected ({n},)")

    def __len__(self) -> int:
        return int(self.arrival.shape[0])

    def kernel_deadlines(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The deadlines in the form the compiled kernels take them.

        Returns
        -------
        deadline : numpy.ndarray of float64
            With per-model SLOs an empty array (the kernels form ``arrival + slo`` on the
            fly), else the per-request deadlines in seconds, shape ``(n,)``.
        slo_of_model : numpy.ndarray of float64
            With per-model SLOs the SLO of each model in seconds, else an empty array.

        Examples
        --------
        >>> w = Workload.from_arrays(arrival=[0.0, 1.0], model=["a", "a"])
        >>> d, s = prepare(w, slo=0.5).kernel_deadlines()
        >>> d.tolist(), s.tolist()
        ([], [0.5])
        """
        if self.slo_of_model is not None:
            return np.empty(0), self.slo_of_model
        return self.deadline, np.empty(0)

    def deadlines(self, begin: int, end: int) -> npt.NDArray[np.float64]:
        """``deadline[begin:end]``, without forming the whole array for per-model SLOs.

        Parameters
        ----------
        begin, end : int
            Request index range, as in a slice.

        Returns
        -------
        numpy.ndarray of float64
            ``arrival + slo`` in seconds for requests ``begin`` to ``end - 1``.

        Examples
        --------
        >>> w = Workload.from_arrays(arrival=[0.0, 1.0, 2.0], model=["a", "a", "a"])
        >>> prepare(w, slo=0.5).deadlines(1, 3).tolist()
        [1.5, 2.5]
        """
        if self.slo_of_model is None:
            return self.deadline[begin:end]
        return self.arrival[begin:end] + self.slo_of_model[self.model_codes[begin:end]]

    @cached_property
    def slo(self) -> npt.NDArray[np.float64]:
        """Per request: its SLO in seconds."""
        return per_request_slos(self.request_slo, self.slo_of_model, self.model_codes)

    @cached_property
    def deadline(self) -> npt.NDArray[np.float64]:
        """Per request: ``arrival + slo`` (the one addition every engine compares with)."""
        out = self.arrival + self.slo
        out.flags.writeable = False
        return out


def per_request_slos(request_slo: npt.NDArray[np.float64] | None,
                     slo_of_model: npt.NDArray[np.float64] | None,
                     model_codes: npt.NDArray[np.int32]) -> npt.NDArray[np.float64]:
    """Per-request SLOs (read-only) from whichever of the two forms is given.

    Parameters
    ----------
    request_slo : numpy.ndarray of float64 or None
        Per-request SLOs in seconds, returned as they are when ``slo_of_model`` is None.
    slo_of_model : numpy.ndarray of float64 or None
        Per-model SLOs in seconds; takes precedence when given.
    model_codes : numpy.ndarray of int32
        Per request: its model's index into ``slo_of_model``.

    Returns
    -------
    numpy.ndarray of float64
        The SLO in seconds of every request, shape ``(len(model_codes),)``.

    Examples
    --------
    >>> per_request_slos(None, np.array([0.5, 2.0]), np.array([1, 0, 1])).tolist()
    [2.0, 0.5, 2.0]
    """
    if slo_of_model is None:
        return cast(npt.NDArray[np.float64], request_slo)
    out = slo_of_model[model_codes]
    out.flags.writeable = False
    return out


def _check_slo(slo: SloSpec) -> None:
    values = list(slo.values()) if isinstance(slo, Mapping) else [slo]
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v) or v <= 0:
            raise SimulationError(f"SLO must be a positive number of seconds, got {v!r}"
                                  + (f" in {dict(slo)!r}" if isinstance(slo, Mapping) else ""))


def prepare(workload: Workload, slo: SloSpec = None) -> PreparedWorkload:
    """Encode ``workload`` once for many simulations.

    Parameters
    ----------
    workload : Workload
        The requests; its own ``slo`` column, when present, takes precedence over ``slo``.
    slo : float or Mapping[str, float], optional
        SLO in seconds for every request, or per model name; used only when the workload
        has no ``slo`` column. Must then cover every model and be positive.

    Returns
    -------
    PreparedWorkload
        Read-only contiguous arrays of the workload.

    Raises
    ------
    SimulationError
        If ``workload`` is not a :class:`Workload`, an SLO is not positive, a model has
        no SLO, or no SLO is known at all.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 1.0], model=["a", "b"])
    >>> prepare(w, slo=0.25).slo.tolist()
    [0.25, 0.25]
    """
    if not isinstance(workload, Workload):
        raise SimulationError(f"expected a Workload, got {workload!r}")
    arrival = np.ascontiguousarray(workload.arrival, dtype=np.float64)
    codes = np.ascontiguousarray(workload.model_codes, dtype=np.int32)
    for col in (arrival, codes):
        col.flags.writeable = False
    if workload.slo is not None:
        slo_arr = np.ascontiguousarray(workload.slo, dtype=np.float64)
        if len(slo_arr) and not np.all(slo_arr > 0):
            bad = int(np.flatnonzero(~(slo_arr > 0))[0])
            raise SimulationError(f"workload slo[{bad}] is {slo_arr[bad]!r}; SLOs must be "
                                  "positive")
        slo_arr.flags.writeable = False
        return PreparedWorkload(model_names=tuple(workload.model_names), arrival=arrival,
                                model_codes=codes, request_slo=slo_arr)
    if slo is None:
        raise SimulationError("the workload has no slo column; pass slo= (seconds, or a "
                              "mapping model -> seconds)")
    _check_slo(slo)
    if isinstance(slo, Mapping):
        missing = [m for m in workload.model_names if m not in slo]
        if missing:
            raise SimulationError(f"no SLO given for models {missing}")
        per_model = np.array([float(slo[m]) for m in workload.model_names])
    else:
        per_model = np.full(len(workload.model_names), float(slo))
    per_model.flags.writeable = False
    return PreparedWorkload(model_names=tuple(workload.model_names), arrival=arrival,
                            model_codes=codes, slo_of_model=per_model)
