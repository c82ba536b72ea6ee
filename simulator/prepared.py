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
    read-only.

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
        """``(deadline, slo_of_model)`` as the compiled kernels take them: with per-model
        SLOs an empty ``deadline`` (the kernels form ``arrival + slo`` on the fly), else the
        per-request deadlines and an empty per-model array."""
        if self.slo_of_model is not None:
            return np.empty(0), self.slo_of_model
        return self.deadline, np.empty(0)

    def deadlines(self, begin: int, end: int) -> npt.NDArray[np.float64]:
        """``deadline[begin:end]``, without forming the whole array for per-model SLOs."""
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
    """Encode ``workload`` once; ``slo`` (scalar or per model) applies if it has no column.

    Raises :class:`SimulationError` for a non-positive SLO or when no SLO is known.
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
