"""Compiled re-simulation of a placement against a recorded reference run (numba).

The rules are :mod:`placement._kernel`'s. A request only reads and advances the groups that
host its model, so when its model's replicas are the reference's and every group hosting it
is in the reference's state at that moment, it takes the reference's decision: its outcome
is copied instead of simulated. The run tracks, per group, whether its state has *diverged*
from the reference's (holding its own state when it has), and per model how many of its
groups have diverged; a diverged group whose stage free times equal the reference's again,
bit for bit, rejoins it. The outcome is exactly a full run's.

A reference is what any run of :func:`run_diff` records: per request the group whose stages
it advanced (-1 when dropped or unserved), whether it was good, and that group's stage free
times after it. The group's state at request ``i`` in the reference is the record of the last
request before ``i`` that advanced it (``-inf`` before the first).
"""

from __future__ import annotations

import math

import numpy as np

from placement._kernel import njit

INF = math.inf


@njit(cache=True, nogil=True, inline="always")
def _sync(free, ref_state, last, synced, g, nst):
    """Load the reference's current state of group ``g`` into ``free[g]``.

    ``last[g]`` is the record of the reference's latest request on ``g`` (-1: none yet) and
    ``synced[g]`` the record ``free[g]`` holds, so an unchanged state is not copied again."""
    src = last[g]
    if src != synced[g]:
        for k in range(nst):
            free[g, k] = ref_state[src, k] if src >= 0 else -INF
        synced[g] = src


@njit(cache=True, nogil=True, inline="always")
def _flip(h, on, div, aff, dmask, gptr, gmod):
    """Mark group ``h`` diverged (or rejoined): in the bit mask of diverged groups when
    there are at most 64 groups, else in the count of each model it hosts."""
    div[h] = on
    if div.shape[0] <= 64:
        bit = np.uint64(1) << np.uint64(h)
        dmask[0] = dmask[0] | bit if on else dmask[0] & ~bit
        return
    d = 1 if on else -1
    for j in range(gptr[h], gptr[h + 1]):
        aff[gmod[j]] += d


@njit(cache=True, nogil=True, inline="always")
def _same_as_ref(free, ref_state, src, h, nst):
    """Whether group ``h``'s own state equals the reference's, recorded at ``src``."""
    for k in range(nst):
        f = ref_state[src, k] if src >= 0 else -INF
        if free[h, k] != f:
            return False
    return True


@njit(cache=True, nogil=True)
def has_windows(rep_from, rep_until, rep_ready):
    """Whether any replica is limited to a time window or becomes ready late (a search's
    replicas never are: the kernels then skip those checks)."""
    for r in range(rep_from.shape[0]):
        if rep_from[r] > -INF or rep_until[r] < INF or rep_ready[r] > -INF:
            return True
    return False


@njit(cache=True, nogil=True)
def run_diff(arrival, code, deadline, grp_nst, rep_ptr, rep_group, rep_lat, rep_from,
             rep_until, rep_ready, skip_rep, extra_model, extra_group, extra_lat, mode,
             admission, has_ref, changed, ref_grp, ref_rank, ref_good, ref_state, ref_total,
             gptr, gmod, gmask, free, div, last, synced, aff, dmask, tmp, good_pm, rep_good,
             per_replica, record, rec_grp, rec_rank, rec_good, rec_state, rec_list,
             rec_count):
    """Simulate one placement, keeping the reference's outcome where nothing differs.

    The placement is the replicas (CSR by model, as ``_kernel.run_once``) less ``skip_rep``
    plus one always-active replica of ``extra_model`` on ``extra_group``. ``changed[m]`` is
    nonzero for every model whose replicas differ from the reference's; ``gptr``/``gmod``
    list the models each group hosts (a CSR by group) and, with at most 64 groups,
    ``gmask[m]`` the groups hosting model ``m`` as bits. On entry ``good_pm`` and ``rep_good``
    hold the reference's counts (``rep_good`` mapped to these replicas, 0 for changed
    models) and the record arrays the reference's record; only what differs is updated.
    Without a reference (``has_ref`` False) every request is simulated from zeroed counts.
    With a non-empty ``rec_list`` the record is a patch: the simulated requests' records are
    packed at rows ``0, 1, ...`` (``rec_count`` of them, request ids in ``rec_list``; see
    :func:`apply_patch`), so only as much memory is touched as requests are simulated.
    Returns the number of good requests.
    """
    n_rep = rep_group.shape[0]
    last[:] = -1
    synced[:] = -1
    aff[:] = 0
    dmask[0] = 0
    small = div.shape[0] <= 64  # diverged groups as a bit mask
    free[:, :] = -INF  # every group's state before the first request
    div[:] = not has_ref
    total = ref_total if has_ref else 0
    patch = rec_list.shape[0] > 0
    windows = has_windows(rep_from, rep_until, rep_ready)
    for i in range(arrival.shape[0]):
        m = code[i]
        if has_ref and changed[m] == 0 and ((gmask[m] & dmask[0]) == 0 if small
                                            else aff[m] == 0):
            b = ref_grp[i]  # its groups are as in the reference: so is its outcome
            if b >= 0:
                last[b] = i
            continue
        row = rec_count[0] if patch else i  # where this request's record goes
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
                g = -1  # dropped: it uses nothing
            elif t <= deadline[i]:
                gd = 1
        b = -1
        if has_ref:
            b = ref_grp[i]
            rg = ref_good[i]
            total += gd - rg
            good_pm[m] += gd - rg
            if per_replica and rg and changed[m] == 0:  # same replicas, same ranks
                rep_good[lo + ref_rank[i]] -= 1
        else:
            total += gd
            good_pm[m] += gd
        if per_replica and gd:
            rep_good[best_r] += 1
        if b >= 0:  # the reference advanced b
            if not div[b] and b != g:  # ... and this run did not: b keeps its old state
                _sync(free, ref_state, last, synced, b, grp_nst[b])
                _flip(b, True, div, aff, dmask, gptr, gmod)
            last[b] = i
        if g >= 0:
            nst = grp_nst[g]
            agree = False
            if g == b and not div[g]:  # both advanced g: the same way?
                agree = True
                for k in range(nst):
                    if tmp[k] != ref_state[i, k]:
                        agree = False
                        break
            if not agree:
                for k in range(nst):
                    free[g, k] = tmp[k]
                synced[g] = -2  # holds no record now
                if has_ref and not div[g]:
                    _flip(g, True, div, aff, dmask, gptr, gmod)
            if record:
                for k in range(nst):
                    rec_state[row, k] = tmp[k]
        if has_ref:  # a diverged group that was just advanced may agree again
            if g >= 0 and div[g] and _same_as_ref(free, ref_state, last[g], g, grp_nst[g]):
                synced[g] = last[g]
                _flip(g, False, div, aff, dmask, gptr, gmod)
            if b >= 0 and b != g and div[b] and _same_as_ref(free, ref_state, i, b,
                                                             grp_nst[b]):
                synced[b] = i
                _flip(b, False, div, aff, dmask, gptr, gmod)
        if record:
            rec_grp[row] = g
            rec_rank[row] = best_r - lo if g >= 0 else -1
            rec_good[row] = gd
            if patch:
                rec_list[row] = i
                rec_count[0] += 1
    return total


@njit(cache=True, nogil=True)
def apply_patch(grp_nst, rec_list, count, rec_grp, rec_rank, rec_good, rec_state, grp, rank,
                good, state):
    """Write a packed patch (row ``j`` is request ``rec_list[j]``, ``count`` rows) over a
    record."""
    for j in range(count):
        i = rec_list[j]
        g = rec_grp[j]
        grp[i] = g
        rank[i] = rec_rank[j]
        good[i] = rec_good[j]
        if g >= 0:
            for k in range(grp_nst[g]):
                state[i, k] = rec_state[j, k]


@njit(cache=True, nogil=True)
def map_replica_counts(n_models, changed, ptr, ref_ptr, ref_counts):
    """The reference's per-replica counts on these replicas (0 for changed models)."""
    out = np.zeros(ptr[n_models] + 1, dtype=np.int64)
    for m in range(n_models):
        if changed[m] == 0:
            for j in range(ptr[m + 1] - ptr[m]):
                out[ptr[m] + j] = ref_counts[ref_ptr[m] + j]
    return out


@njit(cache=True, nogil=True)
def changed_models(n_models, ptr_a, grp_a, lat_a, from_a, until_a, ready_a, ptr_b, grp_b,
                   lat_b, from_b, until_b, ready_b):
    """Per model: 1 when its replicas differ between placements ``a`` and ``b``."""
    out = np.zeros(n_models, dtype=np.uint8)
    n_st = min(lat_a.shape[1], lat_b.shape[1])
    for m in range(n_models):
        lo_a, lo_b = ptr_a[m], ptr_b[m]
        n = ptr_a[m + 1] - lo_a
        if n != ptr_b[m + 1] - lo_b or lat_a.shape[1] != lat_b.shape[1]:
            out[m] = 1
            continue
        for j in range(n):
            ra, rb = lo_a + j, lo_b + j
            if grp_a[ra] != grp_b[rb] or from_a[ra] != from_b[rb] \
                    or until_a[ra] != until_b[rb] or ready_a[ra] != ready_b[rb]:
                out[m] = 1
                break
            for k in range(n_st):
                if lat_a[ra, k] != lat_b[rb, k]:
                    out[m] = 1
                    break
            if out[m]:
                break
    return out


@njit(cache=True, nogil=True)
def group_models(n_groups, n_models, rep_model, rep_group):
    """The models each group hosts, as a CSR by group ``(gptr, gmod)``, and per model the
    groups hosting it as bits (``gmask``; zeros above 64 groups)."""
    gptr = np.zeros(n_groups + 1, dtype=np.int64)
    gmask = np.zeros(n_models, dtype=np.uint64)
    for r in range(rep_group.shape[0]):
        gptr[rep_group[r] + 1] += 1
        if n_groups <= 64:
            gmask[rep_model[r]] |= np.uint64(1) << np.uint64(rep_group[r])
    for g in range(n_groups):
        gptr[g + 1] += gptr[g]
    fill = gptr[:-1].copy()
    gmod = np.zeros(rep_group.shape[0], dtype=np.int64)
    for r in range(rep_group.shape[0]):
        g = rep_group[r]
        gmod[fill[g]] = rep_model[r]
        fill[g] += 1
    return gptr, gmod, gmask
