"""Incremental evaluation: re-simulate only what a changed placement can change.

A run of the :class:`~placement.evaluator.Evaluator` records a :class:`RunTrace` (per
request: the group whose stages it advanced, the replica, whether it was good, that group's
stage free times after it). A placement that differs from a traced one by a few replicas is
then re-simulated against the trace (:mod:`placement._diff_kernel`): a request is simulated
only when its model's replicas changed or one of its groups is, at that moment, in a
different state than in the traced run; every other request's outcome is the trace's. Groups
fall back in step with the trace as soon as their stage free times match it again, which
under bursty traffic happens within a few requests, so a one-replica change re-simulates a
few per cent of the requests. The counts are exactly those of a full run.

Re-simulation does not pay everywhere: when the changed models hold more than
:data:`MAX_CHANGED` of the requests the run is a full one, and the evaluator never traces a
single group (every request shares it). A search that moves on from a placement lets the
next run take over its trace (``consume``) and patch only what differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SimulationError
from placement import _diff_kernel, _sparse_kernel

if TYPE_CHECKING:
    from placement.evaluator import EvalOutcome, Evaluator, ReplicaArrays

#: Fewest candidates each thread of a split batch gets (``Evaluator.run_batch``): smaller
#: batches run inline, as handing a part to a thread costs about a candidate's simulation
MIN_PER_THREAD = 4

#: Most share of the requests whose model's replicas changed for which :func:`run`
#: re-simulates against the reference rather than from scratch (measured on the search's
#: cases: a one-replica change is 2-4x faster than a full run, a 32-replica one 2x slower)
MAX_CHANGED = 0.15


@dataclass(frozen=True, kw_only=True, eq=False)
class RunTrace:
    """What one evaluation did, request by request (the reference of later ones).

    Parameters
    ----------
    owner : object
        The evaluator that ran it (a trace is only reused by its own evaluator).
    group : numpy.ndarray of int32, shape (n,)
        The group whose stages each request advanced; -1 when dropped or unserved.
    rank : numpy.ndarray of int32, shape (n,)
        The replica that served it, as its rank among its model's replicas (in
        :class:`~placement.evaluator.ReplicaArrays` order); -1 when dropped or unserved.
    good : numpy.ndarray of int8, shape (n,)
        1 when the request was served within its SLO.
    state : numpy.ndarray of float64, shape (n, S)
        That group's stage free times after the request (unused columns and rows of
        requests that advanced nothing are undefined).
    alive : numpy.ndarray of bool, shape (1,)
        False once a later run has taken over the arrays (``consume``): the trace can no
        longer be a reference.

    Examples
    --------
    >>> from placement.evaluator import Evaluator, Replica, prepare_workload
    >>> from workloads.workload import Workload
    >>> w = Workload.from_arrays(arrival=[0.0, 0.05], model=["a", "a"])
    >>> ev = Evaluator(prepare_workload(w, ["a"], slo=0.12), group_stages=[1, 1])
    >>> tr = ev.evaluate([Replica(model=0, group=0, latencies=(0.1,))]).trace
    >>> tr.group.tolist(), tr.good.tolist(), float(tr.state[0, 0])
    ([0, -1], [1, 0], 0.1)
    """

    owner: object
    group: npt.NDArray[np.int32]
    rank: npt.NDArray[np.int32]
    good: npt.NDArray[np.int8]
    state: npt.NDArray[np.float64]
    alive: npt.NDArray[np.bool_] = field(default_factory=lambda: np.ones(1, dtype=bool))


def usable(ev: Evaluator, reference: EvalOutcome | None) -> bool:
    """Whether ``reference`` carries a trace ``ev`` can re-simulate against.

    Parameters
    ----------
    ev : Evaluator
        The evaluator.
    reference : EvalOutcome, optional
        An earlier outcome.

    Returns
    -------
    bool
        True when the outcome has a live trace of ``ev`` itself.
    """
    return reference is not None and reference.trace is not None \
        and reference.trace.owner is ev and bool(reference.trace.alive[0])


class Scratch:
    """Per-evaluator working memory of re-simulation, allocated once and reused.

    It holds the workload's requests listed by model (for the sparse kernel,
    :mod:`placement._sparse_kernel`), the latest reference's requests listed by group
    (shared by the variants of one reference, rebuilt when the reference changes) and the
    kernels' scratch arrays.

    Parameters
    ----------
    ev : Evaluator
        The evaluator it serves.

    Examples
    --------
    >>> from placement.evaluator import Evaluator, Replica, prepare_workload
    >>> from workloads.workload import Workload
    >>> w = Workload.from_arrays(arrival=[0.0, 0.05, 1.0], model=["a", "a", "b"])
    >>> ev = Evaluator(prepare_workload(w, ["a", "b"], slo=0.12), group_stages=[1, 1])
    >>> ev.scratch.mids.tolist(), ev.scratch.mptr.tolist()
    ([0, 1, 2], [0, 2, 3])
    """

    def __init__(self, ev: Evaluator) -> None:
        n_grp, n_st, n_m = ev.group_stages.size, ev.max_stages, ev.num_models
        self.mptr, self.mids = _sparse_kernel.request_lists(ev.prepared.code, n_m)
        self._ref: RunTrace | None = None
        self.lptr = np.zeros(n_grp + 1, np.int64)
        self.lids = np.zeros(ev.prepared.num_requests, np.int64)
        self.fill = np.zeros(n_grp, np.int64)
        self.built = np.zeros(1, np.bool_)
        self.free = np.zeros((n_grp, n_st))
        self.div = np.zeros(n_grp, np.bool_)
        self.synced = np.zeros(n_grp, np.int64)
        self.gcur = np.zeros(n_grp, np.int64)
        self.last = np.zeros(n_grp, np.int64)
        self.aff = np.zeros(n_m, np.int64)
        self.heap = np.zeros(n_m, np.int64)
        self.key = np.zeros(n_m, np.int64)
        self.mcur = np.zeros(n_m, np.int64)
        self.dmask = np.zeros(1, np.uint64)
        self.tmp = np.zeros(n_st)
        self.zst = np.zeros(n_st)
        self.count = np.zeros(1, np.int64)
        self.no_list = np.zeros(0, np.int64)

    def serves(self, trace: RunTrace) -> bool:
        """Whether ``trace`` is the reference whose variants were scored last.

        Parameters
        ----------
        trace : RunTrace
            A trace of the evaluator.

        Returns
        -------
        bool
            True when :meth:`reference` was last asked for ``trace``: a run against it then
            takes the sparse kernel (a single run against another reference walks every
            request, which is faster than looking up many groups' states after jumps).
        """
        return self._ref is trace

    def reference(self, trace: RunTrace) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                                                  npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """The buffers of ``trace``'s requests listed by group (built by the kernel on first
        need, and kept while the reference is the same trace).

        Parameters
        ----------
        trace : RunTrace
            A live trace of the evaluator.

        Returns
        -------
        tuple of numpy.ndarray
            ``lptr``, ``lids``, ``fill`` and ``built`` for :mod:`placement._sparse_kernel`.
        """
        if self._ref is not trace:
            self._ref = trace
            self.built[0] = False
        return self.lptr, self.lids, self.fill, self.built


def run(ev: Evaluator, ra: ReplicaArrays, reference: EvalOutcome | None, *,
        consume: bool = False
        ) -> tuple[int, npt.NDArray[np.int64], npt.NDArray[np.int64], RunTrace]:
    """Simulate ``ra`` in full, or against ``reference``'s trace when :func:`usable`.

    Parameters
    ----------
    ev : Evaluator
        Its workload, groups and options.
    ra : ReplicaArrays
        The placement.
    reference : EvalOutcome, optional
        An earlier outcome of ``ev`` (any placement on its groups).
    consume : bool, default False
        Write this run's trace over the reference's (only the requests that differ), which
        then stops being usable; otherwise the reference's trace is copied.

    Returns
    -------
    tuple of (int, numpy.ndarray, numpy.ndarray, RunTrace)
        Good requests, good per model, good per replica (in ``ra``'s order) and the trace
        of this run.

    Examples
    --------
    >>> from placement.evaluator import Evaluator, Replica, prepare_workload
    >>> from workloads.workload import Workload
    >>> w = Workload.from_arrays(arrival=[0.0, 0.05, 1.0], model=["a", "a", "b"])
    >>> ev = Evaluator(prepare_workload(w, ["a", "b"], slo=0.12), group_stages=[1, 1])
    >>> one = ev.evaluate([Replica(model=0, group=0, latencies=(0.1,))])
    >>> two = ev.arrays([Replica(model=0, group=g, latencies=(0.1,)) for g in (0, 1)])
    >>> run(ev, two, one)[:2], run(ev, two, None)[:2]
    ((2, array([2, 0])), (2, array([2, 0])))
    """
    p = ev.prepared
    n, n_grp, n_st, n_m = p.num_requests, ev.group_stages.size, ev.max_stages, ev.num_models
    gptr, gmod, gmask = _diff_kernel.group_models(n_grp, n_m, ra.model, ra.group)
    changed = np.ones(n_m, dtype=np.uint8)
    diff = usable(ev, reference)
    if reference is not None and diff:
        ref = reference.arrays
        changed = _diff_kernel.changed_models(
            n_m, ra.ptr, ra.group, ra.latencies, ra.active_from, ra.active_until,
            ra.ready_at, ref.ptr, ref.group, ref.latencies, ref.active_from,
            ref.active_until, ref.ready_at)
    # the changed models' requests are simulated, and the changes spread from them: past
    # a few per cent of the requests, a full run is faster
    diff = diff and float(p.counts[changed.astype(bool)].sum()) <= MAX_CHANGED * n
    if reference is not None and reference.trace is not None and diff:
        ref, tr = reference.arrays, reference.trace
        # the counts and the record start as the reference's; the kernel corrects them
        good_pm = reference.good_per_model.copy()
        rep_good = _diff_kernel.map_replica_counts(n_m, changed, ra.ptr, ref.ptr,
                                                   reference.good_per_replica)
        if consume:  # record what differs aside, then patch the reference's arrays
            out, rec_list = ev.patch_buffers()
        else:
            out = RunTrace(owner=ev, group=tr.group.copy(), rank=tr.rank.copy(),
                           good=tr.good.copy(), state=tr.state.copy())
            rec_list = ev.scratch.no_list
        has_ref, base, base_good = True, tr, reference.good
    else:
        changed[:] = 1
        good_pm = np.zeros(n_m, dtype=np.int64)
        rep_good = np.zeros(ra.size + 1, dtype=np.int64)
        out = RunTrace(owner=ev, group=np.empty(n, np.int32), rank=np.empty(n, np.int32),
                       good=np.empty(n, np.int8), state=np.empty((n, n_st)))
        has_ref, base_good, rec_list = False, 0, ev.scratch.no_list
        base = RunTrace(owner=None, group=np.zeros(1, np.int32), rank=np.zeros(1, np.int32),
                        good=np.zeros(1, np.int8), state=np.zeros((1, 1)))
    sc = ev.scratch
    sc.count[0] = 0
    if has_ref and sc.serves(base):  # its variants were scored: the sparse kernel pays
        lptr, lids, fill, built = sc.reference(base)
        good = _sparse_kernel.run_sparse(
            p.arrival, p.code, p.deadline, ev.group_stages, ra.ptr, ra.group, ra.latencies,
            ra.active_from, ra.active_until, ra.ready_at, -1, -1, 0, sc.zst, ev.mode,
            ev.options.admission, changed, base.group, base.rank, base.good, base.state,
            base_good, gptr, gmod, gmask, sc.mptr, sc.mids, lptr, lids, fill, built, sc.free,
            sc.div, sc.synced, sc.aff, sc.dmask, sc.tmp, sc.heap, sc.key, sc.mcur, sc.gcur,
            sc.last, good_pm, rep_good, True, True, out.group, out.rank, out.good,
            out.state, rec_list, sc.count, _sparse_kernel.CATCH_UP * n_grp)
    else:
        good = _diff_kernel.run_diff(
            p.arrival, p.code, p.deadline, ev.group_stages, ra.ptr, ra.group, ra.latencies,
            ra.active_from, ra.active_until, ra.ready_at, -1, -1, 0, sc.zst, ev.mode,
            ev.options.admission, has_ref, changed, base.group, base.rank, base.good,
            base.state, base_good, gptr, gmod, gmask, sc.free, sc.div, sc.last, sc.synced,
            sc.aff, sc.dmask, sc.tmp, good_pm, rep_good, True, True, out.group, out.rank,
            out.good, out.state, rec_list, sc.count)
    count = sc.count
    if rec_list.shape[0]:
        _diff_kernel.apply_patch(ev.group_stages, rec_list, int(count[0]), out.group,
                                 out.rank, out.good, out.state, base.group, base.rank,
                                 base.good, base.state)
        base.alive[0] = False
        out = RunTrace(owner=ev, group=base.group, rank=base.rank, good=base.good,
                       state=base.state)
    return int(good), good_pm, rep_good[:ra.size], out


def run_moves(ev: Evaluator, base: EvalOutcome, skip: npt.NDArray[np.int64],
              model: npt.NDArray[np.int64], group: npt.NDArray[np.int64],
              lat: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Good counts of one-move variants of ``base``, each simulated against its trace.

    Parameters
    ----------
    ev : Evaluator
        Its workload, groups and options.
    base : EvalOutcome
        ``ev``'s outcome of the base placement (:func:`usable`).
    skip, model, group : numpy.ndarray of int64, shape (C,)
        Per variant: the base replica dropped (or -1), the model added (or -1) and its
        group.
    lat : numpy.ndarray of float64, shape (C, S)
        The added replicas' stage latencies.

    Returns
    -------
    numpy.ndarray of int64, shape (C,)
        Good requests of each variant.

    Raises
    ------
    SimulationError
        If ``base`` has no trace of ``ev``.

    Examples
    --------
    >>> from placement.evaluator import Evaluator, Replica, prepare_workload
    >>> from workloads.workload import Workload
    >>> w = Workload.from_arrays(arrival=[0.0, 0.05, 0.1], model=["a", "a", "a"])
    >>> ev = Evaluator(prepare_workload(w, ["a"], slo=0.15), group_stages=[1, 1])
    >>> base = ev.evaluate([Replica(model=0, group=0, latencies=(0.1,))])
    >>> run_moves(ev, base, np.array([0, -1]), np.array([-1, 0]), np.array([0, 1]),
    ...           np.array([[0.0], [0.1]])).tolist()
    [0, 3]
    """
    tr = base.trace
    if tr is None or tr.owner is not ev:
        raise SimulationError("run_moves needs an outcome traced by the same evaluator")
    p, ra, sc = ev.prepared, base.arrays, ev.scratch
    gptr, gmod, gmask = _diff_kernel.group_models(ev.group_stages.size, ev.num_models,
                                                  ra.model, ra.group)
    lptr, lids, fill, built = sc.reference(tr)
    if not built[0] and min(ev.threads, skip.shape[0] // MIN_PER_THREAD) > 1:
        # the kernel builds the reference's lists on first need: not in several threads
        _sparse_kernel.lists_into(tr.group, ev.group_stages.size, lptr, lids, fill)
        built[0] = True

    def run(sl: slice) -> npt.NDArray[np.int64]:
        return _sparse_kernel.run_candidates_sparse(
            p.arrival, p.code, p.deadline, ev.group_stages, ra.ptr, ra.model, ra.group,
            ra.latencies, ra.active_from, ra.active_until, ra.ready_at, skip[sl], model[sl],
            group[sl], lat[sl], ev.mode, ev.options.admission, tr.group, tr.good, tr.state,
            base.good, gptr, gmod, gmask, sc.mptr, sc.mids, lptr, lids, fill, built,
            _sparse_kernel.CATCH_UP * ev.group_stages.size)

    return ev.run_batch(run, skip.shape[0])
