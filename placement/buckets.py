"""Model buckets, device splits between buckets, and the group layouts a bucket may use.

AlpaServe separates models whose latencies differ a lot: a slow model in a group makes the
fast models queued behind it miss their (tighter) SLOs. Models are sorted by their
single-device latency and cut where consecutive latencies jump by at least ``ratio``; each
bucket gets its own devices. Device splits are tried around the buckets' shares of the
compute load (rate × latency) and of the weight memory.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alpaserve.cluster_spec import ClusterSpec
from placement.partitions import (
    GroupShape,
    Partition,
    candidate_group_sizes,
    equal_partition,
    group_shapes,
    shape_fits,
)


@dataclass(frozen=True, kw_only=True)
class Layout:
    """A partition of a bucket's devices with one shape per group; ``shape`` is the main one.

    Parameters
    ----------
    partition : Partition
        The bucket's devices cut into groups.
    shape : GroupShape
        The shape of the equal-size groups.
    group_shapes : tuple of GroupShape
        One shape per group of ``partition``, in its order (leftover groups may differ).

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> lay = layouts(homogeneous_cluster(4), range(3))[-1]
    >>> lay.key, [s.key for s in lay.group_shapes]
    ('1x2+1x1 pp1-tp2', ['pp1-tp2', 'pp1-tp1'])
    """

    partition: Partition
    shape: GroupShape
    group_shapes: tuple[GroupShape, ...]

    @property
    def key(self) -> str:
        """The partition's and the main shape's keys, e.g. ``"2x2 pp2-tp1"``."""
        return f"{self.partition.key} {self.shape.key}"

    def groups(self) -> list[tuple[tuple[int, ...], GroupShape]]:
        """Each group's device ids with its shape.

        Returns
        -------
        list of (tuple of int, GroupShape)
            In the partition's order, as :meth:`~placement.problem.Problem.search_space`
            takes them.

        Examples
        --------
        >>> from alpaserve.cluster_spec import homogeneous_cluster
        >>> layouts(homogeneous_cluster(2), range(2))[1].groups()
        [((0, 1), GroupShape(pipeline=2, tensor=1))]
        """
        return list(zip(self.partition.groups, self.group_shapes, strict=True))


def layouts(cluster: ClusterSpec, device_ids: Sequence[int],
            max_group_size: int | None = None) -> list[Layout]:
    """Every equal-size partition of ``device_ids`` and every shape of its groups.

    Leftover groups (smaller than the main size) use the same tensor degree where they can,
    otherwise their own size as the tensor degree.

    Parameters
    ----------
    cluster : ClusterSpec
        The cluster (its node size limits the shapes).
    device_ids : Sequence[int]
        The devices to partition, in id order.
    max_group_size : int, optional
        Largest group size in devices; default no limit beyond the cluster's.

    Returns
    -------
    list of Layout
        Every layout whose groups all fit (see :func:`~placement.partitions.shape_fits`),
        by group size, then shape.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> [l.key for l in layouts(homogeneous_cluster(4), range(4))]
    ['4x1 pp1-tp1', '2x2 pp2-tp1', '2x2 pp1-tp2', '1x4 pp4-tp1', '1x4 pp2-tp2', '1x4 pp1-tp4']
    """
    out = []
    ids = list(device_ids)
    for size in candidate_group_sizes(cluster, len(ids), max_group_size):
        part = equal_partition(cluster, device_ids=ids, group_size=size)
        for shape in group_shapes(cluster, size):
            per_group = []
            for g in part.groups:
                if len(g) == size:
                    per_group.append(shape)
                    continue
                t = min(shape.tensor, len(g))
                while t > 1 and (len(g) % t or not shape_fits(
                        cluster, g, GroupShape(pipeline=len(g) // t, tensor=t))):
                    t //= 2
                per_group.append(GroupShape(pipeline=len(g) // t, tensor=t))
            if all(shape_fits(cluster, g, s) for g, s in zip(part.groups, per_group,
                                                             strict=True)):
                out.append(Layout(partition=part, shape=shape, group_shapes=tuple(per_group)))
    return out


def model_buckets(latency: npt.NDArray[np.float64], ratio: float = 2.0) -> list[list[int]]:
    """Cut models sorted by latency where a latency is at least ``ratio`` × the previous.

    Parameters
    ----------
    latency : numpy.ndarray of float64, shape (M,)
        Per model: its reference latency in seconds (at least one model).
    ratio : float, default 2.0
        Jump between consecutive sorted latencies that starts a new bucket.

    Returns
    -------
    list of list of int
        Buckets of model indices, each sorted, in order of increasing latency.

    Examples
    --------
    >>> model_buckets(np.array([0.1, 0.5, 0.11, 0.55]))
    [[0, 2], [1, 3]]
    >>> model_buckets(np.array([0.1, 0.12]))
    [[0, 1]]
    """
    order = [int(i) for i in np.lexsort((np.arange(latency.size), latency))]
    buckets: list[list[int]] = [[order[0]]]
    for prev, cur in itertools.pairwise(order):
        if latency[cur] >= ratio * latency[prev]:
            buckets.append([])
        buckets[-1].append(cur)
    return [sorted(b) for b in buckets]


def device_splits(num_devices: int, shares: Sequence[Sequence[float]],
                  minimum: Sequence[int], unit: int = 1) -> list[tuple[int, ...]]:
    """Splits of ``num_devices`` among buckets near each given share vector.

    Each split gives bucket ``i`` at least ``minimum[i]`` devices, rounds to multiples of
    ``unit`` where possible, and is tried as is and shifted by one unit either way.

    Parameters
    ----------
    num_devices : int
        Devices to split.
    shares : Sequence of Sequence[float]
        Share vectors, one weight per bucket each (normalised here; all zero means equal).
    minimum : Sequence[int]
        Fewest devices per bucket.
    unit : int, default 1
        Granularity of the split (e.g. the node size).

    Returns
    -------
    list of tuple of int
        Distinct splits summing to ``num_devices`` that give every bucket at least its
        minimum (and at least 1), sorted.

    Examples
    --------
    >>> device_splits(8, [[0.5, 0.5]], [1, 1])
    [(3, 5), (4, 4), (5, 3)]
    """
    k = len(minimum)
    found: set[tuple[int, ...]] = set()
    for share in shares:
        s = np.asarray(share, dtype=np.float64)
        s = s / s.sum() if s.sum() > 0 else np.full(k, 1.0 / k)
        base = [max(minimum[i], round(s[i] * num_devices / unit) * unit) for i in range(k)]
        for delta in (-unit, 0, unit):
            split = list(base)
            split[0] += delta
            split[-1] = num_devices - sum(split[:-1])
            if all(split[i] >= max(minimum[i], 1) for i in range(k)):
                found.add(tuple(split))
    return sorted(found)
