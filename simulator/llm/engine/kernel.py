"""The event loop of one group, compiled: completions, arrivals, then scheduling.

Groups never interact (routing is load-blind), so :func:`group_kernel` runs one group's
requests (non-rejected, arrival order) from the first arrival until the last finish. Numba
compiles it on first use (``cache=True`` keeps the machine code between processes); without
numba it runs as plain Python, slowly but with the same floats.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.engine.common import _njit
from simulator.llm.engine.attempt import chunked_attempt, prefill_first_attempt
from simulator.llm.engine.fastpath import decode_run
from simulator.llm.engine.state import (
    ACC_SIZE,
    BHEAD,
    BTAIL,
    EMIT,
    FREE,
    GEN,
    GS_SIZE,
    INFL,
    ITN,
    KV,
    LAST,
    MS_COLS,
    NSEQ,
    PRE,
    RCNT,
    RESIDENT,
    RHEAD,
    RTAIL,
    SEQ_COLS,
    TOK,
    UNITS,
    USED,
    WCNT,
    WHEAD,
    WTAIL,
    group_victim,
    oldest_model,
    preempt,
    push_back,
    release,
    unlink,
)
from simulator.llm.engine.timeline import close, record

# entries of the float cost table, one row per model slot
C_OVERHEAD, C_PREFILL, C_DECODE, C_HANDOFF, C_HANDOFF_TOKEN, C_LOAD = range(6)
COST_COLS = 6
# entries of the int cost table
C_STAGES, C_LIN_OFF, C_LIN_LEN, C_KV_BLOCKS = range(4)
ICOST_COLS = 4
# scheduler settings
S_MAX_SEQS, S_MAX_TOKENS, S_BLOCK, S_CHUNKED, S_SHARED, S_SWAP = range(6)
SCHED_SIZE = 6
# outputs: istats = iterations, unfinished; fstats = busy seconds, KV block-seconds
I_ITERS, I_UNFINISHED = range(2)
F_BUSY, F_KV = range(2)


@_njit(cache=True, nogil=True)
def stage_seconds(fcost: Any, icost: Any, lin: Any, m: int, n_tokens: int, units: int,
                  kv: int) -> float:
    """``IterationCost.stage_s`` of model slot ``m``, the same expression in the same order.

    Parameters
    ----------
    fcost, icost : ndarray
        Float and int cost tables (one row per model slot).
    lin : ndarray of float64
        Every model's ``linear_s`` table, concatenated.
    m, n_tokens, units, kv : int
        Model slot, batch tokens, prefill units and decode KV tokens.

    Returns
    -------
    float
        Seconds the iteration holds the first stage.
    """
    off = icost[m, C_LIN_OFF]
    last = icost[m, C_LIN_LEN] - 1
    if n_tokens <= last:
        linear = lin[off + n_tokens]
    else:
        slope = lin[off + last] - lin[off + last - 1]
        linear = lin[off + last] + float(n_tokens - last) * slope
    work = (fcost[m, C_OVERHEAD] + linear + fcost[m, C_PREFILL] * float(units)
            + fcost[m, C_DECODE] * float(kv))
    stages = icost[m, C_STAGES]
    if stages == 1:
        return work
    return (work / float(stages) + fcost[m, C_HANDOFF]
            + fcost[m, C_HANDOFF_TOKEN] * float(n_tokens))


@_njit(cache=True, nogil=True)
def _attempt(seq: Any, ms: Any, gs: Any, acc: Any, prompt: Any, sched: Any, m: int) -> int:
    acc[:] = 0
    acc[BHEAD] = -1
    acc[BTAIL] = -1
    pool = 0 if sched[S_SHARED] != 0 else m
    if sched[S_CHUNKED] != 0:
        return chunked_attempt(seq, ms, gs, acc, prompt, m, pool, sched[S_BLOCK],
                               sched[S_MAX_SEQS], sched[S_MAX_TOKENS])
    return prefill_first_attempt(seq, ms, gs, acc, prompt, m, pool, sched[S_BLOCK],
                                 sched[S_MAX_SEQS], sched[S_MAX_TOKENS])


@_njit(cache=True, nogil=True)
def _unstick(seq: Any, ms: Any, gs: Any, prompt: Any, shared: bool) -> int:
    """The stuck-group rule: preempt the group's latest admission (of any model); return the
    model of its earliest admission, to try first (-1: nothing runs; -2: no victim)."""
    vm, v = group_victim(seq, ms)
    if v == -1:
        return -2
    preempt(seq, ms, gs, prompt, 0 if shared else vm, vm, v)
    return oldest_model(seq, ms)


@_njit(cache=True, nogil=True)
def _choose(seq: Any, ms: Any, gs: Any, acc: Any, prompt: Any, sched: Any, n_if: int) -> int:
    """The model whose attempt yields a batch (left in ``acc``), or -1; with swapping, -2 - m
    asks to load model ``m``. With ``n_if`` iterations in flight."""
    n_models = ms.shape[0]
    start = gs[LAST] + 1
    while True:
        if sched[S_SWAP] != 0:
            r = gs[RESIDENT]
            if ms[r, WCNT] + ms[r, RCNT] > 0:
                if _attempt(seq, ms, gs, acc, prompt, sched, r) > 0:
                    return r
            else:
                for k in range(1, n_models):
                    m = (r + k) % n_models
                    if ms[m, WCNT] > 0:
                        return -2 - m
        else:
            for k in range(n_models):
                m = (start + k) % n_models
                if ms[m, WCNT] + ms[m, RCNT] == 0:
                    continue  # nothing to schedule: the attempt would yield nothing
                if _attempt(seq, ms, gs, acc, prompt, sched, m) > 0:
                    return m
        if n_if != 0 or gs[USED] == 0:
            return -1  # wait for the next event
        # stuck group: nothing in flight will free a block (kept out of line: it is rare)
        first = _unstick(seq, ms, gs, prompt, sched[S_SHARED] != 0)
        if first == -2:
            return -1  # cannot happen (blocks are held by running sequences)
        start = gs[LAST] + 1 if first == -1 else first


@_njit(cache=True, nogil=True)
def _steady(ms: Any, acc: Any, icost: Any, sched: Any, m: int, n_if: int) -> bool:
    """Whether the batch just formed is a pure decode of all of model ``m``'s sequences that
    the next attempt would repeat (one stage, nothing waiting, no other model to serve)."""
    if (n_if != 1 or icost[m, C_STAGES] != 1 or acc[UNITS] != 0 or acc[TOK] != acc[NSEQ]
            or ms[m, WCNT] != 0 or acc[NSEQ] != ms[m, RCNT]):
        return False
    if sched[S_SWAP] == 0:
        for k in range(ms.shape[0]):
            if k != m and ms[k, WCNT] + ms[k, RCNT] > 0:
                return False
    return True


@_njit(cache=True, nogil=True)
def group_kernel(arrival: Any, prompt: Any, output: Any, slot: Any, fcost: Any, icost: Any,
                 lin: Any, sched: Any, first: Any, finish: Any, preemptions: Any,
                 istats: Any, fstats: Any, tl: Any, fast: bool) -> None:
    """Simulate one group's requests under :mod:`simulator.llm.semantics`.

    Parameters
    ----------
    arrival : ndarray of float64
        Arrival times of the group's scheduled (non-rejected) requests, non-decreasing.
    prompt, output, slot : ndarray of int64
        Their prompt and output tokens and model slots.
    fcost : ndarray of float64, shape (models, COST_COLS)
        Per model slot: overhead, prefill and decode attention, hand-offs, load seconds.
    icost : ndarray of int64, shape (models, ICOST_COLS)
        Per model slot: pipeline stages, offset and length of its table in ``lin``, KV blocks.
    lin : ndarray of float64
        The ``linear_s`` tables, concatenated.
    sched : ndarray of int64, shape (SCHED_SIZE,)
        Most sequences, token budget, block size, chunked, shared KV, swap (0/1).
    first, finish : ndarray of float64
        Out: first-token and finish times per request.
    preemptions : ndarray of int64
        Out: preemptions per request.
    istats : ndarray of int64, shape (2,)
        Out: iterations run; requests left unfinished (non-zero only through a bug).
    fstats : ndarray of float64, shape (2,)
        Out: busy seconds of the first stage; KV block-seconds.
    tl : tuple of ndarray or None
        The KV timeline's state (:func:`simulator.llm.engine.timeline.new_state`), or None
        not to record one (numba then compiles the recording out).
    fast : bool
        Play steady decode runs with :func:`~simulator.llm.engine.fastpath.decode_run`
        (same floats; ``False`` only to check that).
    """
    n = arrival.size
    n_models = icost.shape[0]
    seq = np.zeros((n, SEQ_COLS), dtype=np.int64)
    ms = np.full((n_models, MS_COLS), -1, dtype=np.int64)
    ms[:, WCNT] = 0
    ms[:, RCNT] = 0
    ms[:, FREE] = 0
    if sched[S_SHARED] != 0:
        ms[0, FREE] = icost[:, C_KV_BLOCKS].sum()
    else:
        ms[:, FREE] = icost[:, C_KV_BLOCKS]
    gs = np.zeros(GS_SIZE, dtype=np.int64)
    gs[LAST] = n_models - 1
    acc = np.zeros(ACC_SIZE, dtype=np.int64)
    hist = np.zeros(sched[S_BLOCK], dtype=np.int64)
    # in-flight iterations hold disjoint non-empty batches of running sequences
    cap = min(n, n_models * sched[S_MAX_SEQS]) + 1
    if_end = np.empty(cap, dtype=np.float64)
    if_head = np.empty(cap, dtype=np.int64)
    n_if = 0
    shared = sched[S_SHARED] != 0
    iterations = 0
    finished = 0
    busy = 0.0
    kv_seconds = 0.0
    free_at = -np.inf
    t = -np.inf
    ap = 0
    while True:
        tn = np.inf
        for k in range(n_if):
            if if_end[k] < tn:
                tn = if_end[k]
        if ap < n and arrival[ap] < tn:
            tn = arrival[ap]
        if t < free_at < tn:
            tn = free_at
        if tn == np.inf:
            break
        if gs[USED] > 0:
            kv_seconds += float(gs[USED]) * (tn - t)
        t = tn
        if n_if > 0:  # completions ending now, in start order
            kept = 0
            for k in range(n_if):
                if if_end[k] > t:
                    if_end[kept] = if_end[k]
                    if_head[kept] = if_head[k]
                    kept += 1
                    continue
                j = if_head[k]
                while j != -1:
                    nxt = seq[j, ITN]
                    seq[j, INFL] = 0
                    if seq[j, EMIT] != 0:
                        g = seq[j, GEN] + 1
                        seq[j, GEN] = g
                        if g == 1:
                            first[j] = t
                        if g == output[j]:
                            finish[j] = t
                            m = slot[j]
                            release(seq, ms, gs, 0 if shared else m, j)
                            unlink(seq, ms, RHEAD, RTAIL, m, j)
                            ms[m, RCNT] -= 1
                            finished += 1
                    j = nxt
            n_if = kept
        while ap < n and arrival[ap] <= t:
            m = slot[ap]
            push_back(seq, ms, WHEAD, WTAIL, m, ap)
            ms[m, WCNT] += 1
            ap += 1
        while free_at <= t:
            m = _choose(seq, ms, gs, acc, prompt, sched, n_if)
            if m == -1:
                break
            if m < -1:  # swap: load the next model, then schedule when it is resident
                m = -2 - m
                gs[RESIDENT] = m
                busy += fcost[m, C_LOAD]
                free_at = t + fcost[m, C_LOAD]
                continue
            s = stage_seconds(fcost, icost, lin, m, acc[TOK], acc[UNITS], acc[KV])
            gs[LAST] = m
            iterations += 1
            busy += s
            free_at = t + s
            if_end[n_if] = t + float(icost[m, C_STAGES]) * s
            if_head[n_if] = acc[BHEAD]
            n_if += 1
            if if_end[n_if - 1] <= t:
                break  # it ends now (zero seconds): complete it before scheduling again
            if fast and _steady(ms, acc, icost, sched, m, n_if):
                if tl is not None:  # this instant's value before the run moves on
                    record(tl, t, gs[USED])
                t, t_end, busy, kv_seconds, steps = decode_run(
                    seq, ms, gs, hist, prompt, output, arrival, ap, acc[BHEAD], acc[NSEQ],
                    acc[KV], 0 if shared else m, sched[S_BLOCK], fcost[m, C_OVERHEAD],
                    fcost[m, C_PREFILL], fcost[m, C_DECODE], lin, icost[m, C_LIN_OFF],
                    icost[m, C_LIN_LEN], t, if_end[0], busy, kv_seconds, tl)
                iterations += steps
                free_at = t_end
                if_end[0] = t_end
        if tl is not None:
            record(tl, t, gs[USED])
    if tl is not None:
        close(tl)
    for i in range(n):
        preemptions[i] = seq[i, PRE]
    istats[I_ITERS] = iterations
    istats[I_UNFINISHED] = n - finished
    fstats[F_BUSY] = busy
    fstats[F_KV] = kv_seconds

