"""State layout of the compiled token-level engine and its list operations.

One group is simulated with flat int64 tables, no per-request objects:

- ``seq[i, :]``, one row per request of the group (local index ``i``, arrival order):
  tokens generated, blocks held, tokens stored, prefill tokens left, the two links of the
  list the request is on (a model's waiting queue or its running list, never both), whether
  it is in flight, whether its pending iteration emits a token, the link to the next member
  of its iteration, its preemptions and its admission stamp;
- ``ms[m, :]``, one row per model slot: waiting and running list ends and counts, and free
  blocks (row 0 holds the group's pool when the KV cache is shared);
- ``gs``: the group's scalars (blocks in use, models' round-robin position, resident model,
  next admission stamp).

Lists are doubly linked through ``seq[:, NXT]`` and ``seq[:, PRV]`` (``-1`` ends them), so
admission, finishing and preemption are O(1) and the running list keeps admission order.
"""

from __future__ import annotations

from typing import Any

from simulator.engine.common import _njit

# columns of seq
GEN, HELD, STORED, LEFT, NXT, PRV, INFL, EMIT, ITN, PRE, ADM = range(11)
SEQ_COLS = 11
# columns of ms
WHEAD, WTAIL, WCNT, RHEAD, RTAIL, RCNT, FREE = range(7)
MS_COLS = 7
# entries of gs
USED, LAST, RESIDENT, STAMP = range(4)
GS_SIZE = 4
# entries of the batch accumulator
TOK, UNITS, KV, BHEAD, BTAIL, NSEQ = range(6)
ACC_SIZE = 6


@_njit(cache=True, nogil=True)
def _push(seq: Any, ms: Any, near: int, far: int, toward: int, away: int, m: int,
          i: int) -> None:
    # put i at the ``near`` end of a list; ``toward`` links point from that end inwards
    # (push_front: near=head, toward=NXT; push_back mirrors it)
    first = ms[m, near]
    seq[i, toward] = first
    seq[i, away] = -1
    if first == -1:
        ms[m, far] = i
    else:
        seq[first, away] = i
    ms[m, near] = i


@_njit(cache=True, nogil=True)
def push_back(seq: Any, ms: Any, head: int, tail: int, m: int, i: int) -> None:
    """Append request ``i`` to the list of model ``m`` whose ends are columns ``head``/``tail``.

    Parameters
    ----------
    seq, ms : ndarray of int64
        Request and model tables.
    head, tail : int
        Columns of ``ms`` holding the list's ends.
    m, i : int
        Model slot and request.
    """
    _push(seq, ms, tail, head, PRV, NXT, m, i)


@_njit(cache=True, nogil=True)
def push_front(seq: Any, ms: Any, head: int, tail: int, m: int, i: int) -> None:
    """Put request ``i`` at the head of a list of model ``m``.

    Parameters
    ----------
    seq, ms : ndarray of int64
        Request and model tables.
    head, tail : int
        Columns of ``ms`` holding the list's ends.
    m, i : int
        Model slot and request.
    """
    _push(seq, ms, head, tail, NXT, PRV, m, i)


@_njit(cache=True, nogil=True)
def unlink(seq: Any, ms: Any, head: int, tail: int, m: int, i: int) -> None:
    """Remove request ``i`` from a list of model ``m``.

    Parameters
    ----------
    seq, ms : ndarray of int64
        Request and model tables.
    head, tail : int
        Columns of ``ms`` holding the list's ends.
    m, i : int
        Model slot and request.
    """
    p = seq[i, PRV]
    q = seq[i, NXT]
    if p == -1:
        ms[m, head] = q
    else:
        seq[p, NXT] = q
    if q == -1:
        ms[m, tail] = p
    else:
        seq[q, PRV] = p


@_njit(cache=True, nogil=True)
def release(seq: Any, ms: Any, gs: Any, pool: int, i: int) -> None:
    """Free the blocks request ``i`` holds.

    Parameters
    ----------
    seq, ms, gs : ndarray of int64
        Request, model and group tables.
    pool : int
        Row of ``ms`` whose free blocks the request draws on.
    i : int
        Request.
    """
    held = seq[i, HELD]
    ms[pool, FREE] += held
    gs[USED] -= held
    seq[i, HELD] = 0
    seq[i, STORED] = 0


@_njit(cache=True, nogil=True)
def preempt(seq: Any, ms: Any, gs: Any, prompt: Any, pool: int, m: int, i: int) -> None:
    """Preempt running request ``i`` of model ``m`` (recompute): free its blocks, keep its
    tokens, put it at the head of the waiting queue.

    Parameters
    ----------
    seq, ms, gs : ndarray of int64
        Request, model and group tables.
    prompt : ndarray of int64
        Prompt tokens per request.
    pool : int
        Row of ``ms`` whose free blocks the request draws on.
    m, i : int
        Model slot and request.
    """
    release(seq, ms, gs, pool, i)
    unlink(seq, ms, RHEAD, RTAIL, m, i)
    ms[m, RCNT] -= 1
    push_front(seq, ms, WHEAD, WTAIL, m, i)
    ms[m, WCNT] += 1
    seq[i, PRE] += 1
    seq[i, LEFT] = prompt[i] + seq[i, GEN]


@_njit(cache=True, nogil=True)
def admit(seq: Any, ms: Any, gs: Any, m: int, i: int) -> None:
    """Move request ``i`` from model ``m``'s waiting queue to the end of its running list and
    give it the group's next admission stamp (the order preemption and the stuck-group rule
    go by).

    Parameters
    ----------
    seq, ms, gs : ndarray of int64
        Request, model and group tables.
    m, i : int
        Model slot and request.
    """
    unlink(seq, ms, WHEAD, WTAIL, m, i)
    ms[m, WCNT] -= 1
    push_back(seq, ms, RHEAD, RTAIL, m, i)
    ms[m, RCNT] += 1
    seq[i, ADM] = gs[STAMP]
    gs[STAMP] += 1


@_njit(cache=True, nogil=True)
def victim(seq: Any, ms: Any, m: int) -> int:
    """The most recently admitted running request of model ``m`` that is neither in flight nor
    in the batch being formed (batch members are marked in flight as they join).

    Parameters
    ----------
    seq, ms : ndarray of int64
        Request and model tables.
    m : int
        Model slot.

    Returns
    -------
    int
        The request, or -1 when there is none.
    """
    v = ms[m, RTAIL]
    while v != -1 and seq[v, INFL] != 0:
        v = seq[v, PRV]
    return v


@_njit(cache=True, nogil=True)
def group_victim(seq: Any, ms: Any) -> tuple[int, int]:
    """The group's most recently admitted running request that is not in flight.

    Parameters
    ----------
    seq, ms : ndarray of int64
        Request and model tables.

    Returns
    -------
    tuple of int
        ``(model slot, request)``, or ``(-1, -1)`` when there is none.
    """
    best_m = -1
    best = -1
    for m in range(ms.shape[0]):
        v = victim(seq, ms, m)
        if v != -1 and (best == -1 or seq[v, ADM] > seq[best, ADM]):
            best_m = m
            best = v
    return best_m, best


@_njit(cache=True, nogil=True)
def oldest_model(seq: Any, ms: Any) -> int:
    """The model of the group's earliest-admitted running request.

    Parameters
    ----------
    seq, ms : ndarray of int64
        Request and model tables.

    Returns
    -------
    int
        Its model slot, or -1 when nothing runs.
    """
    best_m = -1
    for m in range(ms.shape[0]):
        i = ms[m, RHEAD]
        if i != -1 and (best_m == -1 or seq[i, ADM] < seq[ms[best_m, RHEAD], ADM]):
            best_m = m
    return best_m


@_njit(cache=True, nogil=True)
def join_batch(seq: Any, acc: Any, i: int, emit: bool) -> None:
    """Add request ``i`` to the batch being formed and mark it in flight.

    Parameters
    ----------
    seq, acc : ndarray of int64
        Request table and batch accumulator.
    i : int
        Request.
    emit : bool
        Whether the iteration emits a token for it.
    """
    seq[i, INFL] = 1
    seq[i, EMIT] = 1 if emit else 0
    seq[i, ITN] = -1
    if acc[BTAIL] == -1:
        acc[BHEAD] = i
    else:
        seq[acc[BTAIL], ITN] = i
    acc[BTAIL] = i
    acc[NSEQ] += 1
