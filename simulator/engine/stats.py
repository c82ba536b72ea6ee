"""The fast engine's statistics kernels: per-model counts and latencies, and exact order
statistics.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.engine.common import DROPPED, SERVED, _njit


@_njit(cache=True)
def summary_kernel(arrival: Any, codes: Any, deadline: Any, finish: Any, status: Any,
                   i0: int, i1: int, req_pm: Any, good_pm: Any, lat_buf: Any,
                   group: Any, served_gm: Any) -> tuple[int, int, int, float, int, float]:
    """One pass of :func:`simulator.result.summarize`; latencies go to ``lat_buf``.

    The latency sum is left to right, like ``cumsum`` in the NumPy version.

    Parameters
    ----------
    arrival : numpy.ndarray of float64, shape (n,)
        Arrival times in seconds.
    codes : numpy.ndarray of int, shape (n,)
        Per request: its model code.
    deadline, finish : numpy.ndarray of float64, shape (n,)
        Per request, in seconds: ``arrival + slo`` and finish (NaN unless served).
    status : numpy.ndarray of int8, shape (n,)
        Per request: status code.
    i0, i1 : int
        Measured requests are ``i0 <= i < i1``.
    req_pm, good_pm : numpy.ndarray of int64, shape (M,)
        Incremented: measured and good requests per model.
    lat_buf : numpy.ndarray of float64
        Receives the measured served latencies in order (room for ``i1 - i0``).
    group : numpy.ndarray of int32, shape (n,)
        Per request: its group; read only when ``served_gm`` has rows.
    served_gm : numpy.ndarray of int64, shape (G, M) or (0, M)
        When it has rows, ``served_gm[group[i], m] +=`` every served request (measured or
        not), for busy time.

    Returns
    -------
    tuple
        ``(served, dropped, unserved, latency_sum, num_latencies, max_finish)``: measured
        counts, the latency sum in seconds, the number of latencies written, and the
        latest finish of any served request (``-inf`` if none).

    Examples
    --------
    >>> a, f = np.array([0.0, 1.0]), np.array([0.5, 2.0])
    >>> req, good, buf = np.zeros(1, np.int64), np.zeros(1, np.int64), np.empty(2)
    >>> summary_kernel(a, np.zeros(2, np.int32), a + 0.8, f, np.zeros(2, np.int8), 0, 2,
    ...                req, good, buf, np.empty(0, np.int32), np.empty((0, 1), np.int64))
    (2, 0, 0, 1.5, 2, 2.0)
    >>> req.tolist(), good.tolist(), buf.tolist()
    ([2], [1], [0.5, 1.0])
    """
    count_served = served_gm.shape[0] > 0
    served = 0
    dropped = 0
    unserved = 0
    total = 0.0
    max_finish = -np.inf
    for i in range(arrival.shape[0]):
        st = status[i]
        if st == SERVED:
            max_finish = max(max_finish, finish[i])
            if count_served:
                served_gm[group[i], codes[i]] += 1
        if i < i0 or i >= i1:
            continue
        m = codes[i]
        req_pm[m] += 1
        if st == SERVED:
            lat = finish[i] - arrival[i]
            lat_buf[served] = lat
            total += lat
            served += 1
            if finish[i] <= deadline[i]:
                good_pm[m] += 1
        elif st == DROPPED:
            dropped += 1
        else:
            unserved += 1
    return served, dropped, unserved, total, served, max_finish


@_njit(cache=True, inline="always")
def _bucket(v: int, lo: int, shift: int, nb: int) -> int:
    # bit patterns below lo (negative doubles too) go to the first bucket, above to the last
    return 0 if v <= lo else min((v - lo) >> shift, nb - 1)


@_njit(cache=True, nogil=True)
def histogram_kernel(a: Any, b: Any, status: Any, lo: int, shift: int, hist: Any) -> None:
    """``hist[k] +=`` the values ``a[i] - b[i]`` (where ``status[i]`` is SERVED; every
    ``a[i]`` when ``status`` is empty) whose bit pattern is in bucket ``k``
    (``(bits - lo) >> shift``, clipped to the histogram).

    Parameters
    ----------
    a, b : numpy.ndarray of float64
        The values are ``a[i] - b[i]`` (``a[i]`` alone when ``status`` is empty).
    status : numpy.ndarray of int8
        Per ``i``: only SERVED entries count; empty to take every ``a[i]``.
    lo : int
        Bit pattern of the histogram's lower bound.
    shift : int
        Bits dropped from ``bits - lo`` to form a bucket index.
    hist : numpy.ndarray of int64
        The histogram, incremented in place.

    Examples
    --------
    >>> hist = np.zeros(2, dtype=np.int64)  # bits >> 62: doubles below 2.0 in bucket 0
    >>> histogram_kernel(np.array([1.0, 2.0, 4.0]), np.empty(0), np.empty(0, np.int8), 0, 62,
    ...                  hist)
    >>> hist.tolist()
    [1, 2]
    """
    nb = hist.shape[0]
    plain = status.shape[0] == 0
    value = np.empty(1)
    bits = value.view(np.int64)  # reads value[0]'s bit pattern
    for i in range(a.shape[0]):
        if plain or status[i] == SERVED:
            value[0] = a[i] if plain else a[i] - b[i]
            hist[_bucket(bits[0], lo, shift, nb)] += 1


@_njit(cache=True, nogil=True)
def gather_kernel(a: Any, b: Any, status: Any, lo: int, shift: int, slot: Any, picked: Any,
                  fill: Any) -> None:
    """Copy each value of :func:`histogram_kernel` whose bucket has a slot ``s >= 0`` to
    ``picked[fill[s]]``, advancing ``fill[s]``.

    Parameters
    ----------
    a, b, status : numpy.ndarray
        The values, as for :func:`histogram_kernel`.
    lo, shift : int
        The bucketing, as for :func:`histogram_kernel`.
    slot : numpy.ndarray of int64
        Per bucket: its slot, or -1 for a bucket not wanted.
    picked : numpy.ndarray of float64
        Receives the gathered values.
    fill : numpy.ndarray of int64
        Per slot: where its next value goes in ``picked``; advanced in place.

    Examples
    --------
    >>> picked, fill = np.empty(2), np.zeros(1, dtype=np.int64)
    >>> gather_kernel(np.array([1.0, 2.0, 4.0]), np.empty(0), np.empty(0, np.int8), 0, 62,
    ...               np.array([-1, 0]), picked, fill)
    >>> picked.tolist(), fill.tolist()
    ([2.0, 4.0], [2])
    """
    nb = slot.shape[0]
    plain = status.shape[0] == 0
    value = np.empty(1)
    bits = value.view(np.int64)
    for i in range(a.shape[0]):
        if plain or status[i] == SERVED:
            value[0] = a[i] if plain else a[i] - b[i]
            s = slot[_bucket(bits[0], lo, shift, nb)]
            if s >= 0:
                picked[fill[s]] = value[0]
                fill[s] += 1


@_njit(cache=True, nogil=True)
def served_sum_kernel(finish: Any, arrival: Any, status: Any, start: float = 0.0) -> float:
    """``start`` plus the served requests' latencies summed left to right, as the kernels
    add them.

    Parameters
    ----------
    finish, arrival : numpy.ndarray of float64, shape (n,)
        Per request, in seconds.
    status : numpy.ndarray of int8, shape (n,)
        Per request: only SERVED requests count.
    start : float, default 0.0
        The running sum to carry on from, in seconds.

    Returns
    -------
    float
        The sum in seconds.

    Examples
    --------
    >>> served_sum_kernel(np.array([0.5, 9.0, 2.0]), np.array([0.0, 0.5, 1.0]),
    ...                   np.array([0, 1, 0], np.int8), 10.0)
    11.5
    """
    total = start
    for i in range(finish.shape[0]):
        if status[i] == SERVED:
            total += finish[i] - arrival[i]
    return total


@_njit(cache=True)
def gather_plan_kernel(hists: Any, kth: Any, slot: Any, bucket: Any, rank: Any,
                       offset: Any, starts: Any) -> int:
    """From per-chunk histograms ``hists[c, b]``: the bucket and the rank inside it of each
    wanted order statistic ``kth[j]`` (ascending), a slot per wanted bucket (``slot[b]``,
    -1 for the others; ``slot`` starts at -1), where each slot's values begin in the
    gathered array (``offset``) and where chunk ``c`` writes its share (``starts[c, s]``).

    Parameters
    ----------
    hists : numpy.ndarray of int64, shape (C, B)
        Per chunk: its histogram of :func:`histogram_kernel`.
    kth : numpy.ndarray of int64, shape (K,)
        Wanted 0-based ranks, ascending.
    slot : numpy.ndarray of int64, shape (B,)
        All -1 on entry; receives each wanted bucket's slot.
    bucket, rank : numpy.ndarray of int64, shape (K,)
        Receive each wanted rank's bucket and its rank inside the bucket.
    offset : numpy.ndarray of int64, shape (K + 1,)
        Receives where each slot's values begin in the gathered array (and where the
        last ends).
    starts : numpy.ndarray of int64, shape (C, K)
        Receives where chunk ``c`` writes its share of slot ``s``.

    Returns
    -------
    int
        The number of slots (distinct wanted buckets).

    Examples
    --------
    >>> slot = np.full(2, -1, dtype=np.int64)
    >>> bucket, rank = np.empty(2, np.int64), np.empty(2, np.int64)
    >>> offset, starts = np.empty(3, np.int64), np.empty((1, 2), np.int64)
    >>> gather_plan_kernel(np.array([[1, 2]]), np.array([0, 2]), slot, bucket, rank, offset,
    ...                    starts)
    2
    >>> bucket.tolist(), rank.tolist(), offset.tolist()
    ([0, 1], [0, 1], [0, 1, 3])
    """
    C, nb = hists.shape
    K = kth.shape[0]
    below = 0
    j = 0
    for b in range(nb):
        count = 0
        for c in range(C):
            count += hists[c, b]
        while j < K and kth[j] < below + count:
            bucket[j] = b
            rank[j] = kth[j] - below
            j += 1
        if j == K:
            break
        below += count
    nslots = 0
    offset[0] = 0
    for j in range(K):
        b = bucket[j]
        if slot[b] < 0:
            slot[b] = nslots
            at = offset[nslots]
            for c in range(C):
                starts[c, nslots] = at
                at += hists[c, b]
            offset[nslots + 1] = at
            nslots += 1
    return nslots
