"""Tensor layouts on a logical mesh and the cost of resharding between them.

A *layout* of a 2-D activation ``[rows, cols]`` says which mesh axes split each dimension:
``((), (1,))`` is split by columns along mesh axis 1; ``((), ())`` is replicated.

Kept apart from :mod:`alpaserve.parallel.sharding` (the per-operator strategies) because
layouts are shared vocabulary: the strategies produce and consume them, and
:mod:`alpaserve.parallel.stage_cost` reshards between layers with :func:`reshard_time`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from alpaserve.cost.model import p2p_time
from alpaserve.parallel.logical_mesh import LogicalMesh

Layout = tuple[tuple[int, ...], tuple[int, ...]]
REPLICATED: Layout = ((), ())


def layout_name(layout: Layout) -> str:
    """``R`` or e.g. ``S0[1]`` (dim 0 split along axis 1), ``S1[0,1]``.

    Parameters
    ----------
    layout : tuple of (tuple of int, tuple of int)
        Mesh axes splitting tensor dims 0 and 1.

    Returns
    -------
    str
        The short name.

    Examples
    --------
    >>> layout_name(((), (1,))), layout_name(REPLICATED)
    ('S1[1]', 'R')
    """
    parts = [f"S{d}[{','.join(map(str, axes))}]" for d, axes in enumerate(layout) if axes]
    return "".join(parts) or "R"


def axes_size(mesh: LogicalMesh, axes: Sequence[int]) -> int:
    """How many devices the mesh axes ``axes`` span together.

    Parameters
    ----------
    mesh : LogicalMesh
        The device mesh.
    axes : sequence of int
        Mesh axes (empty: one device).

    Returns
    -------
    int
        The product of the axes' sizes.

    Examples
    --------
    >>> axes_size(LogicalMesh.uniform((2, 4), bandwidth=1e9, latency=0.0), (0, 1))
    8
    """
    return math.prod(mesh.shape[a] for a in axes)


def reshard_time(src: Layout, dst: Layout, tensor_bytes: float, mesh: LogicalMesh) -> float:
    """Time to turn a tensor laid out as ``src`` into ``dst``, axis by axis.

    Going from split to replicated along an axis is an all-gather; moving the split to the
    other dimension is an all-to-all; going from replicated to split is a local slice (free).

    Parameters
    ----------
    src, dst : Layout
        Source and target layouts.
    tensor_bytes : float
        The full (unsharded) tensor's size in bytes.
    mesh : LogicalMesh
        The mesh whose axis links carry the collectives.

    Returns
    -------
    float
        Seconds.

    Examples
    --------
    >>> m = LogicalMesh.uniform((1, 2), bandwidth=1e9, latency=0.0)
    >>> reshard_time(((1,), ()), REPLICATED, 2e9, m)  # gather the other half: 1 GB
    1.0
    >>> reshard_time(REPLICATED, ((1,), ()), 2e9, m)
    0.0
    """
    if src == dst:
        return 0.0
    current = tensor_bytes / axes_size(mesh, src[0] + src[1])
    total = 0.0
    for a in mesh.active_axes:
        s_dim = 0 if a in src[0] else 1 if a in src[1] else None
        d_dim = 0 if a in dst[0] else 1 if a in dst[1] else None
        if s_dim is None or s_dim == d_dim:
            continue
        n, bw, lat = mesh.shape[a], mesh.bandwidth[a], mesh.latency[a]
        if d_dim is None:  # all-gather: receive the n - 1 other shards
            total += p2p_time((n - 1) * current, bw, lat)
            current *= n
        else:  # all-to-all: keep 1/n, exchange the rest
            total += p2p_time((n - 1) / n * current, bw, lat)
    return total
