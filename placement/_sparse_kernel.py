"""Sparse re-simulation against a reference run: skip what cannot differ without a walk.

:func:`placement._diff_kernel.run_diff` walks every request and copies the reference's
outcome for most of them; on large workloads the walk costs as much as the few hundred
requests it re-simulates. Here, while every group is in the reference's state, only the
changed models' requests can differ, and the run jumps from one to the next (their lists,
by model, merged by a min-heap keyed by request index). While some group is diverged it
walks the requests as ``run_diff`` does, which is needed then: any model on that group may
differ. The reference's state of a group at request ``i`` is the record of its latest
request before ``i`` on that group; a walk keeps it, a long jump looks it up in the
reference's per-group request list (searched forward from a cursor, as ``i`` only grows).

The rules and the outcome are exactly :func:`~placement._diff_kernel.run_diff`'s with a
reference; the lists are :func:`request_lists` of the workload's model codes (once per
workload) and of the reference's groups (once per reference, shared by its variants).
"""

from __future__ import annotations

import math

import numpy as np

from placement._diff_kernel import _flip, _same_as_ref, has_windows
from placement._kernel import njit

INF = math.inf
#: Requests per group a jump scans back for the groups' latest ones before looking the
#: groups not found up in their lists (the scan is bounded by the lists' cost, and never
#: costs more than walking the requests jumped over)
CATCH_UP = 16


@njit(cache=True, nogil=True)
def request_lists(keys, n_keys):
    """Request ids by key (a CSR ``(ptr, ids)``, ids ascending); keys below 0 are left out."""
    ptr = np.zeros(n_keys + 1, dtype=np.int64)
    ids = np.zeros(keys.shape[0], dtype=np.int64)
    fill = np.zeros(n_keys, dtype=np.int64)
    lists_into(keys, n_keys, ptr, ids, fill)
    return ptr, ids[:ptr[n_keys]]


@njit(cache=True, nogil=True)
def lists_into(keys, n_keys, ptr, ids, fill):
    """:func:`request_lists` written into ``ptr`` (``n_keys + 1``), ``ids`` (at least the
    ids kept) and ``fill`` (scratch, ``n_keys``)."""
    ptr[:] = 0
    for i in range(keys.shape[0]):
        if keys[i] >= 0:
            ptr[keys[i] + 1] += 1
    for k in range(n_keys):
        ptr[k + 1] += ptr[k]
    fill[:] = ptr[:-1]
    for i in range(keys.shape[0]):
        k = keys[i]
        if k >= 0:
            ids[fill[k]] = i
            fill[k] += 1


@njit(cache=True, nogil=True)
def _first_from(ptr, ids, cur, k, x):
    """Position of the first id ``>= x`` in list ``k``, searched from ``cur[k]`` (which it
    moves there): doubling steps, then bisection, so a long skip costs its logarithm."""
    p = cur[k]
    end = ptr[k + 1]
    if p < end and ids[p] < x:
        step = 1
        while p + step < end and ids[p + step] < x:
            p += step
            step *= 2
        lo = p + 1  # ids[p] < x <= ids[p + step] (or the end)
        hi = p + step if p + step < end else end
        while lo < hi:
            mid = (lo + hi) >> 1
            if ids[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        p = lo
    cur[k] = p
    return p


@njit(cache=True, nogil=True)
def _last_before(lptr, lids, gcur, g, x):
    """The reference's latest request on group ``g`` before request ``x`` (-1: none)."""
    p = _first_from(lptr, lids, gcur, g, x)
    return lids[p - 1] if p > lptr[g] else -1


@njit(cache=True, nogil=True)
def _refresh(last, ref_grp, pos, i, budget, lptr, lids, fill, gcur, built):
    """Bring ``last`` (every group's latest reference request before ``pos``) forward to
    before ``i``, over requests ``pos .. i-1`` not walked: backward from ``i`` for at most
    ``budget`` requests, which usually finds every busy group; the groups left are looked
    up in the reference's lists, built here on first need (``built[0]``)."""
    n_grp = last.shape[0]
    lim = i - budget if i - budget > pos else pos
    found = 0
    for j in range(i - 1, lim - 1, -1):
        b = ref_grp[j]
        if b >= 0 and last[b] < pos:  # the latest one on b
            last[b] = j
            found += 1
            if found == n_grp:
                return
    if lim == pos:
        return  # the whole gap scanned: the groups not found kept their latest
    if not built[0]:
        lists_into(ref_grp, n_grp, lptr, lids, fill)
        gcur[:] = lptr[:-1]
        built[0] = True
    for g in range(n_grp):
        if last[g] < pos:
            last[g] = _last_before(lptr, lids, gcur, g, i)


@njit(cache=True, nogil=True, inline="always")
def _sync_to(free, ref_state, src, synced, g, nst):
    """Load record ``src`` (-1: the initial state) into ``free[g]`` unless it is there."""
    if src != synced[g]:
        for k in range(nst):
            free[g, k] = ref_state[src, k] if src >= 0 else -INF
        synced[g] = src


@njit(cache=True, nogil=True, inline="always")
def _push(heap, size, key, m):
    """Add model ``m`` (keyed by ``key[m]``) to the binary min-heap of ``size`` models."""
    j = size
    heap[j] = m
    while j > 0:
        up = (j - 1) >> 1
        if key[heap[up]] <= key[m]:
            break
        heap[j] = heap[up]
        j = up
    heap[j] = m
    return size + 1


@njit(cache=True, nogil=True, inline="always")
def _pop(heap, size, key):
    """Remove the heap's top (the caller has read ``heap[0]``); returns the new size."""
    size -= 1
    m = heap[size]
    j = 0
    while True:
        c = 2 * j + 1
        if c >= size:
            break
        if c + 1 < size and key[heap[c + 1]] < key[heap[c]]:
            c += 1
        if key[m] <= key[heap[c]]:
            break
        heap[j] = heap[c]
        j = c
    if size > 0:
        heap[j] = m
    return size


@njit(cache=True, nogil=True, inline="always")
def _queue_next(m, mptr, mids, mcur, key, heap, size):
    """Queue changed model ``m``'s request at ``mcur[m]`` in its list, if any."""
    if mcur[m] < mptr[m + 1]:
        key[m] = mids[mcur[m]]
        size = _push(heap, size, key, m)
    return size


@njit(cache=True, nogil=True)
def run_sparse(arrival, code, deadline, grp_nst, rep_ptr, rep_group, rep_lat, rep_from,
               rep_until, rep_ready, skip_rep, extra_model, extra_group, extra_lat, mode,
               admission, changed, ref_grp, ref_rank, ref_good, ref_state, ref_total, gptr,
               gmod, gmask, mptr, mids, lptr, lids, fill, built, free, div, synced, aff,
               dmask, tmp, heap, key, mcur, gcur, last, good_pm, rep_good, per_replica,
               record, rec_grp, rec_rank, rec_good, rec_state, rec_list, rec_count,
               catch_up):
    """:func:`~placement._diff_kernel.run_diff` with a reference, visiting only what may
    differ (the arguments are its, plus the request lists ``mptr/mids`` by model and
    ``lptr/lids`` by the reference's group, and scratch: ``heap``, ``key``, ``mcur`` per
    model and ``gcur``, ``last`` per group). While no group is diverged the run jumps from one
    changed model's request to the next (a heap merges their lists); while one is, it
    walks the requests. After a jump the groups' latest requests are found scanning back
    at most ``catch_up`` requests (:data:`CATCH_UP` per group), then looked up. Returns the
    good requests."""
    n = arrival.shape[0]
    n_rep = rep_group.shape[0]
    n_models = mptr.shape[0] - 1
    small = div.shape[0] <= 64
    synced[:] = -1
    aff[:] = 0
    dmask[0] = 0
    free[:, :] = -INF
    div[:] = False
    mcur[:] = mptr[:-1]
    if built[0]:
        gcur[:] = lptr[:-1]
    total = ref_total
    patch = rec_list.shape[0] > 0
    windows = has_windows(rep_from, rep_until, rep_ready)
    size = 0
    for m in range(n_models):
        if changed[m]:
            size = _queue_next(m, mptr, mids, mcur, key, heap, size)
    last[:] = -1
    n_div = 0
    pos = 0
    while True:
        if n_div == 0:  # every group as in the reference: only changed models differ
            if size == 0:
                break
            i = key[heap[0]]
            if i > pos:  # requests skipped: the groups' latest ones move on
                _refresh(last, ref_grp, pos, i, catch_up, lptr, lids, fill, gcur, built)
        else:  # walk to the next request of a changed model or one on a diverged group
            i = pos
            dm = dmask[0]
            while i < n:
                m = code[i]
                if changed[m] != 0 or ((gmask[m] & dm) != 0 if small else aff[m] != 0):
                    break
                b = ref_grp[i]  # its groups are as in the reference: so is its outcome
                if b >= 0:
                    last[b] = i
                i += 1
            if i >= n:
                break
        m = code[i]
        pos = i + 1
        if changed[m]:  # it heads the heap: the heap holds every changed model's next one
            size = _pop(heap, size, key)
            mcur[m] += 1  # every request of a changed model is visited, in order
            size = _queue_next(m, mptr, mids, mcur, key, heap, size)
        row = rec_count[0] if patch else i
        a = arrival[i]
        best_key = INF
        best_fin = INF
        best_g = -1
        best_r = -1
        lo = rep_ptr[m]
        hi = rep_ptr[m + 1]
        n_cand = hi - lo
        if m == extra_model:
            n_cand += 1
        for j in range(n_cand):
            if j < hi - lo:
                r = lo + j
                if r == skip_rep or (windows and (a < rep_from[r] or a >= rep_until[r])):
                    continue
                g = rep_group[r]
            else:
                r = n_rep
                g = extra_group
            nst = grp_nst[g]
            # a group in the reference's state is read from its record in place (-1: the
            # initial state), so only a group that diverges is ever copied into free
            src = -2 if div[g] else last[g]
            if mode == 1:  # the key needs no stage walk: only the winner's is taken
                key_g = free[g, nst - 1] if src == -2 else (ref_state[src, nst - 1]
                                                           if src >= 0 else -INF)
                if key_g < best_key or (key_g == best_key and g < best_g):
                    best_key = key_g
                    best_g = g
                    best_r = r
                continue
            t = a if not windows or r == n_rep or a > rep_ready[r] else rep_ready[r]
            for k in range(nst):
                f = free[g, k] if src == -2 else (ref_state[src, k] if src >= 0 else -INF)
                t = (t if t > f else f) + (rep_lat[r, k] if r < n_rep else extra_lat[k])
                if t > best_fin:
                    break  # stage times only grow: this replica cannot win
            if t < best_fin or (t == best_fin and g < best_g):
                best_fin = t
                best_g = g
                best_r = r
        g = best_g
        gd = 0
        if g >= 0:  # the chosen group's stage times after this request
            src = -2 if div[g] else last[g]
            t = a if not windows or best_r == n_rep or a > rep_ready[best_r] \
                else rep_ready[best_r]
            for k in range(grp_nst[g]):
                f = free[g, k] if src == -2 else (ref_state[src, k] if src >= 0 else -INF)
                t = (t if t > f else f) + (rep_lat[best_r, k] if best_r < n_rep
                                           else extra_lat[k])
                tmp[k] = t
            if admission and t > deadline[i]:
                g = -1
            elif t <= deadline[i]:
                gd = 1
        b = ref_grp[i]
        rg = ref_good[i]
        total += gd - rg
        good_pm[m] += gd - rg
        if per_replica and rg and changed[m] == 0:
            rep_good[lo + ref_rank[i]] -= 1
        if per_replica and gd:
            rep_good[best_r] += 1
        if b >= 0 and not div[b] and b != g:  # the reference advanced b, this run did not
            _sync_to(free, ref_state, last[b],
                     synced, b, grp_nst[b])
            _flip(b, True, div, aff, dmask, gptr, gmod)
            n_div += 1
        if b >= 0:
            last[b] = i
        if g >= 0:
            nst = grp_nst[g]
            agree = False
            if g == b and not div[g]:
                agree = True
                for k in range(nst):
                    if tmp[k] != ref_state[i, k]:
                        agree = False
                        break
            if not agree:
                for k in range(nst):
                    free[g, k] = tmp[k]
                synced[g] = -2
                if not div[g]:
                    _flip(g, True, div, aff, dmask, gptr, gmod)
                    n_div += 1
            if record:
                for k in range(nst):
                    rec_state[row, k] = tmp[k]
        if g >= 0 and div[g]:  # a diverged group that was just advanced may agree again
            src = last[g]
            if _same_as_ref(free, ref_state, src, g, grp_nst[g]):
                synced[g] = src
                _flip(g, False, div, aff, dmask, gptr, gmod)
                n_div -= 1
        if b >= 0 and b != g and div[b] and _same_as_ref(free, ref_state, i, b, grp_nst[b]):
            synced[b] = i
            _flip(b, False, div, aff, dmask, gptr, gmod)
            n_div -= 1
        if record:
            rec_grp[row] = g
            rec_rank[row] = best_r - lo if g >= 0 else -1
            rec_good[row] = gd
            if patch:
                rec_list[row] = i
                rec_count[0] += 1
    return total


@njit(cache=True, nogil=True)
def run_candidates_sparse(arrival, code, deadline, grp_nst, rep_ptr, rep_model, rep_group,
                          rep_lat, rep_from, rep_until, rep_ready, cand_skip, cand_model,
                          cand_group, cand_lat, mode, admission, ref_grp, ref_good, ref_state,
                          ref_total, gptr, gmod, gmask, mptr, mids, lptr, lids, fill, built,
                          catch_up):
    """Good-request counts of many one-move variants of the reference's placement."""
    n_cand = cand_skip.shape[0]
    n_grp = grp_nst.shape[0]
    n_st = rep_lat.shape[1]
    n_models = mptr.shape[0] - 1
    out = np.zeros(n_cand, dtype=np.int64)
    free = np.zeros((n_grp, n_st), dtype=np.float64)
    div = np.zeros(n_grp, dtype=np.bool_)
    synced = np.zeros(n_grp, dtype=np.int64)
    gcur = np.zeros(n_grp, dtype=np.int64)
    last = np.zeros(n_grp, dtype=np.int64)
    aff = np.zeros(n_models, dtype=np.int64)
    heap = np.zeros(n_models, dtype=np.int64)
    key = np.zeros(n_models, dtype=np.int64)
    mcur = np.zeros(n_models, dtype=np.int64)
    dmask = np.zeros(1, dtype=np.uint64)
    tmp = np.zeros(n_st, dtype=np.float64)
    changed = np.zeros(n_models, dtype=np.uint8)
    good_pm = np.zeros(n_models, dtype=np.int64)
    d_i64 = np.zeros(1, dtype=np.int64)
    d_i32 = np.zeros(1, dtype=np.int32)
    d_i8 = np.zeros(1, dtype=np.int8)
    d_f = np.zeros((1, 1), dtype=np.float64)
    no_list = np.zeros(0, dtype=np.int64)
    for c in range(n_cand):
        s = cand_skip[c]
        if s >= 0:
            changed[rep_model[s]] = 1
        if cand_model[c] >= 0:
            changed[cand_model[c]] = 1
        out[c] = run_sparse(arrival, code, deadline, grp_nst, rep_ptr, rep_group, rep_lat,
                            rep_from, rep_until, rep_ready, s, cand_model[c], cand_group[c],
                            cand_lat[c], mode, admission, changed, ref_grp, d_i32, ref_good,
                            ref_state, ref_total, gptr, gmod, gmask, mptr, mids, lptr, lids,
                            fill, built, free, div, synced, aff, dmask, tmp, heap, key, mcur,
                            gcur, last, good_pm, d_i64, False, False, d_i32, d_i32, d_i8, d_f,
                            no_list, d_i64, catch_up)
        if s >= 0:
            changed[rep_model[s]] = 0
        if cand_model[c] >= 0:
            changed[cand_model[c]] = 0
    return out
