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

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SimulationError
from placement import _kernel, incremental
from placement.eval_inputs import DISPATCH_MODES, EvalOptions, EvalWorkload, prepare_workload
from placement.incremental import RunTrace
from placement.replicas import DetailedOutcome, EvalOutcome, Move, Replica, ReplicaArrays
from workloads.workload import Workload  # noqa: F401  (the examples use it)

__all__ = ["DISPATCH_MODES", "DetailedOutcome", "EvalOptions", "EvalOutcome", "EvalWorkload",
           "Evaluator", "Move", "Replica", "ReplicaArrays", "prepare_workload"]


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
    threads : int, default 1
        Threads a batch of move variants may be split over (:meth:`run_batch`; the
        compiled kernels release the GIL). The counts are the same for any number.

    Raises
    ------
    SimulationError
        If ``group_stages`` is empty or has a count below 1, or ``threads`` is below 1.

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
                 options: EvalOptions | None = None, threads: int = 1) -> None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise SimulationError(f"threads must be an integer >= 1, got {threads!r}")
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self.prepared = prepared
        self.options = options or EvalOptions()
        self.group_stages = np.asarray(group_stages, dtype=np.int64)
        if self.group_stages.size == 0 or self.group_stages.min() < 1:
            raise SimulationError(f"group_stages must be positive, got {list(group_stages)}")
        self.max_stages = int(self.group_stages.max())
        self.mode = DISPATCH_MODES[self.options.dispatch]
        self.num_evaluations = 0
        self._patch: tuple[RunTrace, npt.NDArray[np.int64]] | None = None
        self._scratch: incremental.Scratch | None = None

    @property
    def scratch(self) -> incremental.Scratch:
        """Re-simulation's working memory (:class:`~placement.incremental.Scratch`)."""
        if self._scratch is None:
            self._scratch = incremental.Scratch(self)
        return self._scratch

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

    def run_batch(self, run: Callable[[slice], npt.NDArray[np.int64]], count: int
                  ) -> npt.NDArray[np.int64]:
        """``run`` over a batch of ``count`` candidates, split over :attr:`threads`.

        A batch is split into contiguous parts of at least
        :data:`~placement.incremental.MIN_PER_THREAD` candidates, one per thread, the calling
        thread taking the first; smaller batches (or ``threads`` 1) run inline.

        Parameters
        ----------
        run : Callable[[slice], numpy.ndarray]
            Scores the candidates of a slice of the batch (thread-safe).
        count : int
            Candidates in the batch.

        Returns
        -------
        numpy.ndarray of int64, shape (count,)
            ``run``'s results in batch order.

        Examples
        --------
        >>> w = Workload.from_arrays(arrival=[0.0], model=["a"])
        >>> ev = Evaluator(prepare_workload(w, ["a"], slo=0.1), group_stages=[1], threads=2)
        >>> ev.run_batch(lambda sl: np.arange(sl.start, sl.stop) * 10, 9).tolist()
        [0, 10, 20, 30, 40, 50, 60, 70, 80]
        """
        parts = min(self.threads, count // incremental.MIN_PER_THREAD)
        if parts <= 1:
            return np.asarray(run(slice(0, count)), dtype=np.int64)
        if self._pool is None:  # the caller's thread runs a part too
            self._pool = ThreadPoolExecutor(max_workers=self.threads - 1)
        cut = [count * k // parts for k in range(parts + 1)]
        futures = [self._pool.submit(run, slice(cut[k], cut[k + 1])) for k in range(1, parts)]
        first = run(slice(cut[0], cut[1]))
        return np.concatenate([np.asarray(first, dtype=np.int64)]
                              + [np.asarray(f.result(), dtype=np.int64) for f in futures])

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
        return self.evaluate_move_arrays(replicas, skip, model, grp, clat)

    def evaluate_move_arrays(self, replicas: Sequence[Replica] | ReplicaArrays | EvalOutcome,
                             skip: npt.NDArray[np.int64], model: npt.NDArray[np.int64],
                             group: npt.NDArray[np.int64], latencies: npt.NDArray[np.float64]
                             ) -> npt.NDArray[np.int64]:
        """:meth:`evaluate_moves` with the moves given as arrays (no :class:`Move` objects).

        Parameters
        ----------
        replicas : Sequence[Replica], ReplicaArrays or EvalOutcome
            The base placement, as for :meth:`evaluate_moves`.
        skip, model, group : numpy.ndarray of int64, shape (C,)
            Per move: the base replica dropped (-1: none), the model added (-1: none) and
            its group (any valid group when none is added).
        latencies : numpy.ndarray of float64, shape (C, max_stages)
            The added replicas' stage latencies, zero past their group's stage count (the
            caller keeps them consistent with the groups: they are not checked here).

        Returns
        -------
        numpy.ndarray of int64, shape (C,)
            Good requests of each variant.

        Examples
        --------
        >>> w = Workload.from_arrays(arrival=[0.0, 0.05, 0.1], model=["a", "a", "a"])
        >>> ev = Evaluator(prepare_workload(w, ["a"], slo=0.15), group_stages=[1, 1])
        >>> base = ev.evaluate([Replica(model=0, group=0, latencies=(0.1,))])
        >>> ev.evaluate_move_arrays(base, np.array([0, -1]), np.array([-1, 0]),
        ...                         np.array([0, 1]), np.array([[0.0], [0.1]]))
        array([0, 3])
        """
        c = skip.shape[0]
        if c == 0:
            return np.zeros(0, dtype=np.int64)
        self.num_evaluations += c
        if isinstance(replicas, EvalOutcome) and incremental.usable(self, replicas):
            return incremental.run_moves(self, replicas, skip, model, group, latencies)
        if isinstance(replicas, EvalOutcome):
            ra = replicas.arrays
        else:
            ra = replicas if isinstance(replicas, ReplicaArrays) else self.arrays(replicas)
        p = self.prepared

        def run(sl: slice) -> npt.NDArray[np.int64]:
            return _kernel.run_candidates(p.arrival, p.code, p.deadline, self.group_stages,
                                          ra.ptr, ra.group, ra.latencies, ra.active_from,
                                          ra.active_until, ra.ready_at, skip[sl], model[sl],
                                          group[sl], latencies[sl], self.mode,
                                          self.options.admission, self.num_models)

        return self.run_batch(run, c)

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
