"""The steady-decode fast path of the compiled engine.

Between arrivals and finishes a group often repeats one decode iteration over the same
sequences: with one pipeline stage, nothing waiting and no other model to serve, the next
attempt decodes exactly the running sequences again. :func:`decode_run` plays such a run
without touching the lists: one sequence needs a new block every ``B`` tokens, so a
histogram of their positions within a block says how many blocks each step allocates. The
floats are computed by the same expressions, in the same order, as the general loop, so the
outcome is bit for bit the one without the fast path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.engine.common import _njit
from simulator.llm.engine.state import FREE, GEN, HELD, ITN, USED
from simulator.llm.engine.timeline import record


@_njit(cache=True, nogil=True)
def _linear(lin: Any, off: int, length: int, n_tokens: int) -> float:
    last = length - 1
    if n_tokens <= last:
        return lin[off + n_tokens]
    return lin[off + last] + float(n_tokens - last) * (lin[off + last] - lin[off + last - 1])


@_njit(cache=True, nogil=True)
def decode_run(seq: Any, ms: Any, gs: Any, hist: Any, prompt: Any, output: Any,
               arrival: Any, ap: int, head: int, nseq: int, kv0: int, pool: int, block: int,
               overhead: float, pa: float, da: float, lin: Any, off: int, length: int,
               t: float, t_end: float, busy: float, kv_seconds: float, tl: Any
               ) -> tuple[float, float, float, float, int]:
    """Continue a pure decode iteration (started at ``t``, ending at ``t_end``) with the
    same batch for as long as nothing else can happen.

    A step completes the iteration in flight and starts the next one at its end; the run
    stops before an iteration whose end would see a finish, an arrival, or more new blocks
    than are free, leaving that iteration in flight for the general loop.

    Parameters
    ----------
    seq, ms, gs : ndarray of int64
        Request, model and group tables.
    hist : ndarray of int64, shape (block,)
        Scratch space, zero on entry and on return.
    prompt, output : ndarray of int64
        Tokens per request.
    arrival : ndarray of float64
        Arrival times of the group's requests; ``ap`` is the next to arrive.
    ap, head, nseq, kv0 : int
        Next arrival, first member and size of the batch, its decode KV tokens.
    pool, block : int
        Row of ``ms`` holding the free blocks, tokens per block.
    overhead, pa, da : float
        Cost terms of the model (one pipeline stage).
    lin : ndarray of float64
        Concatenated ``linear_s`` tables; the model's starts at ``off`` with ``length``
        entries.
    off, length : int
        Where the model's table lies in ``lin``.
    t, t_end : float
        Start and end of the iteration in flight.
    busy, kv_seconds : float
        Running sums of the group's busy seconds and KV block-seconds.
    tl : tuple of ndarray or None
        The KV timeline's state (:mod:`simulator.llm.engine.timeline`) or None: each step
        that allocates records its new value.

    Returns
    -------
    tuple
        ``(t, t_end, busy, kv_seconds, steps)`` after ``steps`` more iterations.
    """
    left = output[head]  # more than any sequence's remaining tokens
    j = head
    while j != -1:
        ctx = prompt[j] + seq[j, GEN]
        if seq[j, HELD] != (ctx + block - 1) // block:
            left = 0  # holds a spare block: leave it to the general loop
        rem = output[j] - seq[j, GEN] - 1
        if rem < left:
            left = rem
        hist[ctx % block] += 1
        j = seq[j, ITN]
    steps = 0
    if left > 0:
        linear = _linear(lin, off, length, nseq)
        nxt = arrival[ap] if ap < arrival.size else np.inf
        kv = kv0
        while steps < left and nxt > t_end:
            need = hist[(block + 1 - (steps + 1) % block) % block]
            if need > ms[pool, FREE]:
                break
            used = gs[USED]
            if used > 0:
                kv_seconds += float(used) * (t_end - t)
            t = t_end
            ms[pool, FREE] -= need
            gs[USED] = used + need
            if tl is not None and need > 0:
                record(tl, t, used + need)
            kv += nseq
            s = overhead + linear + pa * 0.0 + da * float(kv)
            busy += s
            t_end = t + s
            steps += 1
    j = head
    while j != -1:
        ctx = prompt[j] + seq[j, GEN]
        hist[ctx % block] = 0
        if steps:
            seq[j, GEN] += steps
            seq[j, HELD] += (ctx + steps + block - 1) // block - (ctx + block - 1) // block
        j = seq[j, ITN]
    return t, t_end, busy, kv_seconds, steps
