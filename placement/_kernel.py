"""Compiled inner loop of the placement evaluator (numba, with a pure-Python fallback).

The semantics are the simulator's (``simulator/``), restricted to what placement search
needs: no batching. Requests are taken in arrival order. A request for model ``m`` may go to
any *active* replica of ``m`` (``active_from <= arrival < active_until``); on its group it
passes the stages in order, FCFS, with unbounded buffers between stages, so its finish time
is known at dispatch::

    t = max(arrival, ready_at); for each stage k: t = max(t, free[g, k]) + latency[k]

Dispatch picks the replica with the earliest predicted finish (``mode 0``) or, AlpaServe's
rule, the one whose group's last stage frees earliest (``mode 1``); ties go to the lower
group id. With admission on, a request whose finish would exceed its deadline is dropped
and uses nothing. A request with no active replica is unserved.

Status codes match ``simulator.result``: 0 served, 1 dropped, 2 unserved.
"""

from __future__ import annotations

import math

import numpy as np

try:  # numba is a core dependency; the fallback keeps the library importable without it
    from numba import njit
except ImportError:  # pragma: no cover - exercised only without numba
    def njit(*args, **kwargs):  # type: ignore[no-redef]
        if args and callable(args[0]):
            return args[0]
        return lambda f: f

INF = math.inf


@njit(cache=True, nogil=True)
def run_once(arrival, code, deadline, grp_nst, rep_ptr, rep_group, rep_lat, rep_from,
             rep_until, rep_ready, skip_rep, extra_model, extra_group, extra_lat, mode,
             admission, free, good_pm, rep_good, record, out_status, out_start, out_finish,
             out_group, out_rep):
    """Simulate one placement; returns the number of good requests.

    ``skip_rep`` (a base replica index or -1) is ignored; ``extra_model`` (or -1) gets one more
    always-active replica on ``extra_group`` with stage latencies ``extra_lat``. Its index in
    ``rep_good`` and ``out_rep`` is ``len(rep_group)``.
    """
    free[:, :] = -INF
    good_pm[:] = 0
    rep_good[:] = 0
    n_rep = rep_group.shape[0]
    total = 0
    windows = False  # a search's replicas are always active and ready: skip those checks
    for r in range(n_rep):
        if rep_from[r] > -INF or rep_until[r] < INF or rep_ready[r] > -INF:
            windows = True
            break
    if not windows and skip_rep < 0 and extra_model < 0 and not record:
        return _run_plain(arrival, code, deadline, grp_nst, rep_ptr, rep_group, rep_lat, mode,
                          admission, free, good_pm, rep_good, arrival.shape[0])
    for i in range(arrival.shape[0]):
        m = code[i]
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
                if mode == 1:  # the key needs no stage walk: only the winner's is taken
                    key = free[g, grp_nst[g] - 1]
                    if key < best_key or (key == best_key and g < best_g):
                        best_key = key
                        best_g = g
                        best_r = r
                    continue
                t = a if not windows or a > rep_ready[r] else rep_ready[r]
                for k in range(grp_nst[g]):
                    f = free[g, k]
                    t = (t if t > f else f) + rep_lat[r, k]
                    if mode == 0 and t > best_fin:
                        break  # stage times only grow: this replica cannot win
            else:
                r = n_rep
                g = extra_group
                if mode == 1:
                    key = free[g, grp_nst[g] - 1]
                    if key < best_key or (key == best_key and g < best_g):
                        best_key = key
                        best_g = g
                        best_r = r
                    continue
                t = a
                for k in range(grp_nst[g]):
                    f = free[g, k]
                    t = (t if t > f else f) + extra_lat[k]
            key = t if mode == 0 else free[g, grp_nst[g] - 1]
            if key < best_key or (key == best_key and g < best_g):
                best_key = key
                best_fin = t
                best_g = g
                best_r = r
        if mode == 1 and best_g >= 0:  # the winner's finish time
            g = best_g
            if best_r < n_rep:
                t = a if not windows or a > rep_ready[best_r] else rep_ready[best_r]
                for k in range(grp_nst[g]):
                    f = free[g, k]
                    t = (t if t > f else f) + rep_lat[best_r, k]
            else:
                t = a
                for k in range(grp_nst[g]):
                    f = free[g, k]
                    t = (t if t > f else f) + extra_lat[k]
            best_fin = t
        if best_g < 0:
            if record:
                out_status[i] = 2
                out_group[i] = -1
                out_rep[i] = -1
            continue
        if admission and best_fin > deadline[i]:
            if record:
                out_status[i] = 1
                out_group[i] = best_g
                out_rep[i] = best_r
            continue
        # commit: recompute the stage times on the chosen replica
        g = best_g
        t = a if best_r == n_rep or not windows or a > rep_ready[best_r] \
            else rep_ready[best_r]
        start = INF
        for k in range(grp_nst[g]):
            f = free[g, k]
            s = t if t > f else f
            if k == 0:
                start = s
            lat = rep_lat[best_r, k] if best_r < n_rep else extra_lat[k]
            t = s + lat
            free[g, k] = t
        if t <= deadline[i]:
            good_pm[m] += 1
            rep_good[best_r] += 1
            total += 1
        if record:
            out_status[i] = 0
            out_start[i] = start
            out_finish[i] = t
            out_group[i] = g
            out_rep[i] = best_r
    return total


@njit(cache=True, nogil=True)
def _run_plain(arrival, code, deadline, grp_nst, rep_ptr, rep_group, rep_lat, mode, admission,
               free, good_pm, rep_good, max_bad):
    """:func:`run_once` without time windows, moves or a record (a search's plain runs): the
    same loop less their branches. ``free``, ``good_pm`` and ``rep_good`` come zeroed.

    A run that has more than ``max_bad`` requests not good stops there and returns -1 (a
    caller that only wants a better run than one it knows; ``len(arrival)``: never)."""
    if grp_nst.max() == 1:
        return _run_one_stage(arrival, code, deadline, rep_ptr, rep_group, rep_lat, mode,
                              admission, good_pm, rep_good, max_bad)
    total = 0
    bad = 0
    for i in range(arrival.shape[0]):
        m = code[i]
        a = arrival[i]
        best_g = -1
        best_r = -1
        best_fin = INF
        if mode == 1:  # the earliest-freeing last stage; only the winner's walk is needed
            best_key = INF
            for r in range(rep_ptr[m], rep_ptr[m + 1]):
                g = rep_group[r]
                key = free[g, grp_nst[g] - 1]
                if key < best_key or (key == best_key and g < best_g):
                    best_key = key
                    best_g = g
                    best_r = r
        else:
            for r in range(rep_ptr[m], rep_ptr[m + 1]):
                g = rep_group[r]
                t = a
                for k in range(grp_nst[g]):
                    f = free[g, k]
                    t = (t if t > f else f) + rep_lat[r, k]
                    if t > best_fin:
                        break  # stage times only grow: this replica cannot win
                if t < best_fin or (t == best_fin and g < best_g):
                    best_fin = t
                    best_g = g
                    best_r = r
        if best_g < 0:  # unserved
            bad += 1
            if bad > max_bad:
                return -1
            continue
        g = best_g
        nst = grp_nst[g]
        t = best_fin
        if mode == 1:  # the winner's finish (earliest-finish computed it while choosing)
            t = a
            for k in range(nst):
                f = free[g, k]
                t = (t if t > f else f) + rep_lat[best_r, k]
        d = deadline[i]
        if admission and t > d:  # dropped: it uses nothing
            bad += 1
            if bad > max_bad:
                return -1
            continue
        t = a
        for k in range(nst):  # commit
            f = free[g, k]
            t = (t if t > f else f) + rep_lat[best_r, k]
            free[g, k] = t
        if t <= d:
            good_pm[m] += 1
            rep_good[best_r] += 1
            total += 1
        else:
            bad += 1
            if bad > max_bad:
                return -1
    return total


@njit(cache=True, nogil=True)
def _run_one_stage(arrival, code, deadline, rep_ptr, rep_group, rep_lat, mode, admission,
                   good_pm, rep_good, max_bad):
    """:func:`_run_plain` when every group has one stage (tensor-parallel groups): a group's
    state is one free time, and both rules compare the same finish or free time."""
    free = np.full(rep_group.max() + 1 if rep_group.shape[0] else 1, -INF)
    total = 0
    bad = 0
    for i in range(arrival.shape[0]):
        m = code[i]
        a = arrival[i]
        best_g = -1
        best_r = -1
        best_key = INF
        for r in range(rep_ptr[m], rep_ptr[m + 1]):
            g = rep_group[r]
            f = free[g]
            key = f if mode == 1 else (a if a > f else f) + rep_lat[r, 0]
            if key < best_key or (key == best_key and g < best_g):
                best_key = key
                best_g = g
                best_r = r
        if best_g < 0:  # unserved
            bad += 1
            if bad > max_bad:
                return -1
            continue
        f = free[best_g]
        t = (a if a > f else f) + rep_lat[best_r, 0]
        d = deadline[i]
        if admission and t > d:  # dropped: it uses nothing
            bad += 1
            if bad > max_bad:
                return -1
            continue
        free[best_g] = t
        if t <= d:
            good_pm[m] += 1
            rep_good[best_r] += 1
            total += 1
        else:
            bad += 1
            if bad > max_bad:
                return -1
    return total


@njit(cache=True, nogil=True)
def _variant(rep_ptr, rep_group, rep_lat, skip, add_model, add_group, add_lat, v_ptr, v_group,
             v_lat):
    """A one-move variant as replica arrays (into ``v_*``): replica ``skip`` left out, and the
    added one last among its model's replicas, so every model's replicas come in the order
    :func:`run_once` visits them (ties go the same way)."""
    n_models = rep_ptr.shape[0] - 1
    j = 0
    for m in range(n_models):
        v_ptr[m] = j
        for r in range(rep_ptr[m], rep_ptr[m + 1]):
            if r != skip:
                v_group[j] = rep_group[r]
                v_lat[j, :] = rep_lat[r, :]
                j += 1
        if m == add_model:
            v_group[j] = add_group
            v_lat[j, :] = add_lat
            j += 1
    v_ptr[n_models] = j


@njit(cache=True, nogil=True)
def run_candidates(arrival, code, deadline, grp_nst, rep_ptr, rep_group, rep_lat, rep_from,
                   rep_until, rep_ready, cand_skip, cand_model, cand_group, cand_lat, mode,
                   admission, n_models):
    """Good-request counts of many one-move variants of a base placement."""
    n_cand = cand_skip.shape[0]
    out = np.zeros(n_cand, dtype=np.int64)
    free = np.zeros((grp_nst.shape[0], rep_lat.shape[1]), dtype=np.float64)
    good_pm = np.zeros(n_models, dtype=np.int64)
    rep_good = np.zeros(rep_group.shape[0] + 1, dtype=np.int64)
    d_i32 = np.zeros(1, dtype=np.int32)
    d_i8 = np.zeros(1, dtype=np.int8)
    d_f = np.zeros(1, dtype=np.float64)
    n_rep = rep_group.shape[0]
    windows = False
    for r in range(n_rep):
        if rep_from[r] > -INF or rep_until[r] < INF or rep_ready[r] > -INF:
            windows = True
            break
    if not windows:  # each variant as replica arrays of its own, run by the plain loops
        v_ptr = np.zeros(n_models + 1, dtype=np.int64)
        v_group = np.zeros(n_rep + 1, dtype=np.int64)
        v_lat = np.zeros((n_rep + 1, rep_lat.shape[1]), dtype=np.float64)
        for c in range(n_cand):
            _variant(rep_ptr, rep_group, rep_lat, cand_skip[c], cand_model[c], cand_group[c],
                     cand_lat[c], v_ptr, v_group, v_lat)
            free[:, :] = -INF
            good_pm[:] = 0
            rep_good[:] = 0
            out[c] = _run_plain(arrival, code, deadline, grp_nst, v_ptr, v_group, v_lat, mode,
                                admission, free, good_pm, rep_good, arrival.shape[0])
        return out
    for c in range(n_cand):
        out[c] = run_once(arrival, code, deadline, grp_nst, rep_ptr, rep_group, rep_lat,
                          rep_from, rep_until, rep_ready, cand_skip[c], cand_model[c],
                          cand_group[c], cand_lat[c], mode, admission, free, good_pm,
                          rep_good, False, d_i8, d_f, d_f, d_i32, d_i32)
    return out
