"""One model's scheduling attempt (:mod:`simulator.llm.semantics`), as compiled loops.

An attempt fills the batch accumulator ``acc`` (tokens, prefill units, decode KV tokens and
the batch's member list) and marks members in flight; it may preempt sequences even when the
batch stays empty.
"""

from __future__ import annotations

from typing import Any

from simulator.engine.common import _njit
from simulator.llm.engine.state import (
    FREE,
    GEN,
    HELD,
    INFL,
    KV,
    LEFT,
    NSEQ,
    NXT,
    RCNT,
    RHEAD,
    STORED,
    TOK,
    UNITS,
    USED,
    WCNT,
    WHEAD,
    admit,
    join_batch,
    preempt,
    victim,
)


@_njit(cache=True, nogil=True)
def decode_pass(seq: Any, ms: Any, gs: Any, acc: Any, prompt: Any, m: int, pool: int,
                block: int, only_complete: bool) -> int:
    """Step 2: every running sequence of model ``m`` not in flight decodes one token, in
    admission order, preempting the latest-admitted ones when a block is needed and none is
    free.

    Parameters
    ----------
    seq, ms, gs, acc : ndarray of int64
        Request, model and group tables, batch accumulator.
    prompt : ndarray of int64
        Prompt tokens per request.
    m, pool : int
        Model slot and the row of ``ms`` holding its free blocks.
    block : int
        Tokens per block.
    only_complete : bool
        Skip sequences whose prefill is incomplete (chunked prefill).

    Returns
    -------
    int
        Sequences preempted.
    """
    preempted = 0
    i = ms[m, RHEAD]
    while i != -1:
        if seq[i, INFL] != 0 or (only_complete and seq[i, LEFT] > 0):
            i = seq[i, NXT]
            continue
        ctx = prompt[i] + seq[i, GEN]
        if ctx > block * seq[i, HELD]:
            itself = False
            while ms[pool, FREE] == 0:
                v = victim(seq, ms, m)
                preempt(seq, ms, gs, prompt, pool, m, v)
                preempted += 1
                if v == i:
                    itself = True
                    break
            if itself:
                # it was the latest-admitted one left: every later sequence is in flight
                return preempted
            ms[pool, FREE] -= 1
            seq[i, HELD] += 1
            gs[USED] += 1
        join_batch(seq, acc, i, True)
        acc[TOK] += 1
        acc[KV] += ctx
        i = seq[i, NXT]
    return preempted


@_njit(cache=True, nogil=True)
def admit_whole(seq: Any, ms: Any, gs: Any, acc: Any, prompt: Any, m: int, pool: int,
                block: int, max_seqs: int, max_tokens: int) -> int:
    """Step 1 (prefill-first): admit whole prefills from the head of model ``m``'s queue.

    Parameters
    ----------
    seq, ms, gs, acc : ndarray of int64
        Request, model and group tables, batch accumulator.
    prompt : ndarray of int64
        Prompt tokens per request.
    m, pool : int
        Model slot and the row of ``ms`` holding its free blocks.
    block, max_seqs, max_tokens : int
        Block size, most running sequences, token budget.

    Returns
    -------
    int
        Requests admitted.
    """
    admitted = 0
    while ms[m, WHEAD] != -1:
        i = ms[m, WHEAD]
        c = prompt[i] + seq[i, GEN]
        need = (c + block - 1) // block
        # a recompute longer than the budget (prompt + g > max_tokens) goes alone
        if (ms[m, RCNT] + 1 > max_seqs or (acc[TOK] + c > max_tokens and admitted > 0)
                or need > ms[pool, FREE]):
            break
        admit(seq, ms, gs, m, i)
        seq[i, HELD] = need
        seq[i, STORED] = c
        seq[i, LEFT] = 0
        ms[pool, FREE] -= need
        gs[USED] += need
        join_batch(seq, acc, i, True)
        acc[TOK] += c
        acc[UNITS] += c * (c + 1) // 2
        admitted += 1
    return admitted


@_njit(cache=True, nogil=True)
def take_chunk(seq: Any, ms: Any, gs: Any, acc: Any, pool: int, block: int, i: int,
               c: int) -> None:
    """Give running request ``i`` a prefill chunk of ``c`` tokens and its blocks.

    Parameters
    ----------
    seq, ms, gs, acc : ndarray of int64
        Request, model and group tables, batch accumulator.
    pool : int
        Row of ``ms`` holding the request's free blocks.
    block : int
        Tokens per block.
    i, c : int
        Request and chunk tokens.
    """
    p = seq[i, STORED]
    acc[UNITS] += c * p + c * (c + 1) // 2
    acc[TOK] += c
    stored = p + c
    held = (stored + block - 1) // block
    extra = held - seq[i, HELD]
    ms[pool, FREE] -= extra
    gs[USED] += extra
    seq[i, HELD] = held
    seq[i, STORED] = stored
    seq[i, LEFT] -= c
    join_batch(seq, acc, i, seq[i, LEFT] == 0)


@_njit(cache=True, nogil=True)
def chunked_attempt(seq: Any, ms: Any, gs: Any, acc: Any, prompt: Any, m: int, pool: int,
                    block: int, max_seqs: int, max_tokens: int) -> int:
    """Model ``m``'s attempt with chunked prefill: decodes, then chunks of incomplete
    prefills, then chunks of waiting requests, within the token budget.

    Parameters
    ----------
    seq, ms, gs, acc : ndarray of int64
        Request, model and group tables, batch accumulator.
    prompt : ndarray of int64
        Prompt tokens per request.
    m, pool : int
        Model slot and the row of ``ms`` holding its free blocks.
    block, max_seqs, max_tokens : int
        Block size, most running sequences, token budget.

    Returns
    -------
    int
        Sequences in the batch.
    """
    decode_pass(seq, ms, gs, acc, prompt, m, pool, block, True)
    i = ms[m, RHEAD]
    while i != -1:
        if seq[i, INFL] != 0 or seq[i, LEFT] == 0:
            i = seq[i, NXT]
            continue
        budget = max_tokens - acc[TOK]
        if budget <= 0:
            break
        c = min(seq[i, LEFT], budget)
        room = block * ms[pool, FREE] + block * seq[i, HELD] - seq[i, STORED]
        if room == 0:
            # no block free and its last one full: take blocks from a later-admitted
            # sequence that is neither in flight nor in the batch (never from itself)
            v = victim(seq, ms, m)
            while room == 0 and v != -1 and v != i:
                preempt(seq, ms, gs, prompt, pool, m, v)
                room = block * ms[pool, FREE] + block * seq[i, HELD] - seq[i, STORED]
                v = victim(seq, ms, m)
        c = min(c, room)
        nxt = seq[i, NXT]
        if c > 0:
            take_chunk(seq, ms, gs, acc, pool, block, i, c)
        i = nxt
    while ms[m, WHEAD] != -1 and ms[m, RCNT] + 1 <= max_seqs:
        i = ms[m, WHEAD]
        rem = prompt[i] + seq[i, GEN]
        c = min(rem, max_tokens - acc[TOK], block * ms[pool, FREE])
        if c <= 0 and rem > 0:
            break
        admit(seq, ms, gs, m, i)
        seq[i, HELD] = 0
        seq[i, STORED] = 0
        seq[i, LEFT] = rem
        take_chunk(seq, ms, gs, acc, pool, block, i, max(c, 0))
    return acc[NSEQ]


@_njit(cache=True, nogil=True)
def prefill_first_attempt(seq: Any, ms: Any, gs: Any, acc: Any, prompt: Any, m: int,
                          pool: int, block: int, max_seqs: int, max_tokens: int) -> int:
    """Model ``m``'s attempt without chunked prefill: prefills, else decodes, else (after a
    preemption) prefills once more.

    Parameters
    ----------
    seq, ms, gs, acc : ndarray of int64
        Request, model and group tables, batch accumulator.
    prompt : ndarray of int64
        Prompt tokens per request.
    m, pool : int
        Model slot and the row of ``ms`` holding its free blocks.
    block, max_seqs, max_tokens : int
        Block size, most running sequences, token budget.

    Returns
    -------
    int
        Sequences in the batch.
    """
    if ms[m, WCNT] > 0 and admit_whole(seq, ms, gs, acc, prompt, m, pool, block, max_seqs,
                                       max_tokens) > 0:
        return acc[NSEQ]
    preempted = decode_pass(seq, ms, gs, acc, prompt, m, pool, block, False)
    if acc[NSEQ] == 0 and preempted > 0:
        admit_whole(seq, ms, gs, acc, prompt, m, pool, block, max_seqs, max_tokens)
    return acc[NSEQ]
