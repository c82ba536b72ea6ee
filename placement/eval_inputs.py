"""What the placement evaluator scores with: its options and the workload as flat arrays.

:class:`EvalOptions` is the subset of the simulator's options a search scores with;
:func:`prepare_workload` turns a :class:`~workloads.workload.Workload` into an
:class:`EvalWorkload` (arrival, model code and deadline per request) for one list of models.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SimulationError
from simulator.prepared import prepare
from simulator.semantics import inflate_stage
from workloads.workload import Workload

DISPATCH_MODES = {"earliest-finish": 0, "alpaserve": 1}


@dataclass(frozen=True, kw_only=True)
class EvalOptions:
    """Simulation settings the search scores with (a subset of the simulator's options).

    :meth:`alpaserve_compatible` gives the reference implementation's fast-path constants.

    Parameters
    ----------
    dispatch : {'earliest-finish', 'alpaserve'}
        Dispatch rule, as in :class:`~simulator.options.SimulationOptions`.
    admission : bool
        Drop a request at once when it is predicted to miss its SLO.
    overhead : float
        Seconds (>= 0) added to every finish time before the SLO check.
    stage_inflation : float
        Every stage latency is multiplied by ``1 + stage_inflation × number_of_stages``
        (>= 0; applied by :meth:`inflate`).
    float32_latencies : bool
        Round the inflated latencies to float32, as the simulator's option of that name.

    Raises
    ------
    SimulationError
        For an unknown dispatch rule or a negative or non-finite number.

    Examples
    --------
    >>> EvalOptions.alpaserve_compatible().overhead
    0.011
    """

    dispatch: str = "earliest-finish"
    admission: bool = True
    overhead: float = 0.0
    stage_inflation: float = 0.0
    float32_latencies: bool = False

    def __post_init__(self) -> None:
        if self.dispatch not in DISPATCH_MODES:
            raise SimulationError(f"dispatch must be one of {sorted(DISPATCH_MODES)}, "
                                  f"got {self.dispatch!r}")
        for name in ("overhead", "stage_inflation"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                raise SimulationError(f"EvalOptions.{name} must be >= 0, got {v!r}")

    @classmethod
    def alpaserve_compatible(cls) -> EvalOptions:
        """AlpaServe's fast-path model: its dispatch rule, 11 ms per request, 0.9 % per stage.

        Returns
        -------
        EvalOptions
            ``dispatch="alpaserve"``, ``overhead=0.011``, ``stage_inflation=0.009``.

        Examples
        --------
        >>> EvalOptions.alpaserve_compatible().dispatch
        'alpaserve'
        """
        return cls(dispatch="alpaserve", admission=True, overhead=0.011, stage_inflation=0.009)

    def inflate(self, latencies: Sequence[float]) -> tuple[float, ...]:
        """Stage latencies with the pipeline communication overhead applied.

        Parameters
        ----------
        latencies : Sequence[float]
            A replica's stage latencies in seconds, one per stage.

        Returns
        -------
        tuple of float
            Each multiplied by ``1 + stage_inflation * len(latencies)``.

        Examples
        --------
        >>> EvalOptions(stage_inflation=0.5).inflate([1.0, 2.0])
        (2.0, 4.0)
        """
        factor = 1.0 + self.stage_inflation * len(latencies)
        if self.float32_latencies:
            return inflate_stage(latencies, factor, True)
        return tuple(float(x) * factor for x in latencies)


@dataclass(frozen=True, kw_only=True, eq=False)
class EvalWorkload:
    """A workload as flat arrays with a deadline per request, for one list of models.

    Build one with :func:`prepare_workload`.

    Parameters
    ----------
    model_names : tuple of str
        The placed models; ``code`` indexes them.
    arrival : numpy.ndarray of float64, shape (n,)
        Arrival times in seconds, non-decreasing.
    code : numpy.ndarray of int32, shape (n,)
        Per request: its model's index into ``model_names``.
    slo : numpy.ndarray of float64, shape (n,)
        Per request: its SLO in seconds.
    deadline : numpy.ndarray of float64, shape (n,)
        Per request: ``arrival + slo - overhead`` in seconds (the overhead of the
        :class:`EvalOptions` it was prepared with, folded in once).
    counts : numpy.ndarray of int64, shape (len(model_names),)
        Requests per model.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 1.0, 2.0], model=["a", "a", "b"])
    >>> p = prepare_workload(w, ["a", "b"], slo=0.5)
    >>> p.counts.tolist(), p.num_requests, p.duration
    ([2, 1], 3, 2.0)
    """

    model_names: tuple[str, ...]
    arrival: npt.NDArray[np.float64]
    code: npt.NDArray[np.int32]
    slo: npt.NDArray[np.float64]
    deadline: npt.NDArray[np.float64]
    counts: npt.NDArray[np.int64]

    @property
    def num_requests(self) -> int:
        """Requests in the workload."""
        return int(self.arrival.shape[0])

    @property
    def duration(self) -> float:
        """Seconds from the first arrival to the last (0 with fewer than two requests)."""
        return float(self.arrival[-1] - self.arrival[0]) if self.num_requests > 1 else 0.0

    def rates(self) -> npt.NDArray[np.float64]:
        """Requests per second of each model over the workload's span.

        Returns
        -------
        numpy.ndarray of float64, shape (len(model_names),)
            ``counts / duration`` in requests per second (the span is at least 1 ns).

        Examples
        --------
        >>> w = Workload.from_arrays(arrival=[0.0, 1.0, 2.0], model=["a", "a", "b"])
        >>> prepare_workload(w, ["a", "b"], slo=0.5).rates().tolist()
        [1.0, 0.5]
        """
        span = max(self.duration, 1e-9)
        return self.counts.astype(np.float64) / span


def prepare_workload(workload: Workload, model_names: Sequence[str], *,
                     slo: float | Mapping[str, float] | None = None,
                     options: EvalOptions | None = None) -> EvalWorkload:
    """Map ``workload``'s models onto ``model_names`` and compute each request's deadline.

    Parameters
    ----------
    workload : Workload
        The requests; every model must be in ``model_names``.
    model_names : Sequence[str]
        The placed models, in the order replicas index them; may include models without
        requests.
    slo : float or Mapping[str, float], optional
        SLO in seconds (or per model) when the workload has no ``slo`` column.
    options : EvalOptions, optional
        Its ``overhead`` is folded into the deadlines; default ``EvalOptions()``.

    Returns
    -------
    EvalWorkload
        The flat arrays, with ``deadline = arrival + slo - overhead``.

    Raises
    ------
    SimulationError
        If the workload has a model not in ``model_names``, or no positive SLO is known.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 1.0], model=["b", "a"])
    >>> p = prepare_workload(w, ["a", "b"], slo={"a": 0.5, "b": 1.0})
    >>> p.code.tolist(), p.deadline.tolist()
    ([1, 0], [1.0, 1.5])
    """
    opts = options or EvalOptions()
    names = tuple(model_names)
    index = {n: i for i, n in enumerate(names)}
    unknown = [n for n in workload.model_names if n not in index]
    if unknown:
        raise SimulationError(f"workload has requests for models {unknown} that are not "
                              f"among the placed models {list(names)}")
    # SLO validation and deadlines are the simulator's; only the model order and the
    # per-request overhead are the evaluator's own.
    base = prepare(workload, slo)
    remap = np.array([index[n] for n in workload.model_names], dtype=np.int32)
    code = np.ascontiguousarray(remap[base.model_codes] if len(base) else
                                np.empty(0, np.int32), dtype=np.int32)
    return EvalWorkload(
        model_names=names, arrival=base.arrival, code=code, slo=base.slo,
        deadline=base.deadline - opts.overhead,
        counts=np.bincount(code, minlength=len(names)).astype(np.int64))
