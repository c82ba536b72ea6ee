"""The inter-operator DP: split L layers into contiguous stages on sub-meshes.

Alpa's inference formulation: with ``g[s, i, d]`` the smallest possible slowest-stage latency
of running layers ``[0, i)`` as ``s`` stages on the first ``d`` devices,

    g[s, i, d] = min over k < i and sub-mesh size m of max(g[s-1, k, d-m], t(k, i, d-m, m))

where ``t(k, i, offset, m)`` is the latency of layers ``[k, i)`` on the ``m`` devices from
``offset`` (including the activation transfer to the next stage; ``inf`` when it does not
fit). The answer is ``g[p, L, D]``: every device used exactly. Passing one size gives equal
sub-meshes; several sizes allow unequal ones.

Ties on the slowest stage are broken by the total latency. A lexicographic (max, sum) DP is
not exact (a prefix with a smaller max can force a larger sum), so a second pass minimises the
sum of stage latencies over stages no slower than the optimal max.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from alpaserve._validation import positive_int
from alpaserve.errors import SpecError

#: ``(offset, size) -> array[k, i]`` of stage latencies for layers ``[k, i)``.
StageCostFn = Callable[[int, int], np.ndarray]


@dataclass(frozen=True, kw_only=True)
class StagePlacement:
    """One pipeline stage: a contiguous run of layers on a contiguous sub-mesh.

    Parameters
    ----------
    layer_start, layer_end : int
        The stage runs layers ``[layer_start, layer_end)``.
    device_offset : int
        Index of the stage's first device within the group.
    num_devices : int
        Size of the stage's sub-mesh.
    latency : float
        The stage's latency in seconds, including the activation transfer to the next stage.
    """

    layer_start: int
    layer_end: int
    device_offset: int
    num_devices: int
    latency: float


@dataclass(frozen=True, kw_only=True)
class LayerPartition:
    """Stages in pipeline order, the slowest stage and the sum of all stages.

    Parameters
    ----------
    stages : tuple of StagePlacement
        The stages in pipeline order; together they cover every layer and every device.
    max_stage_latency : float
        The slowest stage's latency in seconds (the pipeline's throughput bound).
    total_latency : float
        The sum of the stage latencies in seconds (one request's latency through the pipeline).
    """

    stages: tuple[StagePlacement, ...]
    max_stage_latency: float
    total_latency: float


def partition_layers(*, num_layers: int, num_stages: int, num_devices: int,
                     sizes: Sequence[int], stage_cost: StageCostFn,
                     rel_tol: float = 1e-9) -> LayerPartition | None:
    """The exact min-max partition (ties by total latency), or ``None`` if nothing fits.

    Parameters
    ----------
    num_layers : int
        Number of layers ``L`` to split.
    num_stages : int
        Number of pipeline stages ``p``.
    num_devices : int
        Number of devices ``D`` in the group; every device is used exactly.
    sizes : sequence of int
        Allowed sub-mesh sizes; one size gives equal sub-meshes.
    stage_cost : callable
        ``stage_cost(offset, size)`` returns an ``(L + 1) × (L + 1)`` array whose ``[k, i]``
        entry is the latency of layers ``[k, i)`` on ``size`` devices from ``offset`` (``inf``
        when they do not fit).
    rel_tol : float, default 1e-9
        Relative tolerance when collecting stages no slower than the optimal maximum.

    Returns
    -------
    LayerPartition or None
        The min-max partition with ties broken by total latency, or ``None`` when no split
        fits.

    Examples
    --------
    >>> lat = np.array([1.0, 3.0, 1.0, 1.0])  # per-layer latency on one device
    >>> def cost(offset, size):
    ...     c = np.full((5, 5), np.inf)
    ...     for k in range(4):
    ...         for i in range(k + 1, 5):
    ...             c[k, i] = lat[k:i].sum() / size
    ...     return c
    >>> p = partition_layers(num_layers=4, num_stages=2, num_devices=2, sizes=[1],
    ...                      stage_cost=cost)
    >>> [(s.layer_start, s.layer_end) for s in p.stages], p.max_stage_latency
    ([(0, 2), (2, 4)], 4.0)
    """
    positive_int("partition_layers", "num_layers", num_layers)
    positive_int("partition_layers", "num_stages", num_stages)
    positive_int("partition_layers", "num_devices", num_devices)
    sizes = sorted({positive_int("partition_layers", "size", m) for m in sizes})
    if not sizes:
        raise SpecError("partition_layers needs at least one sub-mesh size")
    n, p, dev = num_layers, num_stages, num_devices
    if p > n or p > dev:
        return None
    memo: dict[tuple[int, int], np.ndarray] = {}

    def cost(offset: int, m: int) -> np.ndarray:
        c = memo.get((offset, m))
        if c is None:
            c = np.asarray(stage_cost(offset, m), dtype=float)
            if c.shape != (n + 1, n + 1):
                raise SpecError(f"stage cost for offset {offset}, size {m} has shape "
                                f"{c.shape}, expected {(n + 1, n + 1)}")
            c = np.where(np.triu(np.ones_like(c, dtype=bool), k=1), c, np.inf)
            memo[(offset, m)] = c
        return c

    inf = np.inf
    g = np.full((p + 1, n + 1, dev + 1), inf)
    g[0, 0, 0] = 0.0
    for s in range(1, p + 1):
        for d in range(1, dev + 1):
            for m in sizes:
                if m > d or not np.isfinite(g[s - 1, :, d - m]).any():
                    continue
                cand = np.maximum(g[s - 1, :, d - m][:, None], cost(d - m, m)).min(axis=0)
                np.minimum(g[s, :, d], cand, out=g[s, :, d])
    best_max = g[p, n, dev]
    if not np.isfinite(best_max):
        return None

    cap = best_max * (1 + rel_tol) + 1e-15
    h = np.full((p + 1, n + 1, dev + 1), inf)
    h[0, 0, 0] = 0.0
    arg_k = np.zeros((p + 1, n + 1, dev + 1), dtype=int)
    arg_m = np.zeros((p + 1, n + 1, dev + 1), dtype=int)
    for s in range(1, p + 1):
        for d in range(1, dev + 1):
            for m in sizes:
                if m > d or not np.isfinite(h[s - 1, :, d - m]).any():
                    continue
                c = cost(d - m, m)
                total = h[s - 1, :, d - m][:, None] + np.where(c <= cap, c, inf)
                k = total.argmin(axis=0)
                val = total[k, np.arange(n + 1)]
                better = val < h[s, :, d]
                h[s, better, d] = val[better]
                arg_k[s, better, d] = k[better]
                arg_m[s, better, d] = m
    stages = []
    i, d = n, dev
    for s in range(p, 0, -1):
        k, m = int(arg_k[s, i, d]), int(arg_m[s, i, d])
        stages.append(StagePlacement(layer_start=k, layer_end=i, device_offset=d - m,
                                     num_devices=m, latency=float(cost(d - m, m)[k, i])))
        i, d = k, d - m
    stages.reverse()
    return LayerPartition(stages=tuple(stages),
                     max_stage_latency=max(st.latency for st in stages),
                     total_latency=float(sum(st.latency for st in stages)))
