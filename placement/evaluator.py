"""Fast, repeated evaluation of candidate placements on one prepared workload.

Placement search scores thousands of placements that differ by one replica. The
:class:`Evaluator` holds the workload as flat arrays (arrival, model code, deadline) and runs
the compiled loop in :mod:`placement._kernel`, either once (with per-model and per-replica
good counts) or on a batch of one-move variants of a base placement (add a replica, drop a
replica, or both) in a single compiled call.

The semantics are the simulator's without batching (see :mod:`placement._kernel`); a
replica may be limited to a time window (``active_from``/``active_until``) and become usable
only at ``ready_at``, which is how time-varying placements with model-load delays are scored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SimulationError
from placement import _kernel, incremental
from placement.incremental import RunTrace
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


@dataclass(frozen=True, kw_only=True)
class Replica:
    """Model ``model`` (an index) served by group ``group`` with these stage latencies.

    Parameters
    ----------
    model : int
        Index into the evaluator's model names.
    group : int
        Index into the evaluator's groups.
    latencies : tuple of float
        Stage latencies in seconds, one per stage of the group (already inflated).
    active_from, active_until : float
        The replica takes requests arriving in ``[active_from, active_until)`` seconds;
        default always.
    ready_at : float
        Seconds before which the replica cannot start work (a model load); default
        ``-inf``.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 1.0], model=["a", "a"])
    >>> ev = Evaluator(prepare_workload(w, ["a"], slo=0.5), group_stages=[1])
    >>> ev.evaluate([Replica(model=0, group=0, latencies=(0.1,), ready_at=0.5)]).good
    1
    """

    model: int
    group: int
    latencies: tuple[float, ...]
    active_from: float = -math.inf
    active_until: float = math.inf
    ready_at: float = -math.inf


@dataclass(frozen=True, kw_only=True)
class Move:
    """A one-step change of a base placement: drop base replica ``skip`` and/or add one.

    Parameters
    ----------
    skip : int
        Index of the base replica to drop, in sorted (model, group) order; -1 for none.
    add_model : int
        Model index of the replica to add; -1 for none.
    add_group : int
        Group index of the replica to add.
    add_latencies : tuple of float
        Its stage latencies in seconds, one per stage of ``add_group``.

    Examples
    --------
    See :meth:`Evaluator.evaluate_moves`.
    """

    skip: int = -1
    add_model: int = -1
    add_group: int = -1
    add_latencies: tuple[float, ...] = ()


@dataclass(frozen=True, kw_only=True, eq=False)
class ReplicaArrays:
    """Replicas as flat arrays sorted by (model, group); ``ptr`` is the per-model CSR index.

    Build one with :meth:`build` or :meth:`Evaluator.arrays`.

    Parameters
    ----------
    model, group : numpy.ndarray of int64, shape (R,)
        Per replica: its model and group index.
    latencies : numpy.ndarray of float64, shape (R, S)
        Per replica: stage latencies in seconds, zero-padded to the widest group.
    ptr : numpy.ndarray of int64, shape (M + 1,)
        Model ``m``'s replicas are ``ptr[m]:ptr[m + 1]``.
    active_from, active_until, ready_at : numpy.ndarray of float64, shape (R,)
        Per replica: as in :class:`Replica`, in seconds.

    Examples
    --------
    See :meth:`build`.
    """

    model: npt.NDArray[np.int64]
    group: npt.NDArray[np.int64]
    latencies: npt.NDArray[np.float64]
    ptr: npt.NDArray[np.int64]
    active_from: npt.NDArray[np.float64]
    active_until: npt.NDArray[np.float64]
    ready_at: npt.NDArray[np.float64]

    @classmethod
    def build(cls, *, model: npt.NDArray[np.int64], group: npt.NDArray[np.int64],
              latencies: npt.NDArray[np.float64], num_models: int,
              active_from: npt.NDArray[np.float64] | None = None,
              active_until: npt.NDArray[np.float64] | None = None,
              ready_at: npt.NDArray[np.float64] | None = None) -> ReplicaArrays:
        """From arrays already sorted by (model, group).

        Parameters
        ----------
        model, group : numpy.ndarray of int64, shape (R,)
            Per replica: its model and group index.
        latencies : numpy.ndarray of float64, shape (R, S)
            Per replica: stage latencies in seconds, zero-padded.
        num_models : int
            Models the ``ptr`` index covers.
        active_from, active_until, ready_at : numpy.ndarray of float64, optional
            Per replica, in seconds; default ``-inf``, ``inf`` and ``-inf``.

        Returns
        -------
        ReplicaArrays
            The arrays, contiguous, with ``ptr`` computed.

        Examples
        --------
        >>> ra = ReplicaArrays.build(model=np.array([0, 2]), group=np.array([0, 0]),
        ...                          latencies=np.ones((2, 1)), num_models=3)
        >>> ra.ptr.tolist(), ra.size
        ([0, 1, 1, 2], 2)
        """
        n = model.shape[0]
        ptr = np.zeros(num_models + 1, dtype=np.int64)
        ptr[1:] = np.cumsum(np.bincount(model, minlength=num_models))
        return cls(model=np.ascontiguousarray(model, dtype=np.int64),
                   group=np.ascontiguousarray(group, dtype=np.int64),
                   latencies=np.ascontiguousarray(latencies, dtype=np.float64), ptr=ptr,
                   active_from=np.full(n, -math.inf) if active_from is None else active_from,
                   active_until=np.full(n, math.inf) if active_until is None else active_until,
                   ready_at=np.full(n, -math.inf) if ready_at is None else ready_at)

    @property
    def size(self) -> int:
        """Number of replicas."""
        return int(self.model.shape[0])


@dataclass(frozen=True, kw_only=True, eq=False)
class EvalOutcome:
    """Good requests overall, per model and per replica (in :class:`ReplicaArrays` order).

    Parameters
    ----------
    good : int
        Requests served within their SLO.
    good_per_model : numpy.ndarray of int64, shape (M,)
        Good requests per model.
    good_per_replica : numpy.ndarray of int64, shape (R,)
        Good requests per replica, in the order of ``arrays``.
    arrays : ReplicaArrays
        The placement evaluated.
    trace : RunTrace, optional
        What the run did request by request; a later evaluation of a similar placement
        re-simulates only what differs (see :mod:`placement.incremental`).

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 0.05, 1.0], model=["a", "a", "b"])
    >>> ev = Evaluator(prepare_workload(w, ["a", "b"], slo=0.12), group_stages=[1])
    >>> out = ev.evaluate([Replica(model=m, group=0, latencies=(0.1,)) for m in (0, 1)])
    >>> out.good, out.good_per_model.tolist(), out.good_per_replica.tolist()
    (2, [1, 1], [1, 1])
    """

    good: int
    good_per_model: npt.NDArray[np.int64]
    good_per_replica: npt.NDArray[np.int64]
    arrays: ReplicaArrays
    trace: RunTrace | None = None


@dataclass(frozen=True, kw_only=True, eq=False)
class DetailedOutcome:
    """Per-request status (0 served, 1 dropped, 2 unserved), start, finish and group.

    Parameters
    ----------
    status : numpy.ndarray of int8, shape (n,)
        0 served, 1 dropped, 2 unserved.
    start, finish : numpy.ndarray of float64, shape (n,)
        Stage-0 start and finish in seconds (finish includes the overhead); NaN unless
        served.
    group : numpy.ndarray of int32, shape (n,)
        The group dispatched to; -1 when unserved.
    good : int
        Requests served within their SLO.

    Examples
    --------
    See :meth:`Evaluator.detailed`.
    """

    status: npt.NDArray[np.int8]
    start: npt.NDArray[np.float64]
    finish: npt.NDArray[np.float64]
    group: npt.NDArray[np.int32]
    good: int


class Evaluator:
    """Scores placements of ``prepared``'s models on groups with ``group_stages`` stages.

    Parameters
    ----------
    prepared : EvalWorkload
        The workload, prepared with the same ``options`` (its deadlines hold the overhead).
    group_stages : Sequence[int]
        Stages of each group (each >= 1, at least one group); replicas index the groups.
    options : EvalOptions, optional
        Dispatch rule and admission; default ``EvalOptions()``.

    Raises
    ------
    SimulationError
        If ``group_stages`` is empty or has a count below 1.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 0.05, 0.1], model=["a", "a", "a"])
    >>> ev = Evaluator(prepare_workload(w, ["a"], slo=0.15), group_stages=[1, 1])
    >>> ev.evaluate([Replica(model=0, group=0, latencies=(0.1,))]).good
    2
    >>> ev.evaluate([Replica(model=0, group=g, latencies=(0.1,)) for g in (0, 1)]).good
    3
    """

    def __init__(self, prepared: EvalWorkload, *, group_stages: Sequence[int],
                 options: EvalOptions | None = None) -> None:
        self.prepared = prepared
        self.options = options or EvalOptions()
        self.group_stages = np.asarray(group_stages, dtype=np.int64)
        if self.group_stages.size == 0 or self.group_stages.min() < 1:
            raise SimulationError(f"group_stages must be positive, got {list(group_stages)}")
        self.max_stages = int(self.group_stages.max())
        self.mode = DISPATCH_MODES[self.options.dispatch]
        self.num_evaluations = 0
        self._patch: tuple[RunTrace, npt.NDArray[np.int64]] | None = None

    def patch_buffers(self) -> tuple[RunTrace, npt.NDArray[np.int64]]:
        """Scratch space for a patch of a trace (see :mod:`placement.incremental`).

        Allocated once and reused, so that a run touches only the memory it records.

        Returns
        -------
        tuple of (RunTrace, numpy.ndarray of int64)
            Record arrays with a row per request, and the list of the requests recorded.

        Examples
        --------
        >>> w = Workload.from_arrays(arrival=[0.0, 0.05], model=["a", "a"])
        >>> ev = Evaluator(prepare_workload(w, ["a"], slo=0.12), group_stages=[1, 1])
        >>> ev.patch_buffers()[0].state.shape, ev.patch_buffers() is ev.patch_buffers()
        ((2, 1), True)
        """
        if self._patch is None:
            n = self.prepared.num_requests
            self._patch = (RunTrace(owner=None, group=np.empty(n, np.int32),
                                    rank=np.empty(n, np.int32), good=np.empty(n, np.int8),
                                    state=np.empty((n, self.max_stages))),
                           np.empty(n, dtype=np.int64))
        return self._patch

    @property
    def num_models(self) -> int:
        """Models of the prepared workload."""
        return len(self.prepared.model_names)

    # ------------------------------------------------------------------ arrays
    def arrays(self, replicas: Sequence[Replica]) -> ReplicaArrays:
        """Replicas sorted by (model, group) as flat arrays.

        Parameters
        ----------
        replicas : Sequence[Replica]
            The placement; ties keep their given order.

        Returns
        -------
        ReplicaArrays
            The sorted arrays.

        Raises
        ------
        SimulationError
            If a replica's model or group is out of range, or its stage count differs from
            its group's.

        Examples
        --------
        >>> w = Workload.from_arrays(arrival=[0.0], model=["b"])
        >>> ev = Evaluator(prepare_workload(w, ["a", "b"], slo=0.5), group_stages=[1, 1])
        >>> ra = ev.arrays([Replica(model=1, group=0, latencies=(0.1,)),
        ...                 Replica(model=0, group=1, latencies=(0.2,))])
        >>> ra.model.tolist(), ra.group.tolist(), ra.ptr.tolist()
        ([0, 1], [1, 0], [0, 1, 2])
        """
        order = sorted(range(len(replicas)), key=lambda i: (replicas[i].model,
                                                            replicas[i].group, i))
        reps = [replicas[i] for i in order]
        n = len(reps)
        model = np.empty(n, dtype=np.int64)
        group = np.empty(n, dtype=np.int64)
        lat = np.zeros((n, self.max_stages), dtype=np.float64)
        a_from, a_until, ready = np.empty(n), np.empty(n), np.empty(n)
        for i, r in enumerate(reps):
            if not 0 <= r.model < self.num_models or not 0 <= r.group < self.group_stages.size:
                raise SimulationError(f"replica {r} is outside the evaluator's models/groups")
            if len(r.latencies) != self.group_stages[r.group]:
                raise SimulationError(f"replica of model {r.model} on group {r.group} has "
                                      f"{len(r.latencies)} stages, the group has "
                                      f"{self.group_stages[r.group]}")
            model[i], group[i] = r.model, r.group
            lat[i, :len(r.latencies)] = r.latencies
            a_from[i], a_until[i], ready[i] = r.active_from, r.active_until, r.ready_at
        return ReplicaArrays.build(model=model, group=group, latencies=lat,
                                   num_models=self.num_models,
                                   active_from=a_from, active_until=a_until, ready_at=ready)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, replicas: Sequence[Replica] | ReplicaArrays, *,
                 reference: EvalOutcome | None = None, trace: bool = True,
                 consume: bool = False) -> EvalOutcome:
        """Simulate one placement (given as replicas, or as sorted :class:`ReplicaArrays`).

        Parameters
        ----------
        replicas : Sequence[Replica] or ReplicaArrays
            The placement.
        reference : EvalOutcome, optional
            An earlier outcome of this evaluator on a similar placement: only the requests
            the differences can reach are re-simulated (:mod:`placement.incremental`); the
            result is the same as without it.
        trace : bool, default True
            Record the run's :class:`~placement.incremental.RunTrace`, so that the outcome
            can be a later evaluation's ``reference`` (a run against a reference always
            records one). With a single group there is none: every request shares it, so a
            change reaches them all and a plain run is faster.
        consume : bool, default False
            Take over ``reference``'s trace (only what differs is rewritten) instead of
            copying it; ``reference`` then cannot be a reference again. For a search that
            moves on from one placement to the next.

        Returns
        -------
        EvalOutcome
            Good requests overall, per model and per replica, and the trace when recorded.

        Raises
        ------
        SimulationError
            As :meth:`arrays`, for replicas out of range.

        Examples
        --------
        >>> w = Workload.from_arrays(arrival=[0.0, 0.05], model=["a", "a"])
        >>> ev = Evaluator(prepare_workload(w, ["a"], slo=0.12), group_stages=[1, 1])
        >>> out = ev.evaluate([Replica(model=0, group=0, latencies=(0.1,))])
        >>> two = [Replica(model=0, group=g, latencies=(0.1,)) for g in (0, 1)]
        >>> out.good, ev.evaluate(two, reference=out).good, ev.num_evaluations
        (1, 2, 2)
        """
        ra = replicas if isinstance(replicas, ReplicaArrays) else self.arrays(replicas)
        self.num_evaluations += 1
        if (trace and self.group_stages.size > 1) or incremental.usable(self, reference):
            good, good_pm, rep_good, run = incremental.run(self, ra, reference,
                                                           consume=consume)
            return EvalOutcome(good=good, good_per_model=good_pm, good_per_replica=rep_good,
                               arrays=ra, trace=run)
        p = self.prepared
        free = np.zeros((self.group_stages.size, self.max_stages))
        good_pm = np.zeros(self.num_models, dtype=np.int64)
        rep_good = np.zeros(ra.size + 1, dtype=np.int64)
        d_i8, d_f, d_i32 = np.zeros(1, np.int8), np.zeros(1), np.zeros(1, np.int32)
        total = _kernel.run_once(p.arrival, p.code, p.deadline, self.group_stages, ra.ptr,
                                 ra.group, ra.latencies, ra.active_from, ra.active_until,
                                 ra.ready_at, -1, -1, 0, np.zeros(self.max_stages), self.mode,
                                 self.options.admission, free, good_pm, rep_good, False, d_i8,
                                 d_f, d_f, d_i32, d_i32)
        return EvalOutcome(good=int(total), good_per_model=good_pm,
                           good_per_replica=rep_good[:ra.size], arrays=ra)

    def evaluate_moves(self, replicas: Sequence[Replica] | ReplicaArrays | EvalOutcome,
                       moves: Sequence[Move]) -> npt.NDArray[np.int64]:
        """Good counts of each one-move variant of a base placement.

        Parameters
        ----------
        replicas : Sequence[Replica], ReplicaArrays or EvalOutcome
            The base placement; given as this evaluator's outcome of it, each variant
            re-simulates only what its move can reach (the counts are the same).
        moves : Sequence[Move]
            The variants; ``Move.skip`` indexes the base replicas in sorted (model, group)
            order, the order of :class:`ReplicaArrays`.

        Returns
        -------
        numpy.ndarray of int64, shape (len(moves),)
            Good requests of each variant.

        Raises
        ------
        SimulationError
            If an added replica has the wrong number of stages.

        Examples
        --------
        >>> w = Workload.from_arrays(arrival=[0.0, 0.05, 0.1], model=["a", "a", "a"])
        >>> ev = Evaluator(prepare_workload(w, ["a"], slo=0.15), group_stages=[1, 1])
        >>> base = [Replica(model=0, group=0, latencies=(0.1,))]
        >>> moves = [Move(skip=0), Move(add_model=0, add_group=1, add_latencies=(0.1,))]
        >>> ev.evaluate_moves(base, moves), ev.evaluate_moves(ev.evaluate(base), moves)
        (array([0, 3]), array([0, 3]))
        """
        if not moves:
            return np.zeros(0, dtype=np.int64)
        if isinstance(replicas, EvalOutcome):
            ra = replicas.arrays
        else:
            ra = replicas if isinstance(replicas, ReplicaArrays) else self.arrays(replicas)
        c = len(moves)
        skip = np.empty(c, dtype=np.int64)
        model = np.empty(c, dtype=np.int64)
        grp = np.empty(c, dtype=np.int64)
        clat = np.zeros((c, self.max_stages))
        for i, mv in enumerate(moves):
            skip[i], model[i] = mv.skip, mv.add_model
            grp[i] = max(mv.add_group, 0)
            if mv.add_model >= 0:
                if len(mv.add_latencies) != self.group_stages[mv.add_group]:
                    raise SimulationError(f"move {mv} has the wrong number of stages")
                clat[i, :len(mv.add_latencies)] = mv.add_latencies
        self.num_evaluations += c
        if isinstance(replicas, EvalOutcome) and incremental.usable(self, replicas):
            return incremental.run_moves(self, replicas, skip, model, grp, clat)
        p = self.prepared
        out = _kernel.run_candidates(p.arrival, p.code, p.deadline, self.group_stages, ra.ptr,
                                     ra.group, ra.latencies, ra.active_from, ra.active_until,
                                     ra.ready_at, skip, model, grp, clat, self.mode,
                                     self.options.admission, self.num_models)
        return np.asarray(out, dtype=np.int64)

    def detailed(self, replicas: Sequence[Replica] | ReplicaArrays) -> DetailedOutcome:
        """Per-request outcomes of one placement (for building a ``SimResult``).

        Parameters
        ----------
        replicas : Sequence[Replica] or ReplicaArrays
            The placement.

        Returns
        -------
        DetailedOutcome
            Status, start, finish (overhead included) and group of every request.

        Examples
        --------
        >>> w = Workload.from_arrays(arrival=[0.0, 0.05], model=["a", "a"])
        >>> ev = Evaluator(prepare_workload(w, ["a"], slo=0.12), group_stages=[1])
        >>> d = ev.detailed([Replica(model=0, group=0, latencies=(0.1,))])
        >>> d.status.tolist(), d.finish.tolist(), d.group.tolist(), d.good
        ([0, 1], [0.1, nan], [0, 0], 1)
        """
        ra = replicas if isinstance(replicas, ReplicaArrays) else self.arrays(replicas)
        p = self.prepared
        n = p.num_requests
        status = np.zeros(n, dtype=np.int8)
        start = np.full(n, np.nan)
        finish = np.full(n, np.nan)
        out_group = np.full(n, -1, dtype=np.int32)
        out_rep = np.full(n, -1, dtype=np.int32)
        free = np.zeros((self.group_stages.size, self.max_stages))
        good_pm = np.zeros(self.num_models, dtype=np.int64)
        rep_good = np.zeros(ra.size + 1, dtype=np.int64)
        good = _kernel.run_once(p.arrival, p.code, p.deadline, self.group_stages, ra.ptr,
                                ra.group, ra.latencies, ra.active_from, ra.active_until,
                                ra.ready_at, -1, -1, 0,
                                np.zeros(self.max_stages), self.mode, self.options.admission,
                                free, good_pm, rep_good, True, status, start, finish,
                                out_group, out_rep)
        self.num_evaluations += 1
        served = status == 0
        finish[served] += self.options.overhead
        return DetailedOutcome(status=status, start=start, finish=finish, group=out_group,
                               good=int(good))
