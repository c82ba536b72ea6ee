"""A workload encoded once for many simulations: :class:`PreparedWorkload`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SimulationError
from workloads.workload import Workload

SloSpec = float | Mapping[str, float] | None


@dataclass(frozen=True, kw_only=True, eq=False)
class PreparedWorkload:
    """Contiguous arrays of one workload, shared by every placement evaluated on it.

    ``deadline = arrival + slo`` is computed once. Arrays are read-only.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 1.0], model=["a", "b"])
    >>> p = prepare(w, slo={"a": 0.5, "b": 2.0})
    >>> p.deadline.tolist(), p.model_names, len(p)
    ([0.5, 3.0], ('a', 'b'), 2)
    """

    model_names: tuple[str, ...]
    arrival: npt.NDArray[np.float64]
    model_codes: npt.NDArray[np.int32]
    slo: npt.NDArray[np.float64]
    deadline: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.arrival.shape[0])


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
    if workload.slo is not None:
        slo_arr = np.ascontiguousarray(workload.slo, dtype=np.float64)
        if len(slo_arr) and not np.all(slo_arr > 0):
            bad = int(np.flatnonzero(~(slo_arr > 0))[0])
            raise SimulationError(f"workload slo[{bad}] is {slo_arr[bad]!r}; SLOs must be "
                                  "positive")
        deadline = arrival + slo_arr
    else:
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
        slo_arr = np.empty(len(arrival))
        deadline = np.empty(len(arrival))
        from simulator import fast  # numba loads on first use, not on `import simulator`

        if fast.HAVE_NUMBA:
            fast.slo_kernel(arrival, codes, per_model, slo_arr, deadline)
        else:
            slo_arr[:] = per_model[codes]
            np.add(arrival, slo_arr, out=deadline)
    for col in (arrival, codes, slo_arr, deadline):
        col.flags.writeable = False
    return PreparedWorkload(model_names=tuple(workload.model_names), arrival=arrival,
                            model_codes=codes, slo=slo_arr, deadline=deadline)
