"""The fast engine's batching kernel: a small event loop that interleaves arrivals with the
batch formations of each group (``ready[g]`` is when group ``g`` next forms a batch). See
:mod:`simulator.engine.kernels` for the arguments shared by all kernels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.engine.common import (
    ALPASERVE,
    DROPPED,
    LEAST_OUTSTANDING,
    SERVED,
    UNSERVED,
    _clipped,
    _exit,
    _njit,
    _pop_exited,
    _push_pipeline,
)


@_njit(cache=True)
def batching_kernel(arrival: Any, codes: Any, deadline: Any, cand_ptr: Any, cand_groups: Any,
                    nstages: Any, lat: Any, sizes: Any, num_sizes: Any, gm_ptr: Any,
                    gm_models: Any, F: Any, policy: int, admission: bool, overhead: float,
                    record: bool, out_start: Any, out_finish: Any, out_group: Any,
                    out_status: Any, out_batch: Any, out_stage: Any, record_stages: bool,
                    i0: int, i1: int, good_pm: Any, count_pm: Any, busy: Any, clip: bool,
                    lo: float, hi: float) -> None:
    """With batching: arrivals and per-group batch formations in time order.

    Parameters
    ----------
    arrival : numpy.ndarray of float64, shape (n,)
        Arrival times in seconds, non-decreasing.
    codes : numpy.ndarray of int32, shape (n,)
        Per request: its model code.
    deadline : numpy.ndarray of float64, shape (n,)
        Per request: ``arrival + slo`` in seconds.
    cand_ptr, cand_groups : numpy.ndarray of int64
        CSR lists of the groups hosting each model (see
        :class:`~simulator.semantics.PlacementTables`).
    nstages : numpy.ndarray of int64, shape (G,)
        Stages per group.
    lat, sizes, num_sizes : numpy.ndarray
        Stage latencies per (group, model, batch-size row, stage), the batch sizes of the
        rows, and the rows in use per (group, model).
    gm_ptr, gm_models : numpy.ndarray of int64
        CSR lists of the models each group hosts.
    F : numpy.ndarray of float64, shape (G, S)
        Stage free times in seconds, ``-inf`` initially; updated in place.
    policy : int
        Dispatch rule code (``POLICY_CODES`` of :mod:`simulator.semantics`).
    admission : bool
        Drop a request at once when it is predicted to miss its deadline.
    overhead : float
        Seconds added to every finish before the deadline check.
    record : bool
        Write the ``out_*`` arrays (else they may be empty).
    out_start, out_finish : numpy.ndarray of float64, shape (n,)
        Per request: stage-0 start and finish in seconds (NaN unless served).
    out_group, out_status, out_batch : numpy.ndarray of int, shape (n,)
        Per request: group (-1 when unserved), status code and batch size (0 unless served).
    out_stage : numpy.ndarray of float64, shape (n, S)
        Per request and stage: the start time, written when ``record_stages``.
    record_stages : bool
        Write ``out_stage``.
    i0, i1 : int
        Measured requests are ``i0 <= i < i1``.
    good_pm, count_pm : numpy.ndarray of int64, shape (M,)
        Incremented: good and measured requests per model.
    busy : numpy.ndarray of float64, shape (G,)
        Incremented: stage-seconds executed per group.
    clip : bool
        Clip busy time to ``[lo, hi]`` (seconds).
    lo, hi : float
        The statistics window in seconds, read when ``clip``.

    Examples
    --------
    >>> from simulator._examples import tiny_placement
    >>> from simulator.semantics import compile_placement
    >>> p, db = tiny_placement()
    >>> t = compile_placement(p, db, ["bert-1.3b"], max_batch=2)
    >>> gm_ptr, gm_models = t.group_models
    >>> arrival, n = np.array([0.0, 0.01, 0.02]), 3
    >>> start, finish = np.empty(n), np.empty(n)
    >>> group, status, batch = np.empty(n, np.int32), np.empty(n, np.int8), np.empty(n, np.int32)
    >>> good, count, busy = np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1)
    >>> batching_kernel(arrival, np.zeros(n, np.int32), arrival + 1.0, t.cand_ptr,
    ...                 t.cand_groups, t.num_stages, t.lat, t.sizes, t.num_sizes, gm_ptr,
    ...                 gm_models, np.full((1, 1), -np.inf), 0, True, 0.0, True, start, finish,
    ...                 group, status, batch, np.empty((0, 1)), False, 0, n, good, count, busy,
    ...                 False, 0.0, 0.0)
    >>> batch.tolist(), finish.tolist(), good.tolist()
    ([1, 2, 2], [0.1, 0.25, 0.25], [3])
    """
    n = arrival.shape[0]
    G = nstages.shape[0]
    M = cand_ptr.shape[0] - 1
    W = np.zeros(G)
    ready = np.full(G, np.inf)
    qlen = np.zeros(G, dtype=np.int64)
    qhead = np.full((G, M), -1, dtype=np.int64)
    qtail = np.full((G, M), -1, dtype=np.int64)
    qnext = np.empty(n, dtype=np.int64)
    lo_policy = policy == LEAST_OUTSTANDING
    pn = n if lo_policy else 0
    pnext = np.empty(pn, dtype=np.int64)
    pexit = np.empty(pn, dtype=np.float64)
    phead = np.zeros(G, dtype=np.int64)
    ptail = np.zeros(G, dtype=np.int64)
    pcount = np.zeros(G, dtype=np.int64)
    bmax = 1
    for g in range(G):
        for mm in range(M):
            if num_sizes[g, mm] > 0:
                b = sizes[g, mm, num_sizes[g, mm] - 1]
                if b > bmax:
                    bmax = b
    members = np.empty(bmax, dtype=np.int64)
    prefix_min = np.empty(bmax, dtype=np.float64)
    i = 0
    while True:
        gf = -1
        tf = np.inf
        for g in range(G):
            if qlen[g] > 0 and ready[g] < tf:
                tf = ready[g]
                gf = g
        if i < n and (gf < 0 or arrival[i] <= tf):
            # ---------------------------------------------------------- an arrival
            m = codes[i]
            if i0 <= i < i1:
                count_pm[m] += 1
            c0 = cand_ptr[m]
            c1 = cand_ptr[m + 1]
            if record:
                out_status[i] = UNSERVED
                out_group[i] = -1
                out_start[i] = np.nan
                out_finish[i] = np.nan
                out_batch[i] = 0
            if c0 == c1:
                i += 1
                continue
            t = arrival[i]
            g = cand_groups[c0]
            if c1 - c0 > 1:
                best = np.inf
                for c in range(c0, c1):
                    h = cand_groups[c]
                    if policy == ALPASERVE:
                        key = F[h, nstages[h] - 1]
                    elif policy == LEAST_OUTSTANDING:
                        _pop_exited(h, t, phead, pcount, pnext, pexit)
                        key = float(pcount[h] + qlen[h])
                    else:
                        begin = F[h, 0]
                        if t > begin:
                            begin = t
                        key = _exit(F, lat, h, m, 0, nstages[h], begin + W[h])
                    if c == c0 or key < best:
                        best = key
                        g = h
            if record:
                out_group[i] = g
            if admission and _exit(F, lat, g, m, 0, nstages[g], t) + overhead > deadline[i]:
                if record:
                    out_status[i] = DROPPED
                i += 1
                continue
            if qlen[g] == 0:
                ready[g] = t if t > F[g, 0] else F[g, 0]
            qnext[i] = -1
            if qhead[g, m] < 0:
                qhead[g, m] = i
            else:
                qnext[qtail[g, m]] = i
            qtail[g, m] = i
            W[g] += lat[g, m, 0, 0]
            qlen[g] += 1
            i += 1
            continue
        if gf < 0:
            break
        # -------------------------------------------------------------- a batch formation
        g = gf
        t = tf
        formed = False
        while qlen[g] > 0 and not formed:
            m = -1
            oldest = n
            for c in range(gm_ptr[g], gm_ptr[g + 1]):
                mm = gm_models[c]
                if 0 <= qhead[g, mm] < oldest:
                    oldest = qhead[g, mm]
                    m = mm
            cnt = 0
            r = qhead[g, m]
            while r >= 0 and cnt < bmax:
                members[cnt] = r
                d = deadline[r]
                prefix_min[cnt] = d if cnt == 0 or d < prefix_min[cnt - 1] else prefix_min[cnt - 1]
                cnt += 1
                r = qnext[r]
            chosen = -1
            largest = -1
            for j in range(num_sizes[g, m] - 1, -1, -1):
                b = sizes[g, m, j]
                if b > cnt:
                    continue
                if largest < 0:
                    largest = j
                if _exit(F, lat, g, m, j, nstages[g], t) + overhead <= prefix_min[b - 1]:
                    chosen = j
                    break
            if chosen < 0 and admission:
                r = qhead[g, m]
                qhead[g, m] = qnext[r]
                W[g] -= lat[g, m, 0, 0]
                qlen[g] -= 1
                if qlen[g] == 0:
                    W[g] = 0.0
                if record:
                    out_status[r] = DROPPED
                continue
            if chosen < 0:
                chosen = largest
            b = sizes[g, m, chosen]
            for q in range(b):
                qhead[g, m] = qnext[members[q]]
                W[g] -= lat[g, m, 0, 0]
            qlen[g] -= b
            if qlen[g] == 0:
                W[g] = 0.0
            e = t
            for k in range(nstages[g]):
                s = F[g, k]
                if e > s:
                    s = e
                if record_stages:
                    for q in range(b):
                        out_stage[members[q], k] = s
                d = lat[g, m, chosen, k]
                busy[g] += _clipped(s, d, clip, lo, hi)
                e = s + d
                F[g, k] = e
            fin = e + overhead
            for q in range(b):
                r = members[q]
                if record:
                    out_status[r] = SERVED
                    out_start[r] = t
                    out_finish[r] = fin
                    out_batch[r] = b
                if lo_policy:
                    _push_pipeline(g, r, e, phead, ptail, pcount, pnext, pexit)
                if i0 <= r < i1 and fin <= deadline[r]:
                    good_pm[m] += 1
            formed = True
        ready[g] = F[g, 0] if qlen[g] > 0 else np.inf
