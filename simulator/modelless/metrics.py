"""Outcomes of a model-less simulation: per-query results, worker bills, scaling events.

:meth:`ModellessResult.summary` gives SLO violations, throughput, the accuracy delivered
(mean and minimum), dollar cost by hardware type, load events and variant switches over a
measurement window; :meth:`ModellessResult.timeline` bins the same quantities over time (the
variant mix and the cost rate by hardware).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SimulationError
from alpaserve.modelless.queries import ModellessQueries

MET, LATE, BELOW_ACCURACY, FALLBACK, DROPPED = 0, 1, 2, 3, 4
OUTCOMES = ("met", "late", "below_accuracy", "fallback", "dropped")


@dataclass(frozen=True, kw_only=True)
class WorkerRecord:
    """One worker's life: billed from ``requested_at`` to ``stopped_at`` (None: still up).

    Parameters
    ----------
    worker : int
        Worker id.
    hardware : str
        Its hardware type.
    price_per_hour : float
        Dollars per hour.
    requested_at : float
        Seconds; billing starts here.
    ready_at : float
        Seconds; end of its start-up.
    stopped_at : float or None
        Seconds; billing ends here (None: still up at the end).
    """

    worker: int
    hardware: str
    price_per_hour: float
    requested_at: float
    ready_at: float
    stopped_at: float | None

    def billed_seconds(self, start: float, end: float) -> float:
        """Seconds billed within ``[start, end)``.

        Parameters
        ----------
        start : float
            Window start, seconds.
        end : float
            Window end, seconds.

        Returns
        -------
        float
            Seconds (>= 0).
        """
        stop = end if self.stopped_at is None else min(self.stopped_at, end)
        return max(0.0, stop - max(start, self.requested_at))


@dataclass(frozen=True, kw_only=True)
class ScalingEvent:
    """``kind`` is worker_start, worker_stop, replica_load, replica_drain or replica_unload;
    ``reason`` is the policy's (``switch-up``/``switch-down`` mark model-vertical switches).

    Parameters
    ----------
    time : float
        Seconds.
    kind : str
        See above.
    task : str
        Task of the replica ('' for worker events).
    variant : str
        Variant name (the hardware name for worker events).
    worker : int
        Worker id.
    replica : int
        Replica id (-1 for worker events).
    reason : str
        The policy's reason.
    """

    time: float
    kind: str
    task: str
    variant: str
    worker: int
    replica: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class ModellessSummary:
    """Aggregates over queries arriving in ``[start, end)`` and bills over the same window.

    Parameters
    ----------
    start : float
        Window start, seconds.
    end : float
        Window end, seconds.
    queries : int
        Queries arriving in the window.
    met : int
        Served within their SLO by a variant meeting their floor.
    late : int
        Served after their SLO.
    below_accuracy : int
        Served by a variant below their floor.
    fallback : int
        Served by INFaaS's rule 3 as a known miss.
    dropped : int
        Refused, or still queued at the end.
    throughput : float
        Queries served per second of the window.
    mean_accuracy : float
        Mean top-1 accuracy of the variants that served them, percent (NaN: none served).
    min_accuracy : float
        Lowest such accuracy, percent (NaN: none served).
    cost : float
        Dollars billed in the window.
    cost_by_hardware : dict of str to float
        The same, per hardware type.
    worker_starts : int
        Workers started in the window.
    load_events : int
        Replicas loaded in the window.
    variant_switches : int
        Loads made by a model-vertical switch.
    served_by_variant : dict of str to int
        Queries served by each variant.
    """

    start: float
    end: float
    queries: int
    met: int
    late: int
    below_accuracy: int
    fallback: int
    dropped: int
    throughput: float
    mean_accuracy: float
    min_accuracy: float
    cost: float
    cost_by_hardware: dict[str, float]
    worker_starts: int
    load_events: int
    variant_switches: int
    served_by_variant: dict[str, int]

    @property
    def violations(self) -> int:
        """Queries that missed their SLO or accuracy floor, fell back, or were dropped."""
        return self.queries - self.met

    @property
    def attainment(self) -> float:
        """Fraction of the queries that met their SLO and floor (1.0 for no queries)."""
        return self.met / self.queries if self.queries else 1.0

    def to_dict(self) -> dict[str, Any]:
        """The fields plus ``violations`` and ``attainment``, JSON-ready.

        Returns
        -------
        dict
            Field names to values; a NaN accuracy (no query served) becomes None.
        """
        out = asdict(self)
        out["violations"] = self.violations
        out["attainment"] = self.attainment
        for key in ("mean_accuracy", "min_accuracy"):
            if isinstance(out[key], float) and out[key] != out[key]:
                out[key] = None
        return out


@dataclass(frozen=True, eq=False, kw_only=True)
class ModellessResult:
    """Per-query outcomes (``status`` codes: see ``OUTCOMES``), worker records, events.

    Parameters
    ----------
    queries : ModellessQueries
        The queries simulated.
    status : numpy.ndarray
        Outcome code per query (index into ``OUTCOMES``).
    completion : numpy.ndarray
        Completion time per query, seconds (NaN if dropped).
    variant_code : numpy.ndarray
        Index into ``variant_names`` of the variant that served it (-1: none).
    variant_names : tuple of str
        Variant names (``task/name`` with several tasks).
    variant_accuracy : numpy.ndarray
        Top-1 accuracy of each variant, percent.
    variant_hardware : tuple of str
        Hardware of each variant.
    workers : tuple of WorkerRecord
        Every worker started.
    events : tuple of ScalingEvent
        Scaling events in time order.
    horizon : float
        End of the billing window, seconds.
    unserved : int
        Queries still queued after the drain limit (counted as dropped).
    """

    queries: ModellessQueries
    status: npt.NDArray[np.int8]
    completion: npt.NDArray[np.float64]
    variant_code: npt.NDArray[np.int32]
    variant_names: tuple[str, ...]
    variant_accuracy: npt.NDArray[np.float64]
    variant_hardware: tuple[str, ...]
    workers: tuple[WorkerRecord, ...]
    events: tuple[ScalingEvent, ...]
    horizon: float
    unserved: int

    def counts(self) -> dict[str, int]:
        """How many queries ended in each outcome; they sum to the number of queries.

        Returns
        -------
        dict of str to int
            Outcome name to count.
        """
        binc = np.bincount(self.status.astype(np.int64), minlength=len(OUTCOMES))
        return {name: int(c) for name, c in zip(OUTCOMES, binc, strict=True)}

    def _window(self, start: float, end: float | None) -> tuple[float, float]:
        stop = max(self.horizon, start) if end is None else end
        if not stop >= start:
            raise SimulationError(f"summary window end {stop!r} precedes its start {start!r}")
        return start, stop

    def cost(self, start: float = 0.0, end: float | None = None) -> dict[str, float]:
        """Dollars billed per hardware type in ``[start, end)``.

        Parameters
        ----------
        start : float
            Window start, seconds.
        end : float or None
            Window end, seconds; None: the horizon.

        Returns
        -------
        dict of str to float
            Hardware name to dollars.

        Raises
        ------
        SimulationError
            If ``end < start``.
        """
        lo, hi = self._window(start, end)
        out: dict[str, float] = {}
        for w in self.workers:
            out[w.hardware] = out.get(w.hardware, 0.0) + (
                w.billed_seconds(lo, hi) * w.price_per_hour / 3600.0)
        return out

    def summary(self, start: float = 0.0, end: float | None = None) -> ModellessSummary:
        """Metrics over queries arriving in ``[start, end)`` (default: from ``start`` on).

        A warm-up can be left out by passing ``start``.

        Parameters
        ----------
        start : float
            Window start, seconds.
        end : float or None
            Window end, seconds; None: every later arrival, billed up to the horizon.

        Returns
        -------
        ModellessSummary
            The window's aggregates.

        Raises
        ------
        SimulationError
            If ``end < start``.
        """
        lo, hi = self._window(start, end)
        arr = self.queries.arrival
        sel = (arr >= lo) & ((arr < hi) if end is not None else True)
        st = self.status[sel]
        counts = np.bincount(st.astype(np.int64), minlength=len(OUTCOMES))
        served = st != DROPPED
        codes = self.variant_code[sel][served & (self.variant_code[sel] >= 0)]
        acc = self.variant_accuracy[codes] if codes.size else np.empty(0)
        per_variant = np.bincount(codes, minlength=len(self.variant_names))
        cost = self.cost(lo, hi)
        ev = [e for e in self.events if lo <= e.time < hi]
        return ModellessSummary(
            start=lo, end=hi, queries=int(sel.sum()), met=int(counts[MET]),
            late=int(counts[LATE]), below_accuracy=int(counts[BELOW_ACCURACY]),
            fallback=int(counts[FALLBACK]), dropped=int(counts[DROPPED]),
            throughput=float(codes.size / (hi - lo)) if hi > lo else 0.0,
            mean_accuracy=float(acc.mean()) if acc.size else float("nan"),
            min_accuracy=float(acc.min()) if acc.size else float("nan"),
            cost=float(sum(cost.values())), cost_by_hardware=cost,
            worker_starts=sum(1 for e in ev if e.kind == "worker_start"),
            load_events=sum(1 for e in ev if e.kind == "replica_load"),
            variant_switches=sum(1 for e in ev if e.kind == "replica_load"
                                 and e.reason.startswith("switch")),
            served_by_variant={name: int(c) for name, c
                               in zip(self.variant_names, per_variant, strict=True) if c},
        )

    def timeline(self, bin_seconds: float = 10.0) -> dict[str, Any]:
        """Per-bin arrays over ``[0, horizon)``: ``time`` (bin starts), ``arrivals``,
        ``violations``, ``served`` (variant → counts by arrival bin), ``cost_rate``
        (hardware → $/hour averaged over the bin) and ``workers`` (hardware → mean count).

        Parameters
        ----------
        bin_seconds : float
            Bin width, seconds (> 0).

        Returns
        -------
        dict
            The arrays described above.

        Raises
        ------
        SimulationError
            If ``bin_seconds`` is not positive.

        Examples
        --------
        >>> from alpaserve.modelless.registry import example_registry
        >>> from simulator.modelless.simulate import simulate_modelless
        >>> from simulator.modelless.policy import Load, Route
        >>> q = ModellessQueries.from_arrays(arrival=[0.0, 35.0], task="image-classification",
        ...                                  slo=0.3, min_accuracy=0.0)
        >>> class Pick:
        ...     def select(self, query, cluster):
        ...         live = cluster.accepting_replicas(query.task)
        ...         return Route(replica=live[0].id) if live else Load(variant="resnet50-tf-cpu")
        >>> t = simulate_modelless(q, example_registry(), selection=Pick()).timeline(20.0)
        >>> t["time"].tolist(), t["served"]["resnet50-tf-cpu"].tolist()
        ([0.0, 20.0], [1, 1])
        >>> [round(float(x), 3) for x in t["cost_rate"]["cpu-c5.xlarge"]]
        [0.17, 0.17]
        """
        if not bin_seconds > 0:
            raise SimulationError(f"bin_seconds must be positive, got {bin_seconds!r}")
        nbins = max(1, int(np.ceil(self.horizon / bin_seconds)))
        edges = np.arange(nbins + 1) * bin_seconds
        arr = self.queries.arrival
        b = np.clip((arr // bin_seconds).astype(np.int64), 0, nbins - 1)
        arrivals = np.bincount(b, minlength=nbins)
        violations = np.bincount(b[self.status != MET], minlength=nbins)
        served: dict[str, npt.NDArray[np.int64]] = {}
        ok = self.variant_code >= 0
        for code in np.unique(self.variant_code[ok]):
            mask = self.variant_code == code
            served[self.variant_names[int(code)]] = np.bincount(b[mask], minlength=nbins)
        cost_rate: dict[str, npt.NDArray[np.float64]] = {}
        workers: dict[str, npt.NDArray[np.float64]] = {}
        tops = np.minimum(edges[1:], max(self.horizon, bin_seconds))
        lengths = tops - edges[:-1]
        for w in self.workers:
            alive = np.array([w.billed_seconds(lo, hi) for lo, hi
                              in zip(edges[:-1], tops, strict=True)]) / lengths
            workers[w.hardware] = workers.get(w.hardware, np.zeros(nbins)) + alive
            cost_rate[w.hardware] = (cost_rate.get(w.hardware, np.zeros(nbins))
                                     + alive * w.price_per_hour)
        return {"time": edges[:-1], "arrivals": arrivals, "violations": violations,
                "served": served, "cost_rate": cost_rate, "workers": workers}
