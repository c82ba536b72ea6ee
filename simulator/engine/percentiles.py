"""Exact latency percentiles: linear interpolation between order statistics.

:func:`percentiles_in_place` takes one array it may reorder. :func:`served_percentiles` reads
the served requests' latencies straight from the per-request outcomes (finish, arrival and
status), on threads when given a pool, so that no array of latencies is written. Both give
the values of ``np.percentile(..., method="linear")`` exactly; :func:`percentiles_of` does
the same for an array of values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
PERCENTILES = (50.0, 90.0, 99.0)
# histogram buckets of the order-statistics pass; the values of the wanted ones are sorted
_BUCKETS_LOG2 = 12
# a wanted bucket with more values than this is counted again instead of sorted
_SORT_AT_MOST = 1 << 14
# pieces shorter than this are not worth a thread
_MIN_CHUNK = 1 << 17


def _ranks(n: int, qs: tuple[float, ...]) -> tuple[list[float], list[int]]:
    ranks = [q / 100.0 * (n - 1) for q in qs]
    kth = sorted({min(int(r) + d, n - 1) for r in ranks for d in (0, 1)})
    return ranks, kth


def _interpolate(ranks: list[float], kth: list[int], values: Sequence[float],
                 n: int) -> tuple[float, ...]:
    at = dict(zip(kth, values, strict=True))
    out = []
    for r in ranks:
        lo = int(r)
        a, b = at[lo], at[min(lo + 1, n - 1)]
        out.append(a + (r - lo) * (b - a))
    return tuple(out)


def percentiles_in_place(latency: FloatArray, qs: tuple[float, ...] = PERCENTILES
                         ) -> tuple[float, ...]:
    """Linear-interpolation percentiles (rank ``q/100 * (n - 1)``) by ``np.partition``; may
    reorder ``latency``. The definition the compiled :func:`percentiles_of` and
    :func:`served_percentiles` reproduce exactly.

    Parameters
    ----------
    latency : numpy.ndarray of float64
        The values (no NaN); reordered in place.
    qs : tuple of float, default (50.0, 90.0, 99.0)
        Percentiles wanted, each in ``[0, 100]``.

    Returns
    -------
    tuple of float
        One value per entry of ``qs``, in the unit of ``latency``; NaN for an empty array.

    Examples
    --------
    >>> percentiles_in_place(np.array([4.0, 1.0, 3.0, 2.0]), (50.0, 100.0))
    (2.5, 4.0)
    """
    n = latency.shape[0]
    if n == 0:
        return tuple(math.nan for _ in qs)
    ranks, kth = _ranks(n, qs)
    latency.partition(kth)
    return _interpolate(ranks, kth, latency[kth].tolist(), n)


def _chunks(n: int, count: int) -> list[tuple[int, int]]:
    """``[0, n)`` cut into about ``count`` ranges of equal length (none shorter than
    :data:`_MIN_CHUNK` unless ``n`` is)."""
    size = max(_MIN_CHUNK, -(-n // max(1, count)))
    return [(k, min(k + size, n)) for k in range(0, n, size)]


def _bits(x: float) -> int:
    return int(np.array(x, dtype=np.float64).view(np.int64))


def order_statistics(a: FloatArray, b: FloatArray, status: np.ndarray, kth: Sequence[int],
                     lo: float, hi: float, *, pool: Executor | None = None,
                     threads: int = 1) -> FloatArray:
    """The ``kth`` smallest (ascending ranks) of ``a[i] - b[i]`` over the ``i`` with
    ``status[i] == SERVED``, exactly; for served latencies ``a`` is the finish times and
    ``b`` the arrivals. With an empty ``status`` the values are ``a`` itself.

    ``lo`` and ``hi`` should bound the values: the histogram spans them, and a value outside
    lands in the first or last bucket, which is still exact, only slower. Values are
    bucketed by their bit patterns (which order non-negative doubles), the wanted buckets
    gathered and sorted (or counted again when crowded); with a ``pool`` each pass runs on
    ``threads`` ranges of requests at once.

    Parameters
    ----------
    a, b : numpy.ndarray of float64, shape (n,)
        The values are ``a[i] - b[i]`` (``b`` is ignored when ``status`` is empty); the
        selected values must not be NaN.
    status : numpy.ndarray of int8
        Per ``i``: only ``SERVED`` (0) entries count; empty to take every ``a[i]``.
    kth : Sequence[int]
        0-based ranks wanted, ascending, each below the number of selected values.
    lo, hi : float
        Bounds of the values (see above).
    pool : concurrent.futures.Executor, optional
        Runs the passes on ``threads`` ranges at once; default one range in this thread.
    threads : int, default 1
        Ranges per pass when ``pool`` is given.

    Returns
    -------
    numpy.ndarray of float64, shape (len(kth),)
        The order statistics, in the order of ``kth``.

    Examples
    --------
    >>> order_statistics(np.array([3.0, 1.0, 2.0]), np.empty(0), np.empty(0, np.int8),
    ...                  [0, 2], 1.0, 3.0).tolist()
    [1.0, 3.0]
    """
    from simulator.engine.stats import gather_kernel, gather_plan_kernel, histogram_kernel

    top = _bits(float(np.finfo(np.float64).max))
    lo_bits = _bits(lo) if lo > 0 else 0  # also when lo is NaN
    hi_bits = min(_bits(hi), top) if hi > 0 else 0
    hi_bits = max(hi_bits, lo_bits)
    span = hi_bits - lo_bits
    shift = max(0, span.bit_length() - _BUCKETS_LOG2)
    nb = (span >> shift) + 1
    chunks = _chunks(a.shape[0], threads if pool else 1)
    hists = np.zeros((len(chunks), nb), dtype=np.int64)

    def each(func: Callable[[int, int, int], None]) -> None:
        if pool is None or len(chunks) <= 1:
            for c, (begin, end) in enumerate(chunks):
                func(c, begin, end)
        else:
            list(pool.map(lambda c: func(c, *chunks[c]), range(len(chunks))))

    each(lambda c, i, j: histogram_kernel(a[i:j], b[i:j], status[i:j], lo_bits, shift,
                                          hists[c]))
    want = np.asarray(kth, dtype=np.int64)
    K = want.shape[0]
    slot = np.full(nb, -1, dtype=np.int64)
    bucket, rank = np.empty(K, dtype=np.int64), np.empty(K, dtype=np.int64)
    offset = np.empty(K + 1, dtype=np.int64)
    starts = np.empty((len(chunks), K), dtype=np.int64)
    nslots = gather_plan_kernel(hists, want, slot, bucket, rank, offset, starts)
    picked = np.empty(int(offset[nslots]))
    each(lambda c, i, j: gather_kernel(a[i:j], b[i:j], status[i:j], lo_bits, shift, slot,
                                       picked, starts[c]))
    out = np.empty(K)
    which = slot[bucket]
    for s in range(nslots):
        values = picked[offset[s]:offset[s + 1]]
        mine = which == s
        low, high = values.min(), values.max()
        if values.shape[0] > _SORT_AT_MOST and low < high:
            # a crowded bucket (values bunched below the histogram's resolution): count
            # again over its own, narrower range rather than sort it
            out[mine] = _plain_order_statistics(values, rank[mine].tolist(), low, high)
        else:
            values.sort()
            out[mine] = values[rank[mine]]
    return out


def _plain_order_statistics(values: FloatArray, kth: Sequence[int], lo: float,
                            hi: float) -> FloatArray:
    # no second operand and no status: the values themselves
    return order_statistics(values, np.empty(0), np.empty(0, dtype=np.int8), kth, lo, hi)


def percentiles_of(values: FloatArray, qs: tuple[float, ...] = PERCENTILES
                   ) -> tuple[float, ...]:
    """:func:`percentiles_in_place` by the compiled order statistics, leaving ``values``
    as they are.

    Parameters
    ----------
    values : numpy.ndarray of float64
        Non-negative values without NaN (latencies in seconds); not modified.
    qs : tuple of float, default (50.0, 90.0, 99.0)
        Percentiles wanted, each in ``[0, 100]``.

    Returns
    -------
    tuple of float
        One value per entry of ``qs``; NaN for an empty array.

    Examples
    --------
    >>> percentiles_of(np.array([4.0, 1.0, 3.0, 2.0]), (50.0, 100.0))
    (2.5, 4.0)
    """
    n = values.shape[0]
    if n == 0:
        return tuple(math.nan for _ in qs)
    ranks, kth = _ranks(n, qs)
    found = _plain_order_statistics(values, kth, float(values.min()), float(values.max()))
    return _interpolate(ranks, kth, found.tolist(), n)


def served_percentiles(finish: FloatArray, arrival: FloatArray, status: np.ndarray,
                       num_served: int, lo: float, hi: float,
                       qs: tuple[float, ...] = PERCENTILES, *, pool: Executor | None = None,
                       threads: int = 1) -> tuple[float, ...]:
    """:func:`percentiles_in_place` of the served requests' latencies (``finish - arrival``
    where ``status`` is ``SERVED``, ``num_served`` of them), without gathering them first.

    Parameters
    ----------
    finish, arrival : numpy.ndarray of float64, shape (n,)
        Per request, in seconds.
    status : numpy.ndarray of int8, shape (n,)
        Per request: only ``SERVED`` (0) requests count.
    num_served : int
        How many requests are ``SERVED``.
    lo, hi : float
        Bounds of the latencies in seconds (see :func:`order_statistics`).
    qs : tuple of float, default (50.0, 90.0, 99.0)
        Percentiles wanted, each in ``[0, 100]``.
    pool : concurrent.futures.Executor, optional
        Runs the passes on ``threads`` ranges of requests at once.
    threads : int, default 1
        Ranges per pass when ``pool`` is given.

    Returns
    -------
    tuple of float
        One latency in seconds per entry of ``qs``; NaN when nothing was served.

    Examples
    --------
    >>> finish, arrival = np.array([5.0, 9.0, 4.0, 3.0]), np.array([1.0, 0.0, 1.0, 1.0])
    >>> status = np.array([0, 1, 0, 0], dtype=np.int8)  # the second was dropped
    >>> served_percentiles(finish, arrival, status, 3, 2.0, 4.0, (50.0, 100.0))
    (3.0, 4.0)
    """
    if num_served == 0:
        return tuple(math.nan for _ in qs)
    ranks, kth = _ranks(num_served, qs)
    values = order_statistics(finish, arrival, status, kth, lo, hi, pool=pool,
                              threads=threads)
    return _interpolate(ranks, kth, values.tolist(), num_served)
