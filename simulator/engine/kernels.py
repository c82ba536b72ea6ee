"""The fast engine's kernels: the rules of :mod:`simulator.semantics` as compiled loops.

Each kernel makes one pass over the requests in arrival order with no per-request Python
objects. Without batching the recurrence on ``F[g][k]`` is exact, so a request is decided and
timed the moment it arrives; with batching, a small event loop interleaves arrivals with the
batch formations of each group (``ready[g]`` is when group ``g`` next forms a batch).

Numba compiles the kernels on first use (``cache=True`` keeps the machine code between
processes). Without numba the same functions run as plain Python, which is slow but exact;
``kernel.py_func`` is the uncompiled function in both cases.

Arguments shared by both kernels: ``F`` (groups × stages, ``-inf`` initially) is updated in
place; ``out_*`` arrays are written only when ``record`` is true (otherwise they may be
empty); ``good_pm``/``count_pm`` count measured requests per model (index ``i0 <= i < i1``)
and good ones; ``busy[g]`` sums stage-seconds, clipped to ``[lo, hi]`` when ``clip``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.engine.batching import batching_kernel
from simulator.engine.common import (
    ALPASERVE,
    DROPPED,
    EARLIEST_FINISH,
    HAVE_NUMBA,
    LEAST_OUTSTANDING,
    SERVED,
    UNSERVED,
    _checkpoint,
    _clipped,
    _equivalent,
    _njit,
    _pop_exited,
    _push_pipeline,
)
from simulator.engine.stats import (
    summary_kernel,
)

__all__ = [
    "ALPASERVE",
    "DROPPED",
    "EARLIEST_FINISH",
    "HAVE_NUMBA",
    "LEAST_OUTSTANDING",
    "MAX_FIXED_STAGES",
    "SERVED",
    "UNSERVED",
    "attainment_kernels",
    "batching_kernel",
    "pipeline_kernel",
    "pipeline_kernels",
    "summary_kernel",
]


def _make_pipeline_kernel(fixed_stages: int) -> Any:
    """The kernel without batching; ``fixed_stages > 0`` makes the stage count a constant.

    A constant lets LLVM unroll the recurrence (about 1.5x faster end to end); 0 reads it
    from ``F.shape[1]`` at run time, for any width.
    """

    # nogil: attainment_many runs placements on threads at once
    @_njit(cache=True, nogil=True)
    def pipeline_kernel(arrival: Any, codes: Any, deadline: Any, cands: Any, ncand: Any,
                        nstages: Any, lat1: Any, latc: Any, F: Any, policy: int,
                        admission: bool,
                        overhead: float, record: bool, out_start: Any, out_finish: Any,
                        out_group: Any, out_status: Any, out_batch: Any, out_stage: Any,
                        record_stages: bool, i0: int, i1: int, good_pm: Any, count_pm: Any,
                        busy: Any, served_gm: Any, clip: bool, lo: float, hi: float,
                        lat_buf: Any, stats: Any) -> None:
        """Without batching: decide and time each request at its arrival.

        ``cands[m]`` lists the groups hosting ``m`` (ascending), padded to a fixed width with
        its first group; ``lat1[g, m, k]`` is the batch-1 latency, zero on padded stages, and
        ``latc[m, c, k]`` the same per candidate (``lat1[cands[m, c], m, k]``, contiguous).
        Without clipping, busy time is not summed here: ``served_gm[g, m]`` counts the requests
        each group served per model instead.

        When ``record`` is true the statistics of :func:`summary_kernel` are gathered on the way:
        ``lat_buf`` receives the measured served latencies in index order and ``stats`` becomes
        ``(served, dropped, unserved, latency_sum, max_finish)`` (counts over measured requests).

        Parameters
        ----------
        arrival : numpy.ndarray of float64, shape (n,)
            Arrival times in seconds, non-decreasing.
        codes : numpy.ndarray of int32, shape (n,)
            Per request: its model code.
        deadline : numpy.ndarray of float64, shape (n,)
            Per request: ``arrival + slo`` in seconds.
        cands, ncand : numpy.ndarray of int64
            Padded hosts per model, shape (M, width), and how many are real, shape (M,)
            (see :attr:`~simulator.semantics.PlacementTables.padded_candidates`).
        nstages : numpy.ndarray of int64, shape (G,)
            Stages per group.
        lat1, latc : numpy.ndarray of float64
            Batch-1 stage latencies in seconds, per (group, model, stage) and per (model,
            candidate, stage).
        F : numpy.ndarray of float64, shape (G, S)
            Stage free times in seconds, ``-inf`` initially; updated in place.
        policy : int
            Dispatch rule code (``POLICY_CODES`` of :mod:`simulator.semantics`).
        admission : bool
            Drop a request at once when it is predicted to miss its deadline.
        overhead : float
            Seconds added to every finish before the deadline check.
        record : bool
            Write the ``out_*`` arrays, ``lat_buf`` and ``stats`` (else they may be empty).
        out_start, out_finish : numpy.ndarray of float64, shape (n,)
            Per request: stage-0 start and finish in seconds (NaN unless served).
        out_group, out_status, out_batch : numpy.ndarray of int, shape (n,)
            Per request: group (-1 when unserved), status code and batch size (1 when
            served, else 0).
        out_stage : numpy.ndarray of float64, shape (n, S)
            Per request and stage: the start time, written when ``record_stages``.
        record_stages : bool
            Write ``out_stage``.
        i0, i1 : int
            Measured requests are ``i0 <= i < i1``.
        good_pm, count_pm : numpy.ndarray of int64, shape (M,)
            Incremented: good and measured requests per model.
        busy : numpy.ndarray of float64, shape (G,)
            Incremented with clipped stage-seconds per group when ``clip``.
        served_gm : numpy.ndarray of int64, shape (G, M)
            Incremented without ``clip``: served requests per group and model.
        clip : bool
            Clip busy time to ``[lo, hi]`` (seconds).
        lo, hi : float
            The statistics window in seconds, read when ``clip``.
        lat_buf : numpy.ndarray of float64
            Receives the measured served latencies when ``record`` (room for ``i1 - i0``).
        stats : numpy.ndarray of float64, shape (5,)
            Receives the statistics above when ``record``.
        """
        n = arrival.shape[0]
        G = nstages.shape[0]
        smax = F.shape[1] if fixed_stages == 0 else fixed_stages
        width = cands.shape[1]
        lo_policy = policy == LEAST_OUTSTANDING
        pn = n if lo_policy else 0
        pnext = np.empty(pn, dtype=np.int64)
        pexit = np.empty(pn, dtype=np.float64)
        phead = np.zeros(G, dtype=np.int64)
        ptail = np.zeros(G, dtype=np.int64)
        pcount = np.zeros(G, dtype=np.int64)
        # E[c, k]: the exit of stage k if the request went to candidate c. The winner's row is
        # copied into F on commit instead of running the recurrence a second time.
        E = np.empty((width, smax))
        n_served = 0
        n_dropped = 0
        n_unserved = 0
        lat_sum = 0.0
        max_finish = -np.inf
        for i in range(n):
            m = codes[i]
            measured = i0 <= i < i1
            if measured:
                count_pm[m] += 1
            if ncand[m] == 0:
                if record:
                    out_status[i] = UNSERVED
                    out_group[i] = -1
                    out_start[i] = np.nan
                    out_finish[i] = np.nan
                    out_batch[i] = 0
                    if measured:
                        n_unserved += 1
                continue
            t = arrival[i]
            best = 0
            if policy == EARLIEST_FINISH:
                ex = np.inf
                for c in range(width):
                    h = cands[m, c]
                    e = t
                    for k in range(smax):
                        e = max(e, F[h, k]) + latc[m, c, k]
                        E[c, k] = e
                    # branch-free selection; a strict improvement is needed, so ties keep the
                    # lower group
                    best = c if e < ex else best
                    ex = min(e, ex)
                g = cands[m, best]
            else:
                g = cands[m, 0]
                if policy == ALPASERVE:
                    key = F[g, nstages[g] - 1]
                    for c in range(1, width):
                        h = cands[m, c]
                        f = F[h, nstages[h] - 1]
                        if f < key:
                            key = f
                            g = h
                else:
                    _pop_exited(g, t, phead, pcount, pnext, pexit)
                    best_n = pcount[g]
                    for c in range(1, width):
                        h = cands[m, c]
                        _pop_exited(h, t, phead, pcount, pnext, pexit)
                        if pcount[h] < best_n:
                            best_n = pcount[h]
                            g = h
                e = t
                for k in range(smax):
                    e = max(e, F[g, k]) + lat1[g, m, k]
                    E[0, k] = e
                ex = e
            fin = ex + overhead
            if record:
                out_group[i] = g
            if admission and fin > deadline[i]:
                if record:
                    out_status[i] = DROPPED
                    out_start[i] = np.nan
                    out_finish[i] = np.nan
                    out_batch[i] = 0
                    if measured:
                        n_dropped += 1
                continue
            # commit: stage k starts at max(E[best, k - 1], F[g, k]) and frees at E[best, k]
            if record:
                out_start[i] = max(t, F[g, 0])
            if record_stages:
                e = t
                for k in range(nstages[g]):
                    out_stage[i, k] = max(e, F[g, k])
                    e = E[best, k]
            if clip:
                e = t
                for k in range(smax):
                    s = max(e, F[g, k])
                    # padded stages add 0
                    busy[g] += _clipped(s, lat1[g, m, k], clip, lo, hi)
                    e = E[best, k]
            else:
                # unclipped busy time is summed per (group, model) afterwards
                served_gm[g, m] += 1
            for k in range(smax):
                F[g, k] = E[best, k]
            if lo_policy:
                _push_pipeline(g, i, ex, phead, ptail, pcount, pnext, pexit)
            good = fin <= deadline[i]
            if measured and good:
                good_pm[m] += 1
            if record:
                out_status[i] = SERVED
                out_finish[i] = fin
                out_batch[i] = 1
                if fin > max_finish:
                    max_finish = fin
                if measured:
                    lat = fin - t
                    lat_buf[n_served] = lat
                    lat_sum += lat
                    n_served += 1
        if record:
            stats[0] = n_served
            stats[1] = n_dropped
            stats[2] = n_unserved
            stats[3] = lat_sum
            stats[4] = max_finish

    return pipeline_kernel


def _make_attainment_kernel(smax: int) -> Any:
    """The earliest-finish kernel for counts only, over several placements at once.

    The same recurrence, selection and commit as :func:`pipeline_kernel` (same float
    operations in the same order), minus everything the attainment path does not read: no
    per-request outputs, busy time or pipelines. ``smax`` is a compile-time constant so LLVM
    unrolls the recurrence.

    One request depends on the previous one through the group state ``F``, so one placement
    alone is bound by that chain's latency. Placements of a batch are independent: taking
    request ``i`` for every placement before request ``i + 1`` gives the processor several
    chains to overlap (about 2x the throughput of one placement at a time). Arrays are laid
    out model-major so one request's rows sit together: ``cands[m, p, c]`` is placement
    ``p``'s ``c``-th host of model ``m`` (padded with its first host), ``ncand[m, p]`` the
    real count, ``latc[m, p, c, k]`` that host's stage latencies, ``F[p, g, k]`` the stage
    free times and ``good_pm[m, p]`` the good counts; ``count_pm[m]`` is shared. Deadlines
    are ``deadline[i]``, or ``arrival[i] + slo_pm[m]`` when ``deadline`` is empty.

    Checkpoints for time-parallel runs (:mod:`simulator.engine.parallel`): every ``stride``
    requests (0: never) ``snap_F[j] = F`` and ``snap_good[j] = good_pm`` when those have
    rows, and the run stops at the first checkpoint where every placement's state is
    equivalent to ``couple[j]`` when that has rows. Returns where it stopped.
    """

    # nogil: attainment_many also spreads batches over threads.
    @_njit(cache=True, boundscheck=False, nogil=True)
    def attainment_kernel(arrival: Any, codes: Any, deadline: Any, slo_pm: Any, cands: Any,
                          ncand: Any, latc: Any, F: Any, admission: bool, overhead: float,
                          i0: int,
                          i1: int, good_pm: Any, count_pm: Any, stride: int, snap_F: Any,
                          snap_good: Any, couple: Any) -> int:
        n = arrival.shape[0]
        num_placements = cands.shape[1]
        width = cands.shape[2]
        inline = deadline.shape[0] == 0
        E = np.empty((width, smax))
        for i in range(n):
            if _checkpoint(i, stride):
                j = i // stride
                if snap_F.shape[0] > 0:
                    snap_F[j] = F
                    snap_good[j] = good_pm
                if couple.shape[0] > 0:
                    same = True
                    for p in range(num_placements):
                        same = same and _equivalent(F[p], couple[j, p], arrival[i])
                    if same:
                        return i
            m = codes[i]
            measured = i0 <= i < i1
            if measured:
                count_pm[m] += 1
            t = arrival[i]
            dl = t + slo_pm[m] if inline else deadline[i]
            for p in range(num_placements):
                if ncand[m, p] == 0:
                    continue
                best = 0
                g = cands[m, p, 0]
                ex = np.inf
                for c in range(width):
                    h = cands[m, p, c]
                    e = t
                    for k in range(smax):
                        e = max(e, F[p, h, k]) + latc[m, p, c, k]
                        E[c, k] = e
                    # strict improvement: ties keep the lower group, as in pipeline_kernel
                    best = c if e < ex else best
                    g = h if e < ex else g
                    ex = min(e, ex)
                fin = ex + overhead
                if admission and fin > dl:
                    continue
                for k in range(smax):
                    F[p, g, k] = E[best, k]
                if measured and fin <= dl:
                    good_pm[m, p] += 1
        return n

    return attainment_kernel


# One lazily compiled kernel per stage count (numba compiles on first call); wider
# placements use the run-time-width kernel.
MAX_FIXED_STAGES = 8
pipeline_kernel = _make_pipeline_kernel(0)
pipeline_kernels = tuple(_make_pipeline_kernel(s) for s in range(1, MAX_FIXED_STAGES + 1))
attainment_kernels = tuple(_make_attainment_kernel(s) for s in range(1, MAX_FIXED_STAGES + 1))
