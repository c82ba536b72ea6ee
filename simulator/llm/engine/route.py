"""Smooth weighted round robin, compiled: the routing rule of :mod:`simulator.llm.semantics`.

The planner routes every candidate deployment's training requests, so this loop runs once
per request per simulation; compiled, it costs nanoseconds a request instead of a Python
iteration. The float operations and their order are those of the rule as written, so the
picks are the same with or without numba.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from simulator.engine.common import _njit


@_njit(cache=True, nogil=True)
def smooth_round_robin(weights: npt.NDArray[np.float64], count: int) -> npt.NDArray[np.int64]:
    """Candidates picked for ``count`` requests by smooth weighted round robin.

    Every candidate's credit grows by its weight, the largest credit wins (ties: the
    earliest candidate), and the winner's credit drops by the total weight.

    Parameters
    ----------
    weights : ndarray of float64
        Positive weight of each candidate.
    count : int
        Requests to route.

    Returns
    -------
    ndarray of int64
        The candidate of each request, in order.

    Examples
    --------
    >>> smooth_round_robin(np.array([2.0, 1.0]), 6).tolist()
    [0, 1, 0, 0, 1, 0]
    """
    n = weights.size
    credit = np.zeros(n)
    total = 0.0
    for k in range(n):
        total += weights[k]
    picks = np.empty(count, dtype=np.int64)
    for i in range(count):
        best = 0
        for k in range(n):
            credit[k] += weights[k]
            if credit[k] > credit[best]:
                best = k
        credit[best] -= total
        picks[i] = best
    return picks
