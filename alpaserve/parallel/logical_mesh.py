"""A logical 2-D device mesh with the link speed of each axis.

Collectives along mesh axis ``a`` run among the devices that differ only in their coordinate
``a``. Devices are laid out row-major: axis 1 groups consecutive device ids, axis 0 strides
over them. Each axis takes the slowest link among the devices it groups (from
:meth:`ClusterSpec.link`), so a ``(2, 8)`` mesh over two 8-GPU nodes has a slow axis 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alpaserve._validation import non_negative_float, positive_float, positive_int
from alpaserve.cluster_spec import ClusterSpec
from alpaserve.errors import SpecError


@dataclass(frozen=True, kw_only=True)
class LogicalMesh:
    """``shape = (rows, cols)`` devices; ``bandwidth[a]``/``latency[a]`` of axis ``a``.

    Parameters
    ----------
    shape : tuple of (int, int)
        ``(rows, cols)``; the mesh has ``rows * cols`` devices.
    bandwidth : tuple of (float, float)
        Link bandwidth of each axis in bytes per second.
    latency : tuple of (float, float)
        Link latency of each axis in seconds.

    Examples
    --------
    >>> m = LogicalMesh(shape=(1, 4), bandwidth=(100e9, 100e9), latency=(1e-5, 1e-5))
    >>> m.size, m.active_axes
    (4, (1,))
    """

    shape: tuple[int, int]
    bandwidth: tuple[float, float]
    latency: tuple[float, float]

    def __post_init__(self) -> None:
        if len(self.shape) != 2 or len(self.bandwidth) != 2 or len(self.latency) != 2:
            raise SpecError(f"LogicalMesh needs two axes, got shape={self.shape!r}")
        for a in (0, 1):
            positive_int("LogicalMesh", f"shape[{a}]", self.shape[a])
            positive_float("LogicalMesh", f"bandwidth[{a}]", self.bandwidth[a])
            non_negative_float("LogicalMesh", f"latency[{a}]", self.latency[a])
        object.__setattr__(self, "shape", tuple(self.shape))
        object.__setattr__(self, "bandwidth", tuple(float(x) for x in self.bandwidth))
        object.__setattr__(self, "latency", tuple(float(x) for x in self.latency))

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def active_axes(self) -> tuple[int, ...]:
        """Axes with more than one device (the only ones a strategy can split along)."""
        return tuple(a for a in (0, 1) if self.shape[a] > 1)

    @classmethod
    def uniform(cls, shape: tuple[int, int], bandwidth: float, latency: float) -> LogicalMesh:
        """Both axes on the same link.

        Parameters
        ----------
        shape : tuple of (int, int)
            ``(rows, cols)``.
        bandwidth : float
            Bytes per second on both axes.
        latency : float
            Seconds per message on both axes.

        Returns
        -------
        LogicalMesh
            A mesh whose two axes share one link speed.
        """
        return cls(shape=shape, bandwidth=(bandwidth, bandwidth), latency=(latency, latency))

    @classmethod
    def from_cluster(cls, cluster: ClusterSpec, device_ids: Sequence[int],
                     shape: tuple[int, int]) -> LogicalMesh:
        """The mesh of ``device_ids`` (row-major) in ``cluster``.

        Parameters
        ----------
        cluster : ClusterSpec
            The cluster whose link speeds apply (intra-node or inter-node per axis).
        device_ids : sequence of int
            The mesh's devices, row-major; ``len(device_ids)`` must equal ``rows * cols``.
        shape : tuple of (int, int)
            ``(rows, cols)``.

        Returns
        -------
        LogicalMesh
            Each axis takes the link between the devices along it (intra-node speeds
    for an axis of one device).

        Examples
        --------
        >>> from alpaserve.cluster_spec import homogeneous_cluster
        >>> m = LogicalMesh.from_cluster(homogeneous_cluster(16), range(16), (2, 8))
        >>> m.bandwidth[0] < m.bandwidth[1]
        True
        """
        ids = list(device_ids)
        rows, cols = shape
        if rows * cols != len(ids):
            raise SpecError(f"mesh shape {shape} does not hold {len(ids)} devices")
        bws, lats = [], []
        for group in (ids[::cols], ids[:cols]):  # axis 0: a column; axis 1: a row
            if len(group) > 1:
                bw, lat = cluster.link(group)
            else:
                bw, lat = cluster.intra_node_bandwidth, cluster.intra_node_latency
            bws.append(bw)
            lats.append(lat)
        return cls(shape=(rows, cols), bandwidth=(bws[0], bws[1]), latency=(lats[0], lats[1]))


def mesh_shapes(num_devices: int) -> tuple[tuple[int, int], ...]:
    """Logical shapes of ``num_devices``: ``(1, n)`` and ``(r, n/r)`` with ``2 <= r <= n/r``.

    Parameters
    ----------
    num_devices : int
        The number of devices (a positive integer).

    Returns
    -------
    tuple of (int, int)
        The shapes, ``(1, n)`` first and then by rows ascending.

    Examples
    --------
    >>> mesh_shapes(8)
    ((1, 8), (2, 4))
    >>> mesh_shapes(16)
    ((1, 16), (2, 8), (4, 4))
    """
    positive_int("mesh_shapes", "num_devices", num_devices)
    shapes = [(1, num_devices)]
    r = 2
    while r * r <= num_devices:
        if num_devices % r == 0:
            shapes.append((r, num_devices // r))
        r += 1
    return tuple(shapes)
