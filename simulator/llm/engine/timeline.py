"""The compiled engine's KV timeline: changes of a group's blocks in use, kept online in a
fixed buffer (the rules are in :mod:`simulator.llm.kv_timeline`).

The buffer ``bt``/``bv`` (times, blocks; ``N`` entries) holds the changes themselves while
there are at most ``N``; past that, bucket ``j`` of ``k`` changes occupies entries ``2j``
(its first change) and ``2j + 1`` (its highest). A change is committed only once a later
instant is recorded, so that the instant's settled value is the one kept; ``tf``/``ti`` hold
that pending change and the counters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.engine.common import _njit
from simulator.llm.kv_timeline import FloatArray, IntArray, emit_buckets

# entries of tf (float64)
TF_PEND_T, TF_LAST_T = range(2)
TF_SIZE = 2
# entries of ti (int64)
TI_HAS_PEND, TI_PEND_B, TI_LAST_B, TI_COUNT, TI_STRIDE = range(5)
TI_SIZE = 5


def new_state(max_points: int) -> tuple[FloatArray, IntArray, FloatArray, IntArray]:
    """An empty timeline buffer.

    Parameters
    ----------
    max_points : int
        The cap on points.

    Returns
    -------
    tuple of ndarray
        ``tf``, ``ti``, ``bt``, ``bv``.
    """
    ti = np.zeros(TI_SIZE, dtype=np.int64)
    ti[TI_STRIDE] = 1
    return (np.zeros(TF_SIZE), ti, np.zeros(max_points), np.zeros(max_points, dtype=np.int64))


@_njit(cache=True, nogil=True)
def _bucketize(bt: Any, bv: Any, n: int, k: int) -> None:
    """Turn the first ``n`` raw changes into buckets of ``k`` (in place: bucket ``j`` reads
    entries from ``jk`` on and writes ``2j`` and ``2j + 1``, never ahead of its reads)."""
    for j in range((n + k - 1) // k):
        lo = j * k
        hi = min(n, lo + k)
        top = lo
        for c in range(lo + 1, hi):
            if bv[c] > bv[top]:
                top = c
        ft, fb, tt, tb = bt[lo], bv[lo], bt[top], bv[top]
        bt[2 * j] = ft
        bv[2 * j] = fb
        bt[2 * j + 1] = tt
        bv[2 * j + 1] = tb


@_njit(cache=True, nogil=True)
def _merge(bt: Any, bv: Any, n_buckets: int) -> None:
    """Merge bucket pairs (``2j``, ``2j + 1``) into bucket ``j``: the stride doubles."""
    for j in range((n_buckets + 1) // 2):
        ft, fb = bt[4 * j], bv[4 * j]
        tt, tb = bt[4 * j + 1], bv[4 * j + 1]
        if 2 * j + 1 < n_buckets and bv[4 * j + 3] > tb:
            tt, tb = bt[4 * j + 3], bv[4 * j + 3]
        bt[2 * j] = ft
        bv[2 * j] = fb
        bt[2 * j + 1] = tt
        bv[2 * j + 1] = tb


@_njit(cache=True, nogil=True)
def _commit(tf: Any, ti: Any, bt: Any, bv: Any, t: float, b: int) -> None:
    cap = bt.size
    c = ti[TI_COUNT]
    k = ti[TI_STRIDE]
    ti[TI_COUNT] = c + 1
    ti[TI_LAST_B] = b
    tf[TF_LAST_T] = t
    if k == 1:
        if c < cap:
            bt[c] = t
            bv[c] = b
            return
        k = 2  # the cap is reached: bucket the raw changes so that c + 1 of them fit
        while (c + 1 + k - 1) // k > (cap - 1) // 2:
            k *= 2
        _bucketize(bt, bv, c, k)
        ti[TI_STRIDE] = k
    n_buckets = (cap - 1) // 2
    j = c // k
    if j >= n_buckets:
        _merge(bt, bv, n_buckets)
        k *= 2
        ti[TI_STRIDE] = k
        j = c // k
    if c % k == 0:
        bt[2 * j] = t
        bv[2 * j] = b
        bt[2 * j + 1] = t
        bv[2 * j + 1] = b
    elif b > bv[2 * j + 1]:
        bt[2 * j + 1] = t
        bv[2 * j + 1] = b


@_njit(cache=True, nogil=True, inline="always")
def record(tl: Any, t: float, b: int) -> None:
    """The group holds ``b`` blocks from ``t`` on (a later call at the same ``t`` replaces
    this value; :class:`simulator.llm.kv_timeline.ChangeLog` is the same rule, unbounded).

    Parameters
    ----------
    tl : tuple of ndarray
        The timeline state (:func:`new_state`).
    t : float
        Now (non-decreasing over calls).
    b : int
        Blocks in use.
    """
    tf, ti, bt, bv = tl
    if ti[TI_HAS_PEND] != 0:
        if tf[TF_PEND_T] == t:
            if b == ti[TI_LAST_B]:
                ti[TI_HAS_PEND] = 0  # back to the value before this instant
            else:
                ti[TI_PEND_B] = b
            return
        if b == ti[TI_PEND_B]:
            return
        _commit(tf, ti, bt, bv, tf[TF_PEND_T], ti[TI_PEND_B])
    elif b == ti[TI_LAST_B]:
        return
    tf[TF_PEND_T] = t
    ti[TI_PEND_B] = b
    ti[TI_HAS_PEND] = 1


@_njit(cache=True, nogil=True)
def close(tl: Any) -> None:
    """Commit the pending change (the end of the run).

    Parameters
    ----------
    tl : tuple of ndarray
        The timeline state.
    """
    tf, ti, bt, bv = tl
    if ti[TI_HAS_PEND] != 0:
        _commit(tf, ti, bt, bv, tf[TF_PEND_T], ti[TI_PEND_B])
        ti[TI_HAS_PEND] = 0


def points(tl: tuple[FloatArray, IntArray, FloatArray, IntArray]
           ) -> tuple[FloatArray, IntArray, int]:
    """The kept points of a closed timeline.

    Parameters
    ----------
    tl : tuple of ndarray
        The timeline state, after :func:`close`.

    Returns
    -------
    tuple
        Times (float64), blocks (int64) and the number of changes seen.
    """
    tf, ti, bt, bv = tl
    n, k = int(ti[TI_COUNT]), int(ti[TI_STRIDE])
    if k == 1:
        return bt[:n].copy(), bv[:n].copy(), n
    m = (n - 1) // k + 1
    t, b = emit_buckets(bt[0:2 * m:2], bv[0:2 * m:2], bt[1:2 * m:2], bv[1:2 * m:2],
                        float(tf[TF_LAST_T]), int(ti[TI_LAST_B]))
    return t, b, n
