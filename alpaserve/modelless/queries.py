"""Model-less queries: each request names a task and its requirements, not a model.

A :class:`ModellessQueries` wraps a :class:`~workloads.workload.Workload` whose ``model``
column holds task names and whose ``slo`` column holds each query's latency SLO, and adds the
minimum top-1 accuracy (percent) each query accepts. Arrival processes to build one from a
rate profile are in :mod:`alpaserve.modelless.loads`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from alpaserve.errors import WorkloadError
from workloads.workload import Workload

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False, kw_only=True)
class ModellessQueries:
    """Queries with a task, a latency SLO and a minimum accuracy each.


    Parameters
    ----------
    workload : Workload
        Arrivals (seconds); its ``model`` column holds task names and its ``slo`` column
        (required) each query's latency SLO, seconds.
    min_accuracy : numpy.ndarray
        Each query's minimum top-1 accuracy, percent in [0, 100] (0: no floor).

    Raises
    ------
    WorkloadError
        If the workload has no SLO column, or ``min_accuracy`` has the wrong shape or a value
        outside [0, 100].

    Examples
    --------
    >>> q = ModellessQueries.from_arrays(arrival=[0.2, 0.1], task="classify", slo=0.3,
    ...                                  min_accuracy=[75.0, 70.0])
    >>> len(q), q.tasks, q.min_accuracy.tolist(), q.workload.arrival.tolist()
    (2, ('classify',), [70.0, 75.0], [0.1, 0.2])
    """

    workload: Workload
    min_accuracy: FloatArray

    def __post_init__(self) -> None:
        n = len(self.workload)
        if self.workload.slo is None:
            raise WorkloadError("model-less queries need an slo column in their workload")
        acc = np.asarray(self.min_accuracy, dtype=np.float64)
        if acc.shape != (n,):
            raise WorkloadError(f"min_accuracy has shape {acc.shape}, expected ({n},)")
        if n and (not np.all(np.isfinite(acc)) or acc.min() < 0 or acc.max() > 100):
            bad = int(np.flatnonzero(~(np.isfinite(acc) & (acc >= 0) & (acc <= 100)))[0])
            raise WorkloadError(f"min_accuracy[{bad}] is {float(acc[bad])!r}; it must be a top-1 "
                                "accuracy in percent, within [0, 100]")
        acc = np.ascontiguousarray(acc)
        acc.flags.writeable = False
        object.__setattr__(self, "min_accuracy", acc)

    @classmethod
    def from_arrays(cls, *, arrival: npt.ArrayLike, task: npt.ArrayLike | str,
                    slo: npt.ArrayLike | float, min_accuracy: npt.ArrayLike | float
                    ) -> ModellessQueries:
        """Validate and sort (stably, by arrival) the given columns.


        Parameters
        ----------
        arrival : array_like
            Arrival times, seconds (any order).
        task : array_like or str
            Task per query, or one task for all.
        slo : array_like or float
            Latency SLO per query, or one for all, seconds.
        min_accuracy : array_like or float
            Accuracy floor per query, or one for all, top-1 percent.

        Returns
        -------
        ModellessQueries
            The queries, sorted by arrival (ties keep their order).

        Raises
        ------
        WorkloadError
            If a column is invalid.
        """
        arr = np.asarray(arrival, dtype=np.float64).ravel()
        n = arr.size
        acc = np.broadcast_to(np.asarray(min_accuracy, dtype=np.float64), (n,)).copy()
        order = np.argsort(arr, kind="stable")
        workload = Workload.from_arrays(arrival=arr, model=task, slo=slo)
        return cls(workload=workload, min_accuracy=acc[order])

    def __len__(self) -> int:
        return len(self.workload)

    def __repr__(self) -> str:
        return f"ModellessQueries({self.workload!r})"

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.workload.model_names

    @property
    def arrival(self) -> FloatArray:
        return self.workload.arrival

    @property
    def slo(self) -> FloatArray:
        slo = self.workload.slo
        if slo is None:  # excluded by __post_init__; keeps the type checker honest
            raise WorkloadError("model-less queries need an slo column")
        return slo

    def task_of(self, index: int) -> str:
        """The task of the query at ``index``.

        Parameters
        ----------
        index : int
            Position of a query (in arrival order).

        Returns
        -------
        str
            Its task.
        """
        return self.workload.model_names[int(self.workload.model_codes[index])]

    def to_dict(self) -> dict[str, Any]:
        """Plain columns (for JSON or a data frame).


        Returns
        -------
        dict
            ``arrival``, ``task``, ``slo`` and ``min_accuracy``, each a list.
        """
        return {"arrival": self.arrival.tolist(),
                "task": self.workload.models_of().tolist(),
                "slo": self.slo.tolist(), "min_accuracy": self.min_accuracy.tolist()}
