"""Partitions of a cluster's devices into groups, and the pipeline × tensor shapes of a group.

AlpaServe's search space: every group of a partition has the same power-of-two size ``s``
(the *equal groups*); devices left over when ``s`` does not divide the device count form
smaller power-of-two groups (the *leftovers*). Groups never straddle a node unless they are
made of whole nodes, and a tensor-parallel stage (one sub-mesh) never spans nodes: its
all-reduces would run over the slow inter-node link.

Devices are taken in id order, so groups are contiguous ranges of device ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alpaserve.cluster_spec import ClusterSpec, Mesh
from alpaserve.errors import SpecError


@dataclass(frozen=True, kw_only=True)
class GroupShape:
    """``pipeline`` stages of ``tensor`` devices each.

    Parameters
    ----------
    pipeline : int
        Pipeline stages (>= 1).
    tensor : int
        Devices per stage, the tensor-parallel degree (>= 1).

    Raises
    ------
    SpecError
        If either is not a positive int.

    Examples
    --------
    >>> GroupShape(pipeline=2, tensor=4).num_devices, GroupShape(pipeline=2, tensor=4).key
    (8, 'pp2-tp4')
    """

    pipeline: int
    tensor: int

    def __post_init__(self) -> None:
        for name in ("pipeline", "tensor"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise SpecError(f"GroupShape.{name} must be a positive int, got {value!r}")

    @property
    def num_devices(self) -> int:
        """Devices of a group of this shape."""
        return self.pipeline * self.tensor

    @property
    def key(self) -> str:
        """``pp<pipeline>-tp<tensor>``."""
        return f"pp{self.pipeline}-tp{self.tensor}"


@dataclass(frozen=True, kw_only=True)
class Partition:
    """Disjoint device groups; ``groups[i]`` is a tuple of device ids in id order.

    Parameters
    ----------
    groups : tuple of tuple of int
        The groups' device ids.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> p = equal_partition(homogeneous_cluster(8), device_ids=range(6), group_size=4)
    >>> p.groups, p.sizes
    (((0, 1, 2, 3), (4, 5)), (4, 2))
    """

    groups: tuple[tuple[int, ...], ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        """Devices per group."""
        return tuple(len(g) for g in self.groups)

    @property
    def num_devices(self) -> int:
        """Devices over all groups."""
        return sum(self.sizes)

    @property
    def key(self) -> str:
        """``4x8+1x4``: how many groups of each size."""
        counts: dict[int, int] = {}
        for s in self.sizes:
            counts[s] = counts.get(s, 0) + 1
        return "+".join(f"{n}x{s}" for s, n in sorted(counts.items(), reverse=True))


def _largest_pow2_at_most(n: int) -> int:
    return 1 << (n.bit_length() - 1)


def _check_ids(cluster: ClusterSpec, ids: Sequence[int]) -> None:
    """Raise ``check_device``'s error for the first id that is not a device of ``cluster``;
    the common all-valid case is checked in bulk, without a call per device."""
    n = cluster.num_devices
    if not all(type(d) is int and 0 <= d < n for d in ids):
        for d in ids:
            cluster.check_device(d)


def _node_runs(cluster: ClusterSpec, device_ids: Sequence[int]) -> list[list[int]]:
    """Maximal runs of consecutive device ids that lie on one node (ids already checked)."""
    runs: list[list[int]] = []
    per = cluster.devices_per_node
    for d in sorted(device_ids):
        if runs and runs[-1][-1] == d - 1 and d // per == (d - 1) // per:
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


def equal_partition(cluster: ClusterSpec, *, device_ids: Sequence[int] | range,
                    group_size: int) -> Partition:
    """Groups of ``group_size`` devices (a power of two) plus power-of-two leftovers.

    A group no larger than a node lies inside one node. A larger group is made of whole
    nodes (``group_size`` must then be a multiple of the devices on a node), so each of its
    node-sized pieces can hold a tensor-parallel stage.

    Parameters
    ----------
    cluster : ClusterSpec
        The devices.
    device_ids : Sequence[int] or range
        The devices to partition (distinct, valid ids).
    group_size : int
        Devices per equal group, a power of two.

    Returns
    -------
    Partition
        Groups sorted by their first device id.

    Raises
    ------
    SpecError
        For a group size that is not a power of two (or spans nodes without being a
        multiple of the node size), duplicate ids or an id outside the cluster.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> equal_partition(homogeneous_cluster(8), device_ids=range(7), group_size=4).groups
    ((0, 1, 2, 3), (4, 5), (6,))
    """
    ids = sorted(device_ids)
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size <= 0 \
            or group_size & (group_size - 1):
        raise SpecError(f"group_size must be a positive power of two, got {group_size!r}")
    if len(set(ids)) != len(ids):
        raise SpecError(f"device_ids has duplicates: {ids}")
    _check_ids(cluster, ids)
    per_node = cluster.devices_per_node
    groups: list[tuple[int, ...]] = []
    runs = _node_runs(cluster, ids)
    leftovers: list[list[int]] = []
    if group_size > per_node:
        if group_size % per_node:
            raise SpecError(f"group_size={group_size} spans nodes but is not a multiple of "
                            f"devices_per_node={per_node}")
        whole = [r for r in runs if len(r) == per_node]
        leftovers = [r for r in runs if len(r) != per_node]
        k = group_size // per_node
        for i in range(0, len(whole) - k + 1, k):
            groups.append(tuple(d for r in whole[i:i + k] for d in r))
        for r in whole[(len(whole) // k) * k:]:
            leftovers.append(r)
        size_inside = _largest_pow2_at_most(per_node)
    else:
        leftovers = runs
        size_inside = group_size
    for run in leftovers:
        pos = 0
        while pos < len(run):
            size = min(size_inside, _largest_pow2_at_most(len(run) - pos))
            groups.append(tuple(run[pos:pos + size]))
            pos += size
    groups.sort(key=lambda g: g[0])
    return Partition(groups=tuple(groups))


def candidate_group_sizes(cluster: ClusterSpec, num_devices: int,
                          max_group_size: int | None = None) -> list[int]:
    """Powers of two up to ``num_devices`` (and ``max_group_size``) that can form a group.

    Parameters
    ----------
    cluster : ClusterSpec
        The devices; a size above a node must be a multiple of the node size.
    num_devices : int
        Devices available.
    max_group_size : int, optional
        Largest size wanted; default ``num_devices``.

    Returns
    -------
    list of int
        The sizes, ascending.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> candidate_group_sizes(homogeneous_cluster(32), 32, max_group_size=16)
    [1, 2, 4, 8, 16]
    """
    limit = num_devices if max_group_size is None else min(num_devices, max_group_size)
    sizes = []
    s = 1
    while s <= limit:
        if s <= cluster.devices_per_node or s % cluster.devices_per_node == 0:
            sizes.append(s)
        s *= 2
    return sizes


def group_shapes(cluster: ClusterSpec, group_size: int) -> list[GroupShape]:
    """Every ``pipeline × tensor`` shape of a group whose tensor stages stay within a node.

    Parameters
    ----------
    cluster : ClusterSpec
        The devices; the tensor degree must divide the node size.
    group_size : int
        Devices in the group.

    Returns
    -------
    list of GroupShape
        By increasing tensor degree (powers of two).

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> [s.key for s in group_shapes(homogeneous_cluster(16), 16)]
    ['pp16-tp1', 'pp8-tp2', 'pp4-tp4', 'pp2-tp8']
    """
    shapes = []
    t = 1
    while t <= group_size:
        if group_size % t == 0 and t <= cluster.devices_per_node \
                and cluster.devices_per_node % t == 0:
            shapes.append(GroupShape(pipeline=group_size // t, tensor=t))
        t *= 2
    return shapes


def check_shape(cluster: ClusterSpec, device_ids: Sequence[int], shape: GroupShape) -> None:
    """Raise unless ``shape`` can be laid on ``device_ids`` (what :func:`stage_meshes` checks,
    without building the meshes).

    Parameters
    ----------
    cluster : ClusterSpec
        The devices.
    device_ids : Sequence[int]
        The group's devices, ``shape.num_devices`` of them, in stage order.
    shape : GroupShape
        The group's shape.

    Returns
    -------
    None

    Raises
    ------
    SpecError
        When the device count does not match the shape, or a tensor-parallel stage would
        span two nodes.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> check_shape(homogeneous_cluster(16), range(4, 12), GroupShape(pipeline=1, tensor=8))
    Traceback (most recent call last):
    ...
    alpaserve.errors.SpecError: stage 0 of shape pp1-tp8 on devices (4, ..., 11) spans nodes; ...
    """
    ids = tuple(device_ids)
    if len(ids) != shape.num_devices:
        raise SpecError(f"shape {shape.key} needs {shape.num_devices} devices, "
                        f"got {len(ids)}: {ids}")
    t = shape.tensor
    if t == 1:
        return
    per = cluster.devices_per_node
    for k in range(shape.pipeline):
        part = ids[k * t:(k + 1) * t]
        _check_ids(cluster, part)
        if len({d // per for d in part}) > 1:
            raise SpecError(f"stage {k} of shape {shape.key} on devices {part} spans nodes; "
                            "a tensor-parallel stage must stay within one node")


def stage_meshes(cluster: ClusterSpec, device_ids: Sequence[int],
                 shape: GroupShape) -> tuple[Mesh, ...]:
    """Cut a group's devices into ``shape.pipeline`` consecutive sub-meshes.

    Parameters
    ----------
    cluster : ClusterSpec
        The devices.
    device_ids : Sequence[int]
        The group's devices, ``shape.num_devices`` of them, in stage order.
    shape : GroupShape
        The group's shape.

    Returns
    -------
    tuple of Mesh
        One ``1 × tensor`` mesh per stage.

    Raises
    ------
    SpecError
        When the device count does not match the shape, or a tensor-parallel stage would
        span two nodes (see :func:`check_shape`).

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> ms = stage_meshes(homogeneous_cluster(4), [0, 1, 2, 3], GroupShape(pipeline=2, tensor=2))
    >>> [m.device_ids for m in ms]
    [(0, 1), (2, 3)]
    """
    ids = tuple(device_ids)
    check_shape(cluster, ids, shape)
    return tuple(Mesh(device_ids=ids[k * shape.tensor:(k + 1) * shape.tensor],
                      shape=(1, shape.tensor)) for k in range(shape.pipeline))


def shape_fits(cluster: ClusterSpec, device_ids: Sequence[int], shape: GroupShape) -> bool:
    """Whether ``shape`` can be laid on ``device_ids`` without a stage spanning nodes.

    Parameters
    ----------
    cluster : ClusterSpec
        The devices.
    device_ids : Sequence[int]
        The group's devices.
    shape : GroupShape
        The shape to try.

    Returns
    -------
    bool
        True when :func:`stage_meshes` accepts it (device count included).

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> c = homogeneous_cluster(16)  # two nodes of 8
    >>> tp8 = GroupShape(pipeline=1, tensor=8)
    >>> shape_fits(c, range(4, 12), tp8), shape_fits(c, range(8, 16), tp8)
    (False, True)
    """
    try:
        check_shape(cluster, device_ids, shape)
    except SpecError:
        return False
    return True


def split_devices(cluster: ClusterSpec, counts: Sequence[int]) -> list[tuple[int, ...]]:
    """Consecutive device ranges of the given sizes (for splitting devices among buckets).

    Parameters
    ----------
    cluster : ClusterSpec
        The devices.
    counts : Sequence[int]
        Devices per range (each >= 0, summing to at most the cluster's devices).

    Returns
    -------
    list of tuple of int
        The ranges' device ids, from device 0 on.

    Raises
    ------
    SpecError
        If a count is negative or they exceed the cluster.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> [len(r) for r in split_devices(homogeneous_cluster(8), [6, 2])]
    [6, 2]
    """
    if sum(counts) > cluster.num_devices or any(c < 0 for c in counts):
        raise SpecError(f"cannot split {cluster.num_devices} devices into {list(counts)}")
    out, pos = [], 0
    for c in counts:
        out.append(tuple(range(pos, pos + c)))
        pos += c
    return out
