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
from placement import _kernel
from simulator.prepared import prepare
from simulator.semantics import inflate_stage
from workloads.workload import Workload

DISPATCH_MODES = {"earliest-finish": 0, "alpaserve": 1}


@dataclass(frozen=True, kw_only=True)
class EvalOptions:
    """Simulation settings the search scores with (a subset of the simulator's options).

    ``overhead`` is added to every finish time before the SLO check; every stage latency is
    multiplied by ``1 + stage_inflation × number_of_stages`` (in float32 with
    ``float32_latencies``, as the simulator's option of that name). :meth:`alpaserve_compatible`
    gives the reference implementation's fast-path constants.

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
        return cls(dispatch="alpaserve", admission=True, overhead=0.011, stage_inflation=0.009)

    def inflate(self, latencies: Sequence[float]) -> tuple[float, ...]:
        factor = 1.0 + self.stage_inflation * len(latencies)
        if self.float32_latencies:
            return inflate_stage(latencies, factor, True)
        return tuple(float(x) * factor for x in latencies)


@dataclass(frozen=True, kw_only=True, eq=False)
class PreparedWorkload:
    """A workload as flat arrays with a deadline per request, for one list of models."""

    model_names: tuple[str, ...]
    arrival: npt.NDArray[np.float64]
    code: npt.NDArray[np.int32]
    slo: npt.NDArray[np.float64]
    deadline: npt.NDArray[np.float64]
    counts: npt.NDArray[np.int64]

    @property
    def num_requests(self) -> int:
        return int(self.arrival.shape[0])

    @property
    def duration(self) -> float:
        return float(self.arrival[-1] - self.arrival[0]) if self.num_requests > 1 else 0.0

    def rates(self) -> npt.NDArray[np.float64]:
        """Requests per second of each model over the workload's span."""
        span = max(self.duration, 1e-9)
        return self.counts.astype(np.float64) / span


def prepare_workload(workload: Workload, model_names: Sequence[str], *,
                     slo: float | Mapping[str, float] | None = None,
                     options: EvalOptions | None = None) -> PreparedWorkload:
    """Map ``workload``'s models onto ``model_names`` and compute each request's deadline.

    A model of the workload that is not in ``model_names`` raises ``SimulationError``.

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
    return PreparedWorkload(
        model_names=names, arrival=base.arrival, code=code, slo=base.slo,
        deadline=base.deadline - opts.overhead,
        counts=np.bincount(code, minlength=len(names)).astype(np.int64))


@dataclass(frozen=True, kw_only=True)
class Replica:
    """Model ``model`` (an index) served by group ``group`` with these stage latencies."""

    model: int
    group: int
    latencies: tuple[float, ...]
    active_from: float = -math.inf
    active_until: float = math.inf
    ready_at: float = -math.inf


@dataclass(frozen=True, kw_only=True)
class Move:
    """A one-step change of a base placement: drop base replica ``skip`` and/or add one."""

    skip: int = -1
    add_model: int = -1
    add_group: int = -1
    add_latencies: tuple[float, ...] = ()


@dataclass(frozen=True, kw_only=True, eq=False)
class ReplicaArrays:
    """Replicas as flat arrays sorted by (model, group); ``ptr`` is the per-model CSR index."""

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
        """From arrays already sorted by (model, group)."""
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
        return int(self.model.shape[0])


@dataclass(frozen=True, kw_only=True, eq=False)
class EvalOutcome:
    """Good requests overall, per model and per replica (in :class:`ReplicaArrays` order)."""

    good: int
    good_per_model: npt.NDArray[np.int64]
    good_per_replica: npt.NDArray[np.int64]
    arrays: ReplicaArrays


@dataclass(frozen=True, kw_only=True, eq=False)
class DetailedOutcome:
    """Per-request status (0 served, 1 dropped, 2 unserved), start, finish and group."""

    status: npt.NDArray[np.int8]
    start: npt.NDArray[np.float64]
    finish: npt.NDArray[np.float64]
    group: npt.NDArray[np.int32]
    good: int


class Evaluator:
    """Scores placements of ``prepared``'s models on groups with ``group_stages`` stages.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 0.05, 0.1], model=["a", "a", "a"])
    >>> ev = Evaluator(prepare_workload(w, ["a"], slo=0.15), group_stages=[1, 1])
    >>> ev.evaluate([Replica(model=0, group=0, latencies=(0.1,))]).good
    2
    >>> ev.evaluate([Replica(model=0, group=g, latencies=(0.1,)) for g in (0, 1)]).good
    3
    """

    def __init__(self, prepared: PreparedWorkload, *, group_stages: Sequence[int],
                 options: EvalOptions | None = None) -> None:
        self.prepared = prepared
        self.options = options or EvalOptions()
        self.group_stages = np.asarray(group_stages, dtype=np.int64)
        if self.group_stages.size == 0 or self.group_stages.min() < 1:
            raise SimulationError(f"group_stages must be positive, got {list(group_stages)}")
        self.max_stages = int(self.group_stages.max())
        self._mode = DISPATCH_MODES[self.options.dispatch]
        self.num_evaluations = 0

    @property
    def num_models(self) -> int:
        return len(self.prepared.model_names)

    # ------------------------------------------------------------------ arrays
    def arrays(self, replicas: Sequence[Replica]) -> ReplicaArrays:
        """Replicas sorted by (model, group) as flat arrays."""
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
    def evaluate(self, replicas: Sequence[Replica] | ReplicaArrays) -> EvalOutcome:
        """Simulate one placement (given as replicas, or as sorted :class:`ReplicaArrays`)."""
        ra = replicas if isinstance(replicas, ReplicaArrays) else self.arrays(replicas)
        p = self.prepared
        free = np.zeros((self.group_stages.size, self.max_stages))
        good_pm = np.zeros(self.num_models, dtype=np.int64)
        rep_good = np.zeros(ra.size + 1, dtype=np.int64)
        d_i8, d_f, d_i32 = np.zeros(1, np.int8), np.zeros(1), np.zeros(1, np.int32)
        good = _kernel.run_once(p.arrival, p.code, p.deadline, self.group_stages, ra.ptr,
                                ra.group, ra.latencies, ra.active_from, ra.active_until,
                                ra.ready_at, -1, -1, 0, np.zeros(self.max_stages), self._mode,
                                self.options.admission, free, good_pm, rep_good, False, d_i8,
                                d_f, d_f, d_i32, d_i32)
        self.num_evaluations += 1
        return EvalOutcome(good=int(good), good_per_model=good_pm,
                           good_per_replica=rep_good[:ra.size], arrays=ra)

    def evaluate_moves(self, replicas: Sequence[Replica] | ReplicaArrays,
                       moves: Sequence[Move]) -> npt.NDArray[np.int64]:
        """Good counts of each one-move variant of a base placement.

        ``Move.skip`` indexes the base replicas in sorted (model, group) order, the order of
        :class:`ReplicaArrays`.
        """
        if not moves:
            return np.zeros(0, dtype=np.int64)
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
        p = self.prepared
        out = _kernel.run_candidates(p.arrival, p.code, p.deadline, self.group_stages, ra.ptr,
                                     ra.group, ra.latencies, ra.active_from, ra.active_until,
                                     ra.ready_at, skip, model, grp, clat, self._mode,
                                     self.options.admission, self.num_models)
        self.num_evaluations += c
        return np.asarray(out, dtype=np.int64)

    def detailed(self, replicas: Sequence[Replica] | ReplicaArrays) -> DetailedOutcome:
        """Per-request outcomes of one placement (for building a ``SimResult``)."""
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
                                np.zeros(self.max_stages), self._mode, self.options.admission,
                                free, good_pm, rep_good, True, status, start, finish,
                                out_group, out_rep)
        self.num_evaluations += 1
        served = status == 0
        finish[served] += self.options.overhead
        return DetailedOutcome(status=status, start=start, finish=finish, group=out_group,
                               good=int(good))
