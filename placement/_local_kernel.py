"""Local search and memory filling (:func:`placement.local_search.local_search`,
:func:`placement.greedy.fill_free_memory`) in one compiled call each.

The same rounds on the same numbers as the Python routines, with the rankings of
:mod:`placement._greedy_kernel` (bit-for-bit NumPy's), every state a plain full
simulation; a local-search move is scored on its group's component alone and stopped once
it cannot beat the current state (:mod:`placement._component_kernel`), as only moves that
beat it are applied. Where the Python routine re-simulates a state it already scored (a
reverted fill step), the kernel keeps its count instead.
"""

from __future__ import annotations

import numpy as np

from placement._component_kernel import connect, run_component
from placement._greedy_kernel import (
    _simulate,
    fit_matrix,
    group_order,
    rank_models,
    scratch,
    used_memory,
)
from placement._kernel import njit


@njit(cache=True, nogil=True)
def _fits(hosts, used, gmem, allowed, capacity, g, a, b):
    """``Assignment.fits(g, a, removing=b)`` (``b`` -1: no removal)."""
    if not allowed[g, a] or hosts[g, a]:
        return False
    for k in range(used.shape[1]):
        u = used[g, k] + gmem[g, a, k]
        if b >= 0:
            u -= gmem[g, b, k]
        if u > capacity:
            return False
    return True


@njit(cache=True, nogil=True)
def _move(hosts, used, gmem, g, a, b, sign):
    """Apply (``sign`` 1) or undo (-1) the move adding ``a`` to group ``g`` and dropping
    ``b`` (-1: none) from it."""
    if sign > 0:
        if b >= 0:
            hosts[g, b] = False
            used[g, :] -= gmem[g, b, :]
        hosts[g, a] = True
        used[g, :] += gmem[g, a, :]
    else:
        hosts[g, a] = False
        used[g, :] -= gmem[g, a, :]
        if b >= 0:
            hosts[g, b] = True
            used[g, :] += gmem[g, b, :]


@njit(cache=True, nogil=True)
def local_search(arrival, code, deadline, grp_nst, mode, admission, glat, gmem, allowed,
                 capacity, bottleneck, rates, counts, hosts, max_rounds, top_models,
                 top_groups, swaps_per_group, moves_per_round, apply_per_round):
    """:func:`placement.local_search.local_search` from ``hosts`` (edited in place).

    Returns ``(hosts, good, simulations, rounds)``.
    """
    n_grp, n_m = hosts.shape
    used = used_memory(hosts, gmem)
    ptr, rgroup, rlat, free, good_pm, rep_good = scratch(n_grp, n_m, glat.shape[2])
    limit = moves_per_round + swaps_per_group + 1  # a group's swaps may pass the cap
    mv_g = np.zeros(limit, dtype=np.int64)
    mv_a = np.zeros(limit, dtype=np.int64)
    mv_b = np.zeros(limit, dtype=np.int64)
    goods = np.zeros(limit, dtype=np.int64)
    by_model = np.zeros(n_m, dtype=np.int64)
    base_pm = np.zeros(n_m, dtype=np.int64)
    in_grp = np.zeros(n_grp, dtype=np.bool_)
    in_mod = np.zeros(n_m, dtype=np.bool_)
    good = _simulate(arrival, code, deadline, grp_nst, mode, admission, glat, hosts, ptr,
                     rgroup, rlat, free, good_pm, rep_good)
    sims = 1
    rounds = 0
    for _ in range(max_rounds):
        rounds += 1
        unmet = counts - good_pm
        if not np.any(unmet != 0):
            break
        neg_unmet = -unmet.astype(np.float64)
        # this state's good requests per replica, looked up by (group, model)
        rep_at = np.zeros((n_grp, n_m), dtype=np.int64)
        for m in range(n_m):
            for r in range(ptr[m], ptr[m + 1]):
                rep_at[rgroup[r], m] = rep_good[r]
        open_ = np.zeros((n_grp, n_m), dtype=np.bool_)
        needs = np.zeros(n_m, dtype=np.bool_)
        for g in range(n_grp):
            for m in range(n_m):
                open_[g, m] = allowed[g, m] and not hosts[g, m]
                needs[m] |= open_[g, m] and unmet[m] > 0
        needy = rank_models(np.flatnonzero(needs), -unmet, -rates)[:top_models]
        rank = group_order(hosts, used, capacity, bottleneck, rates)
        n_mv = 0
        for a in needy:
            tried = 0
            for j in range(n_grp):
                g = rank[j]
                if not open_[g, a]:
                    continue
                if tried >= top_groups or n_mv >= moves_per_round:
                    break
                if _fits(hosts, used, gmem, allowed, capacity, g, a, -1):
                    mv_g[n_mv], mv_a[n_mv], mv_b[n_mv] = g, a, -1
                    n_mv += 1
                    tried += 1
                    continue
                # swaps: drop the group's least useful replicas first
                for m in range(n_m):
                    by_model[m] = rep_at[g, m]
                useful = rank_models(np.flatnonzero(hosts[g]), by_model, neg_unmet)
                n_swaps = 0
                for b in useful:
                    if n_swaps >= swaps_per_group:
                        break
                    if _fits(hosts, used, gmem, allowed, capacity, g, a, b):
                        mv_g[n_mv], mv_a[n_mv], mv_b[n_mv] = g, a, b
                        n_mv += 1
                        n_swaps += 1
                if n_swaps:
                    tried += 1
        if n_mv == 0:
            break
        # A move changes only its group's component (with the dropped replica still
        # there: its model's other groups see its requests shift), and only moves that
        # beat this state are ever applied: a move is scored on that component alone and
        # stopped once it cannot beat ``good`` (-1). The trials below run in full, so
        # the next round's replica counts cover every replica.
        base_pm[:] = good_pm
        for i in range(n_mv):
            g = mv_g[i]
            hosts[g, mv_a[i]] = True
            in_grp[:] = False
            in_grp[g] = True
            connect(hosts, in_grp, in_mod)
            hosts[g, mv_a[i]] = False
            _move(hosts, used, gmem, g, mv_a[i], mv_b[i], 1)
            goods[i] = run_component(arrival, code, deadline, grp_nst, mode, admission,
                                     glat, hosts, in_mod, counts, good, base_pm, ptr, rgroup,
                                     rlat, free, good_pm, rep_good, good)
            _move(hosts, used, gmem, g, mv_a[i], mv_b[i], -1)
        sims += n_mv
        order = np.argsort(-goods[:n_mv], kind="mergesort")  # best first, then index
        if goods[order[0]] <= good:
            break
        trial = hosts.copy()
        trial_used = used.copy()
        g_used = np.zeros(n_grp, dtype=np.bool_)
        m_used = np.zeros(n_m, dtype=np.bool_)
        n_chosen = 0
        for i in order[:moves_per_round]:
            if goods[i] <= good or n_chosen >= apply_per_round:
                break
            g, a, b = mv_g[i], mv_a[i], mv_b[i]
            if g_used[g] or m_used[a] or (b >= 0 and m_used[b]):
                continue
            n_chosen += 1
            g_used[g] = True
            m_used[a] = True
            if b >= 0:
                m_used[b] = True
            _move(trial, trial_used, gmem, g, a, b, 1)
        trial_good = _simulate(arrival, code, deadline, grp_nst, mode, admission, glat,
                               trial, ptr, rgroup, rlat, free, good_pm, rep_good)
        sims += 1
        if n_chosen > 1 and trial_good < goods[order[0]]:  # the best move alone
            trial = hosts.copy()
            trial_used = used.copy()
            i = order[0]
            _move(trial, trial_used, gmem, mv_g[i], mv_a[i], mv_b[i], 1)
            trial_good = _simulate(arrival, code, deadline, grp_nst, mode, admission, glat,
                                   trial, ptr, rgroup, rlat, free, good_pm, rep_good)
            sims += 1
        if trial_good <= good:
            break
        hosts, used, good = trial, trial_used, trial_good
    return hosts, good, sims, rounds


@njit(cache=True, nogil=True)
def fill_free_memory(arrival, code, deadline, grp_nst, mode, admission, glat, gmem, allowed,
                     capacity, bottleneck, rates, hosts, batch, good):
    """:func:`placement.greedy.fill_free_memory` from ``hosts`` (edited in place), whose
    good count is ``good`` (-1: simulate it). Returns ``(hosts, good, simulations,
    steps)``."""
    n_grp, n_m = hosts.shape
    used = used_memory(hosts, gmem)
    ptr, rgroup, rlat, free, good_pm, rep_good = scratch(n_grp, n_m, glat.shape[2])
    fit = np.zeros((n_grp, n_m), dtype=np.bool_)
    blocked = np.zeros(n_m, dtype=np.bool_)
    taken = np.zeros(n_grp, dtype=np.bool_)
    added_g = np.zeros(n_grp, dtype=np.int64)
    added_m = np.zeros(n_grp, dtype=np.int64)
    no_key = np.zeros(n_m, dtype=np.int64)
    sims = 0
    if good < 0:
        good = _simulate(arrival, code, deadline, grp_nst, mode, admission, glat, hosts, ptr,
                         rgroup, rlat, free, good_pm, rep_good)
        sims = 1
    steps = 0
    while True:
        fit_matrix(hosts, used, gmem, allowed, capacity, fit)
        cand = np.zeros(n_m, dtype=np.bool_)
        for g in range(n_grp):
            for m in range(n_m):
                fit[g, m] = fit[g, m] and not blocked[m]
                cand[m] |= fit[g, m]
        if not np.any(cand):
            break
        steps += 1
        neg_per_replica = np.empty(n_m, dtype=np.float64)
        for m in range(n_m):
            reps = 0
            for g in range(n_grp):
                if hosts[g, m]:
                    reps += 1
            neg_per_replica[m] = -(rates[m] / (reps if reps > 1 else 1))
        models = rank_models(np.flatnonzero(cand), no_key, neg_per_replica)
        order = group_order(hosts, used, capacity, bottleneck, rates)
        taken[:] = False
        n_added = 0
        for m in models:
            if n_added >= batch:
                break
            for j in range(n_grp):
                g = order[j]
                if fit[g, m] and not taken[g]:
                    _move(hosts, used, gmem, g, m, -1, 1)
                    taken[g] = True
                    added_g[n_added], added_m[n_added] = g, m
                    n_added += 1
                    break
        trial = _simulate(arrival, code, deadline, grp_nst, mode, admission, glat, hosts,
                          ptr, rgroup, rlat, free, good_pm, rep_good)
        sims += 1
        if trial >= good:
            good = trial
            continue
        for i in range(n_added):
            _move(hosts, used, gmem, added_g[i], added_m[i], -1, -1)
        if n_added == 1:
            blocked[added_m[0]] = True
        else:
            batch = 1
    return hosts, good, sims, steps
