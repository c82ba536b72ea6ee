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

from collections.abc import Callable
from typing import Any

import numpy as np

try:
    from numba import njit as _njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is missing
    HAVE_NUMBA = False

    def _njit(*args: Any, **kwargs: Any) -> Any:  # type: ignore[no-redef]
        def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
            func.py_func = func  # type: ignore[attr-defined]
            return func
        return wrap

SERVED, DROPPED, UNSERVED = 0, 1, 2
EARLIEST_FINISH, LEAST_OUTSTANDING, ALPASERVE = 0, 1, 2


@_njit(cache=True, inline="always")
def _clipped(begin: float, length: float, clip: bool, lo: float, hi: float) -> float:
    if not clip:
        return length
    end = begin + length
    a = begin if begin > lo else lo
    b = end if end < hi else hi
    return b - a if b > a else 0.0


@_njit(cache=True, inline="always")
def _exit(F: Any, lat: Any, g: int, m: int, j: int, nst: int, t: float) -> float:
    e = t
    for k in range(nst):
        e = max(e, F[g, k]) + lat[g, m, j, k]
    return e


@_njit(cache=True, inline="always")
def _pop_exited(g: int, t: float, phead: Any, pcount: Any, pnext: Any, pexit: Any) -> None:
    while pcount[g] > 0 and pexit[phead[g]] <= t:
        phead[g] = pnext[phead[g]]
        pcount[g] -= 1


@_njit(cache=True, inline="always")
def _push_pipeline(g: int, i: int, ex: float, phead: Any, ptail: Any, pcount: Any,
                   pnext: Any, pexit: Any) -> None:
    pexit[i] = ex
    pnext[i] = -1
    if pcount[g] == 0:
        phead[g] = i
    else:
        pnext[ptail[g]] = i
    ptail[g] = i
    pcount[g] += 1


@_njit(cache=True, inline="always")
def _exit_padded(F: Any, lat1: Any, g: int, m: int, smax: int, t: float) -> float:
    # Every group is padded to ``smax`` stages of zero latency: the value is unchanged
    # (``e + 0.0 == e`` and padded ``F`` never exceeds a later exit) and the fixed trip count
    # keeps the branch predictor out of the way.
    e = t
    for k in range(smax):
        e = max(e, F[g, k]) + lat1[g, m, k]
    return e


@_njit(cache=True)
def pipeline_kernel(arrival: Any, codes: Any, deadline: Any, cands: Any, ncand: Any,
                    nstages: Any, lat1: Any, F: Any, policy: int, admission: bool,
                    overhead: float, record: bool, out_start: Any, out_finish: Any,
                    out_group: Any, out_status: Any, out_batch: Any, out_stage: Any,
                    record_stages: bool, i0: int, i1: int, good_pm: Any, count_pm: Any,
                    busy: Any, served_gm: Any, clip: bool, lo: float, hi: float,
                    lat_buf: Any, stats: Any) -> None:
    """Without batching: decide and time each request at its arrival.

    ``cands[m]`` lists the groups hosting ``m`` (ascending), padded to a fixed width with
    its first group; ``lat1[g, m, k]`` is the batch-1 latency, zero on padded stages.
    Without clipping, busy time is not summed here: ``served_gm[g, m]`` counts the requests
    each group served per model instead.

    When ``record`` is true the statistics of :func:`summary_kernel` are gathered on the way:
    ``lat_buf`` receives the measured served latencies in index order and ``stats`` becomes
    ``(served, dropped, unserved, latency_sum, max_finish)`` (counts over measured requests).
    """
    n = arrival.shape[0]
    G = nstages.shape[0]
    smax = F.shape[1]
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
                    e = max(e, F[h, k]) + lat1[h, m, k]
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
                busy[g] += _clipped(s, lat1[g, m, k], clip, lo, hi)  # padded stages add 0
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


def _make_attainment_kernel(smax: int) -> Any:
    """The earliest-finish pipeline kernel for counts only, with ``smax`` a constant.

    The same recurrence, selection and commit as :func:`pipeline_kernel` (same float
    operations in the same order), minus everything the attainment path does not read: no
    per-request outputs, busy time or pipelines. A compile-time stage count lets LLVM unroll
    the recurrence; candidate lists are per model with latencies laid out contiguously
    (``latc[m, c, k] = lat1[cands[m, c], m, k]``).
    """

    # nogil: attainment_many evaluates several placements on threads at once.
    @_njit(cache=True, boundscheck=False, nogil=True)
    def attainment_kernel(arrival: Any, codes: Any, deadline: Any, cands: Any, ncand: Any,
                          latc: Any, F: Any, admission: bool, overhead: float, i0: int,
                          i1: int, good_pm: Any, count_pm: Any) -> None:
        n = arrival.shape[0]
        width = cands.shape[1]
        E = np.empty((width, smax))
        for i in range(n):
            m = codes[i]
            measured = i0 <= i < i1
            if measured:
                count_pm[m] += 1
            if ncand[m] == 0:
                continue
            t = arrival[i]
            best = 0
            g = cands[m, 0]
            ex = np.inf
            for c in range(width):
                h = cands[m, c]
                e = t
                for k in range(smax):
                    e = max(e, F[h, k]) + latc[m, c, k]
                    E[c, k] = e
                # strict improvement: ties keep the lower group, as in pipeline_kernel
                best = c if e < ex else best
                g = h if e < ex else g
                ex = min(e, ex)
            fin = ex + overhead
            if admission and fin > deadline[i]:
                continue
            for k in range(smax):
                F[g, k] = E[best, k]
            if measured and fin <= deadline[i]:
                good_pm[m] += 1

    return attainment_kernel


# One lazily compiled kernel per stage count; wider placements use pipeline_kernel.
ATTAINMENT_MAX_STAGES = 8
attainment_kernels = tuple(_make_attainment_kernel(s)
                           for s in range(1, ATTAINMENT_MAX_STAGES + 1))


@_njit(cache=True)
def batching_kernel(arrival: Any, codes: Any, deadline: Any, cand_ptr: Any, cand_groups: Any,
                    nstages: Any, lat: Any, sizes: Any, num_sizes: Any, gm_ptr: Any,
                    gm_models: Any, F: Any, policy: int, admission: bool, overhead: float,
                    record: bool, out_start: Any, out_finish: Any, out_group: Any,
                    out_status: Any, out_batch: Any, out_stage: Any, record_stages: bool,
                    i0: int, i1: int, good_pm: Any, count_pm: Any, busy: Any, clip: bool,
                    lo: float, hi: float) -> None:
    """With batching: arrivals and per-group batch formations in time order."""
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


@_njit(cache=True)
def summary_kernel(arrival: Any, codes: Any, deadline: Any, finish: Any, status: Any,
                   i0: int, i1: int, req_pm: Any, good_pm: Any, lat_buf: Any
                   ) -> tuple[int, int, int, float, int, float]:
    """One pass of :func:`simulator.result.summarize`; latencies go to ``lat_buf``.

    Returns ``(served, dropped, unserved, latency_sum, num_latencies, max_finish)``; the sum
    is left to right, like ``cumsum`` in the NumPy version.
    """
    served = 0
    dropped = 0
    unserved = 0
    total = 0.0
    max_finish = -np.inf
    for i in range(arrival.shape[0]):
        st = status[i]
        if st == SERVED:
            max_finish = max(max_finish, finish[i])
        if i < i0 or i >= i1:
            continue
        m = codes[i]
        req_pm[m] += 1
        if st == SERVED:
            lat = finish[i] - arrival[i]
            lat_buf[served] = lat
            total += lat
            served += 1
            if finish[i] <= deadline[i]:
                good_pm[m] += 1
        elif st == DROPPED:
            dropped += 1
        else:
            unserved += 1
    return served, dropped, unserved, total, served, max_finish


_BUCKETS = 1 << 16


@_njit(cache=True)
def order_statistics_kernel(x: Any, kth: Any, out: Any) -> bool:
    """``out[j]`` = the ``kth[j]``-th smallest value of ``x`` (``kth`` ascending), exactly.

    Finite non-negative doubles order like their bit patterns, so a histogram of the bits
    finds the bucket of each wanted rank in two passes; only those buckets are gathered and
    sorted. Returns False, leaving ``out`` alone, when ``x`` holds a negative value (or
    ``-0.0``), an infinity or a NaN; the caller then falls back to ``np.partition``.
    """
    n = x.shape[0]
    bits = x.view(np.int64)
    lo = bits[0]
    hi = bits[0]
    for v in bits:
        lo = min(lo, v)
        hi = max(hi, v)
    if lo < 0 or hi >= 0x7FF0000000000000:
        return False
    span = hi - lo
    shift = 0
    while (span >> shift) >= _BUCKETS:
        shift += 1
    nb = (span >> shift) + 1
    hist = np.zeros(nb, dtype=np.int64)
    for v in bits:
        hist[(v - lo) >> shift] += 1
    K = kth.shape[0]
    bucket = np.empty(K, dtype=np.int64)
    rank = np.empty(K, dtype=np.int64)
    below = 0
    j = 0
    for b in range(nb):
        while j < K and kth[j] < below + hist[b]:
            bucket[j] = b
            rank[j] = kth[j] - below
            j += 1
        if j == K:
            break
        below += hist[b]
    slot = np.full(nb, -1, dtype=np.int64)
    offset = np.zeros(K + 1, dtype=np.int64)
    nslots = 0
    for j in range(K):
        b = bucket[j]
        if slot[b] < 0:
            slot[b] = nslots
            offset[nslots + 1] = offset[nslots] + hist[b]
            nslots += 1
    picked = np.empty(offset[nslots])
    fill = offset[:nslots].copy()
    for i in range(n):
        s = slot[(bits[i] - lo) >> shift]
        if s >= 0:
            picked[fill[s]] = x[i]
            fill[s] += 1
    for s in range(nslots):
        picked[offset[s]:offset[s + 1]].sort()
    for j in range(K):
        out[j] = picked[offset[slot[bucket[j]]] + rank[j]]
    return True


@_njit(cache=True)
def slo_kernel(arrival: Any, codes: Any, per_model: Any, slo: Any, deadline: Any) -> None:
    """``slo[i] = per_model[codes[i]]`` and ``deadline[i] = arrival[i] + slo[i]`` in one pass."""
    for i in range(arrival.shape[0]):
        s = per_model[codes[i]]
        slo[i] = s
        deadline[i] = arrival[i] + s
