"""Greedy construction (:func:`placement.greedy.construct`) in one compiled call.

Each step of the Python loop is cheap in compiled code but costs tens of microseconds of
NumPy calls in Python; a screening run takes a few dozen steps per layout, a look-ahead a
few dozen more. This kernel runs the same steps on the same numbers: the fit matrix from
per-stage memory, models ranked by unmet requests (then rate, then index), groups ranked by
rounded estimated load (then free memory, then index); then either up to ``batch``
replicas on distinct groups per step, or the ``top_models × top_groups`` candidate
additions, of which the first best is kept. Every state and candidate is a plain run
(:func:`placement._kernel._run_plain`) of the component the step's change reaches, the
other models keeping the previous state's counts (:mod:`placement._component_kernel`); a
candidate's run stops once it cannot beat the best so far. Float results that decide an
order are computed as NumPy does (pairwise sums, ``round(12)``), so the ranking, and hence
the assignment, is bit-for-bit the Python path's.
"""

from __future__ import annotations

import math

import numpy as np

from placement._component_kernel import connect, run_component
from placement._kernel import _run_plain, njit

INF = math.inf


@njit(cache=True, nogil=True)
def _block_sum(a, lo, n):
    """NumPy's pairwise sum of a block of at most 128 (``n < 8``: in order; else eight
    accumulators, combined as a tree, then the rest in order)."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True, nogil=True)
def _split(n):
    """Where NumPy's pairwise sum splits ``n > 128`` values: half, down to a multiple of 8."""
    half = n // 2
    return half - half % 8


@njit(cache=True, nogil=True)
def _pairwise(a, lo, n):
    """NumPy's pairwise sum of ``a[lo:lo + n]`` (its ``add.reduce`` of a contiguous row:
    blocks of up to 128, halves above), so sums match it bit for bit. The recursion runs on
    an explicit stack: numba cannot cache a recursive function."""
    if n <= 128:
        return _block_sum(a, lo, n)
    f_lo = np.empty(64, dtype=np.int64)
    f_n = np.empty(64, dtype=np.int64)
    f_right = np.zeros(64, dtype=np.bool_)  # the left half is done, its sum in f_left
    f_left = np.empty(64, dtype=np.float64)
    top = 0
    f_lo[0], f_n[0], f_right[0] = lo, n, False
    while True:
        if f_n[top] > 128:  # descend into the left half
            half = _split(f_n[top])
            f_lo[top + 1], f_n[top + 1], f_right[top + 1] = f_lo[top], half, False
            top += 1
            continue
        res = _block_sum(a, f_lo[top], f_n[top])
        top -= 1
        while top >= 0 and f_right[top]:  # both halves done: return up
            res = f_left[top] + res
            top -= 1
        if top < 0:
            return res
        f_left[top], f_right[top] = res, True  # now the right half
        half = _split(f_n[top])
        f_lo[top + 1], f_n[top + 1], f_right[top + 1] = f_lo[top] + half, f_n[top] - half, \
            False
        top += 1


@njit(cache=True, nogil=True)
def row_sum(a):
    """``a.sum()`` of a 1-D float64 array as NumPy computes it (0.0 plus the pairwise sum)."""
    return 0.0 + _pairwise(a, 0, a.shape[0])


@njit(cache=True, nogil=True)
def _replica_arrays(hosts, glat, ptr, rgroup, rlat):
    """The replicas of ``hosts`` sorted by (model, group) into ``ptr``/``rgroup``/``rlat``
    (as :meth:`placement.assignment.Assignment.arrays`); returns their number."""
    n_grp, n_m = hosts.shape
    j = 0
    for m in range(n_m):
        ptr[m] = j
        for g in range(n_grp):
            if hosts[g, m]:
                rgroup[j] = g
                rlat[j, :] = glat[g, m, :]
                j += 1
    ptr[n_m] = j
    return j


@njit(cache=True, nogil=True)
def used_memory(hosts, gmem):
    """``[g, k]``: bytes per device that ``hosts``' replicas take on each group's stage."""
    n_grp, n_m = hosts.shape
    used = np.zeros((n_grp, gmem.shape[2]), dtype=np.int64)
    for g in range(n_grp):
        for m in range(n_m):
            if hosts[g, m]:
                used[g, :] += gmem[g, m, :]
    return used


@njit(cache=True, nogil=True)
def scratch(n_grp, n_m, n_st):
    """The arrays one simulation of an ``n_grp × n_m`` placement writes: replica pointers,
    groups and latencies (room for every pair), stage free times, good requests per model
    and per replica. Allocated once per compiled routine and reused by all its runs."""
    cap = n_grp * n_m + 1
    return (np.zeros(n_m + 1, dtype=np.int64), np.zeros(cap, dtype=np.int64),
            np.zeros((cap, n_st), dtype=np.float64), np.empty((n_grp, n_st), dtype=np.float64),
            np.zeros(n_m, dtype=np.int64), np.zeros(cap, dtype=np.int64))


@njit(cache=True, nogil=True)
def _simulate(arrival, code, deadline, grp_nst, mode, admission, glat, hosts, ptr, rgroup,
              rlat, free, good_pm, rep_good):
    """A plain run of ``hosts`` (as :func:`placement._kernel.run_once` without windows);
    ``good_pm`` gets the good requests per model. Returns the good requests."""
    n_rep = _replica_arrays(hosts, glat, ptr, rgroup, rlat)
    free[:, :] = -INF
    good_pm[:] = 0
    rep_good[:] = 0
    return _run_plain(arrival, code, deadline, grp_nst, ptr, rgroup[:n_rep], rlat[:n_rep],
                      mode, admission, free, good_pm, rep_good, arrival.shape[0])


@njit(cache=True, nogil=True)
def rank_models(idx, primary, secondary):
    """``idx`` sorted by ``primary`` (ints), then ``secondary`` (floats), then index, all
    ascending: NumPy's ``lexsort((idx, secondary, primary))`` as stable sorts from the least
    significant key (``idx`` comes ascending)."""
    sec = np.empty(idx.shape[0], dtype=np.float64)
    for i in range(idx.shape[0]):
        sec[i] = secondary[idx[i]]
    idx = idx[np.argsort(sec, kind="mergesort")]
    pri = np.empty(idx.shape[0], dtype=np.int64)
    for i in range(idx.shape[0]):
        pri[i] = primary[idx[i]]
    return idx[np.argsort(pri, kind="mergesort")]


@njit(cache=True, nogil=True)
def group_order(hosts, used, capacity, bottleneck, rates):
    """Every group, least rounded estimated load first (``group_loads(...).round(12)``),
    then most free memory, then lowest index: ``greedy._group_rank``."""
    n_grp, n_m = hosts.shape
    n_st = used.shape[1]
    reps = np.zeros(n_m, dtype=np.int64)
    for g in range(n_grp):
        for m in range(n_m):
            if hosts[g, m]:
                reps[m] += 1
    # group_loads: sum over models of hosts * bottleneck * rate / replicas, as NumPy sums
    terms = np.empty(n_m, dtype=np.float64)
    loads = np.empty(n_grp, dtype=np.float64)
    neg_free = np.empty(n_grp, dtype=np.float64)
    for g in range(n_grp):
        for m in range(n_m):
            r = reps[m] if reps[m] > 1 else 1
            terms[m] = (1.0 * hosts[g, m] * bottleneck[g, m]) * (rates[m] / r)
        loads[g] = np.rint(row_sum(terms) * 1e12) / 1e12  # NumPy's round(12)
        low = capacity - used[g, 0]
        for k in range(1, n_st):
            if capacity - used[g, k] < low:
                low = capacity - used[g, k]
        neg_free[g] = -float(low)
    order = np.argsort(neg_free, kind="mergesort")
    return order[np.argsort(loads[order], kind="mergesort")]


@njit(cache=True, nogil=True)
def fit_matrix(hosts, used, gmem, allowed, capacity, fit):
    """``Assignment.fit_matrix`` into ``fit``: allowed, not hosted, and every stage's
    weights within its room. Returns whether each model fits some group."""
    n_grp, n_m = hosts.shape
    n_st = gmem.shape[2]
    any_fit = np.zeros(n_m, dtype=np.bool_)
    for g in range(n_grp):
        for m in range(n_m):
            ok = allowed[g, m] and not hosts[g, m]
            if ok:
                for k in range(n_st):
                    if gmem[g, m, k] > capacity - used[g, k]:
                        ok = False
                        break
            fit[g, m] = ok
            any_fit[m] |= ok
    return any_fit


@njit(cache=True, nogil=True)
def _step_order(hosts, used, gmem, allowed, capacity, bottleneck, rates, counts, good_pm,
                fit):
    """One step's rankings, as ``construct`` computes them: fills ``fit`` and returns the
    placeable models (most unmet requests first, then highest rate, then lowest index)
    and every group (:func:`group_order`)."""
    any_fit = fit_matrix(hosts, used, gmem, allowed, capacity, fit)
    models = rank_models(np.flatnonzero(any_fit), good_pm - counts, -rates)
    return models, group_order(hosts, used, capacity, bottleneck, rates)


@njit(cache=True, nogil=True)
def greedy(arrival, code, deadline, grp_nst, mode, admission, glat, gmem, allowed, capacity,
           bottleneck, rates, counts, hosts, batch, top_models, top_groups, patience):
    """:func:`placement.greedy.construct` without ``stop_without_gain``.

    ``hosts`` (G, M) is the start and is edited in place; ``patience`` < 0 means none. With
    ``top_models = top_groups = 1``, each step adds up to ``batch`` replicas on distinct
    groups and simulates the result; otherwise it simulates the ``top_models × top_groups``
    candidate additions and keeps the first best, whose per-model counts are the next
    step's (the Python loop simulates it once more). Returns ``(best_hosts, best_good,
    simulations, steps)``.
    """
    n_grp, n_m = hosts.shape
    n_st = gmem.shape[2]
    n_req = arrival.shape[0]
    used = used_memory(hosts, gmem)
    ptr, rgroup, rlat, free, good_pm, rep_good = scratch(n_grp, n_m, glat.shape[2])
    chosen_pm = np.zeros(n_m, dtype=np.int64)
    fit = np.zeros((n_grp, n_m), dtype=np.bool_)
    taken = np.zeros(n_grp, dtype=np.bool_)
    base_pm = np.zeros(n_m, dtype=np.int64)  # the current state's counts
    in_grp = np.zeros(n_grp, dtype=np.bool_)  # the component a change reaches
    in_mod = np.zeros(n_m, dtype=np.bool_)
    best_hosts = hosts.copy()
    best_good = -1
    since_best = 0
    steps = 0
    batch = max(1, batch)
    lookahead = top_models > 1 or top_groups > 1
    if n_grp == 1 and not lookahead and patience < 0:
        return _one_group(arrival, code, deadline, grp_nst, mode, admission, glat, gmem,
                          allowed, capacity, rates, counts, hosts, used)
    good = _simulate(arrival, code, deadline, grp_nst, mode, admission, glat, hosts, ptr,
                     rgroup, rlat, free, good_pm, rep_good)
    sims = 1
    while True:
        if good > best_good:
            best_hosts[:, :] = hosts
            best_good = good
            since_best = 0
        else:
            since_best += 1
        if best_good >= n_req:
            break  # nothing can beat serving every request
        if patience >= 0 and since_best > patience:
            break
        models, order = _step_order(hosts, used, gmem, allowed, capacity, bottleneck, rates,
                                    counts, good_pm, fit)
        if models.shape[0] == 0:
            break
        steps += 1
        if not lookahead:
            taken[:] = False
            added = 0
            for i in range(models.shape[0]):
                if added >= batch:
                    break
                m = models[i]
                for j in range(n_grp):
                    g = order[j]
                    if fit[g, m] and not taken[g]:
                        hosts[g, m] = True
                        for k in range(n_st):
                            used[g, k] += gmem[g, m, k]
                        taken[g] = True
                        added += 1
                        break
            # only the component of the groups that changed can fare differently
            base_pm[:] = good_pm
            in_grp[:] = taken
            connect(hosts, in_grp, in_mod)
            good = run_component(arrival, code, deadline, grp_nst, mode, admission, glat,
                                 hosts, in_mod, counts, good, base_pm, ptr, rgroup, rlat,
                                 free, good_pm, rep_good, -1)
            sims += 1
            continue
        # look-ahead: the neediest models on their least-loaded fitting groups
        c_good, c_g, c_m = -1, -1, -1
        base_pm[:] = good_pm
        for i in range(min(top_models, models.shape[0])):
            m = models[i]
            tried = 0
            for j in range(n_grp):
                if tried >= top_groups:
                    break
                g = order[j]
                if not fit[g, m]:
                    continue
                tried += 1
                hosts[g, m] = True
                # only g's component can change, and only a run better than the best so
                # far matters: one is stopped once it cannot be
                in_grp[:] = False
                in_grp[g] = True
                connect(hosts, in_grp, in_mod)
                trial = run_component(arrival, code, deadline, grp_nst, mode, admission,
                                      glat, hosts, in_mod, counts, good, base_pm, ptr, rgroup,
                                      rlat, free, good_pm, rep_good, c_good)
                hosts[g, m] = False
                sims += 1
                if trial > c_good:  # the first best, as argmax
                    c_good, c_g, c_m = trial, g, m
                    chosen_pm[:] = good_pm
        hosts[c_g, c_m] = True
        for k in range(n_st):
            used[c_g, k] += gmem[c_g, c_m, k]
        good = c_good
        good_pm[:] = chosen_pm
    return best_hosts, best_good, sims, steps


@njit(cache=True, nogil=True)
def _one_group(arrival, code, deadline, grp_nst, mode, admission, glat, gmem, allowed,
               capacity, rates, counts, hosts, used):
    """:func:`greedy` without look-ahead or patience on a single group, simulating only
    the states that can be the best.

    On one group a model without a replica has no good request, so its unmet count is its
    request count: the order of additions (one a step) needs no simulation. A state's good
    requests are at most its hosted models' requests; once the last state is scored, a
    state whose bound is below that score, or not above a better earlier one, cannot be
    the first best and is not simulated. The first best and the step count are the loop's
    (which stops at the first state that serves every request)."""
    n_m = hosts.shape[1]
    n_req = arrival.shape[0]
    fit = np.zeros((1, n_m), dtype=np.bool_)
    order = np.zeros(n_m, dtype=np.int64)
    n_add = 0
    no_good = np.zeros(n_m, dtype=np.int64)
    start = hosts.copy()
    while True:  # the additions, in the loop's order
        any_fit = fit_matrix(hosts, used, gmem, allowed, capacity, fit)
        models = rank_models(np.flatnonzero(any_fit), no_good - counts, -rates)
        if models.shape[0] == 0:
            break
        m = models[0]
        hosts[0, m] = True
        used[0, :] += gmem[0, m, :]
        order[n_add] = m
        n_add += 1
    bound = np.zeros(n_add + 1, dtype=np.int64)  # hosted models' requests per state
    for m in range(n_m):
        if start[0, m]:
            bound[0] += counts[m]
    for k in range(n_add):
        bound[k + 1] = bound[k] + counts[order[k]]
    ptr, rgroup, rlat, free, good_pm, rep_good = scratch(1, n_m, glat.shape[2])
    last = _simulate(arrival, code, deadline, grp_nst, mode, admission, glat, hosts, ptr,
                     rgroup, rlat, free, good_pm, rep_good)
    sims = 1
    hosts[:, :] = start
    best_good, best_k = -1, n_add
    for k in range(n_add):
        if k > 0:
            hosts[0, order[k - 1]] = True
        if bound[k] < last or bound[k] <= best_good:
            continue  # cannot be the first best
        good = _simulate(arrival, code, deadline, grp_nst, mode, admission, glat, hosts, ptr,
                         rgroup, rlat, free, good_pm, rep_good)
        sims += 1
        if good > best_good:
            best_good, best_k = good, k
            if good >= n_req:
                break  # the loop stops here
    if best_good < last:
        best_good, best_k = last, n_add
    best = start  # the start plus the first best_k additions
    for k in range(best_k):
        best[0, order[k]] = True
    return best, best_good, sims, (best_k if best_good >= n_req else n_add)
