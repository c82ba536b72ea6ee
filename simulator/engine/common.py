"""Shared pieces of the fast engine's kernels: the numba decorator (with a pure-Python
fallback), status and policy codes, and small inlined helpers of the pipeline recurrence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:
    from numba import njit as _njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is missing
    HAVE_NUMBA = False

    def _njit(*args: Any, **kwargs: Any) -> Any:  # type: ignore[no-redef]
        def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
            func.py_func = func  # type: ignore[attr-defined]
            return func
        return wrap

SERVED, DROPPED, UNSERVED = 0, 1, 2
EARLIEST_FINISH, LEAST_OUTSTANDING, ALPASERVE = 0, 1, 2


@_njit(cache=True, inline="always")
def _clipped(begin: float, length: float, clip: bool, lo: float, hi: float) -> float:
    if not clip:
        return length
    end = begin + length
    a = begin if begin > lo else lo
    b = end if end < hi else hi
    return b - a if b > a else 0.0


@_njit(cache=True, inline="always")
def _exit(F: Any, lat: Any, g: int, m: int, j: int, nst: int, t: float) -> float:
    e = t
    for k in range(nst):
        e = max(e, F[g, k]) + lat[g, m, j, k]
    return e


@_njit(cache=True, inline="always")
def _pop_exited(g: int, t: float, phead: Any, pcount: Any, pnext: Any, pexit: Any) -> None:
    while pcount[g] > 0 and pexit[phead[g]] <= t:
        phead[g] = pnext[phead[g]]
        pcount[g] -= 1


@_njit(cache=True, inline="always")
def _push_pipeline(g: int, i: int, ex: float, phead: Any, ptail: Any, pcount: Any,
                   pnext: Any, pexit: Any) -> None:
    pexit[i] = ex
    pnext[i] = -1
    if pcount[g] == 0:
        phead[g] = i
    else:
        pnext[ptail[g]] = i
    ptail[g] = i
    pcount[g] += 1


@_njit(cache=True, inline="always")
def _checkpoint(i: int, stride: int) -> bool:
    # stride is a power of two (or 0: no checkpoints)
    return stride > 0 and (i & (stride - 1)) == 0


@_njit(cache=True, inline="always")
def _equivalent(A: Any, B: Any, t: float) -> bool:
    """Whether stage-free-time states ``A`` and ``B`` (groups x stages) make the same
    earliest-finish decisions, with the same float values, for every arrival from ``t``.

    Per group: equal rows, or both rows at or before ``t`` (rows never decrease along the
    stages, so the last entry says): the recurrence only reads ``max(e, F[g, k])`` with
    ``e >= t``, where such a row never wins.
    """
    last = A.shape[1] - 1
    for g in range(A.shape[0]):
        if A[g, last] <= t and B[g, last] <= t:
            continue
        for k in range(last + 1):
            if A[g, k] != B[g, k]:
                return False
    return True
