"""Clusters of identical nodes, and meshes (sets of devices with a logical shape).

Devices are numbered ``0 .. num_devices - 1`` node by node, so device ``d`` lives on node
``d // devices_per_node``. Default link figures are those of an AWS p3.16xlarge (8 × V100 with
NVLink, about 130 GB/s of all-reduce bus bandwidth within a node, 25 Gbit/s between nodes,
PCIe 3 x16 to the host at about 12 GB/s).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from alpaserve._validation import non_negative_float, positive_float, positive_int
from alpaserve.device_spec import DeviceSpec, device_preset
from alpaserve.errors import SpecError


@dataclass(frozen=True, kw_only=True)
class ClusterSpec:
    """``num_nodes`` nodes of ``devices_per_node`` identical devices.

    Parameters
    ----------
    num_nodes : int
        Number of nodes; positive.
    devices_per_node : int
        Devices in each node; positive.
    device : DeviceSpec
        The device every slot holds.
    intra_node_bandwidth : float, default 130e9
        All-reduce bus bandwidth within a node, bytes/s; positive.
    inter_node_bandwidth : float, default 3.125e9
        Bandwidth between nodes, bytes/s (25 Gbit/s); positive.
    intra_node_latency : float, default 5e-6
        Link latency within a node, seconds; non-negative.
    inter_node_latency : float, default 20e-6
        Link latency between nodes, seconds; non-negative.
    host_to_device_bandwidth : float, default 12e9
        Host-to-device copy bandwidth (PCIe), bytes/s; positive.

    Raises
    ------
    SpecError
        If a count is not positive, ``device`` is not a ``DeviceSpec`` or a link figure is
        out of range.

    Examples
    --------
    >>> c = ClusterSpec(num_nodes=2, devices_per_node=4, device=device_preset("t4"))
    >>> c.num_devices, c.node_of(5)
    (8, 1)
    """

    num_nodes: int
    devices_per_node: int
    device: DeviceSpec
    intra_node_bandwidth: float = 130e9
    inter_node_bandwidth: float = 3.125e9
    intra_node_latency: float = 5e-6
    inter_node_latency: float = 20e-6
    host_to_device_bandwidth: float = 12e9

    def __post_init__(self) -> None:
        positive_int("ClusterSpec", "num_nodes", self.num_nodes)
        positive_int("ClusterSpec", "devices_per_node", self.devices_per_node)
        if not isinstance(self.device, DeviceSpec):
            raise SpecError(f"ClusterSpec.device must be a DeviceSpec, got {self.device!r}")
        for name in ("intra_node_bandwidth", "inter_node_bandwidth", "host_to_device_bandwidth"):
            positive_float("ClusterSpec", name, getattr(self, name))
        for name in ("intra_node_latency", "inter_node_latency"):
            non_negative_float("ClusterSpec", name, getattr(self, name))

    @property
    def num_devices(self) -> int:
        return self.num_nodes * self.devices_per_node

    def node_of(self, device_id: int) -> int:
        """The node that holds device ``device_id``.

        Parameters
        ----------
        device_id : int
            A device of the cluster, ``0 <= device_id < num_devices``.

        Returns
        -------
        int
            ``device_id // devices_per_node``.

        Raises
        ------
        SpecError
            If the device is not in the cluster.

        Examples
        --------
        >>> homogeneous_cluster(16).node_of(9)
        1
        """
        self.check_device(device_id)
        return device_id // self.devices_per_node

    def check_device(self, device_id: int) -> None:
        """Check that ``device_id`` names a device of the cluster.

        Parameters
        ----------
        device_id : int
            The device id to check.

        Raises
        ------
        SpecError
            If it is not an int in ``[0, num_devices)``.

        Examples
        --------
        >>> homogeneous_cluster(2).check_device(2)
        Traceback (most recent call last):
        ...
        alpaserve.errors.SpecError: device id 2 is outside the cluster's 2 devices
        """
        if isinstance(device_id, bool) or not isinstance(device_id, int) \
                or not 0 <= device_id < self.num_devices:
            raise SpecError(f"device id {device_id!r} is outside the cluster's "
                            f"{self.num_devices} devices")

    def spans_nodes(self, device_ids: Iterable[int]) -> bool:
        """Whether the devices live on more than one node.

        Parameters
        ----------
        device_ids : iterable of int
            Devices of the cluster.

        Returns
        -------
        bool
            True if at least two of them are on different nodes.

        Examples
        --------
        >>> c = homogeneous_cluster(16)
        >>> c.spans_nodes([0, 7]), c.spans_nodes([7, 8])
        (False, True)
        """
        return len({self.node_of(d) for d in device_ids}) > 1

    def link(self, device_ids: Iterable[int]) -> tuple[float, float]:
        """(bandwidth B/s, latency s) of the slowest link among ``device_ids``.

        Parameters
        ----------
        device_ids : iterable of int
            Devices of the cluster.

        Returns
        -------
        tuple of (float, float)
            The inter-node figures if the devices span nodes, else the intra-node ones.

        Examples
        --------
        >>> homogeneous_cluster(16).link([7, 8])
        (3125000000.0, 2e-05)
        """
        if self.spans_nodes(device_ids):
            return self.inter_node_bandwidth, self.inter_node_latency
        return self.intra_node_bandwidth, self.intra_node_latency

    def mesh(self, device_ids: Iterable[int], shape: tuple[int, int] | None = None) -> Mesh:
        """A mesh of this cluster's devices; the default shape is ``(1, n)``.

        Parameters
        ----------
        device_ids : iterable of int
            Distinct devices of the cluster.
        shape : tuple of (int, int), optional
            Logical ``(rows, cols)`` with ``rows * cols`` devices; default ``(1, n)``.

        Returns
        -------
        Mesh
            The validated mesh.

        Raises
        ------
        SpecError
            If a device is not in the cluster or the shape does not fit.

        Examples
        --------
        >>> homogeneous_cluster(8).mesh([4, 5, 6, 7], shape=(2, 2)).shape
        (2, 2)
        """
        ids = tuple(device_ids)
        if len(ids) > self.num_devices:
            raise SpecError(f"a mesh of {len(ids)} devices is larger than the cluster's "
                            f"{self.num_devices} devices")
        for d in ids:
            self.check_device(d)
        return Mesh(device_ids=ids, shape=shape or (1, len(ids)))

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (the device as a nested dict).

        Returns
        -------
        dict of str to Any
            Every field by name; :meth:`from_dict` inverts it.

        Examples
        --------
        >>> homogeneous_cluster(8).to_dict()["device"]["name"]
        'v100-16gb\'
        """
        return {
            "num_nodes": self.num_nodes,
            "devices_per_node": self.devices_per_node,
            "device": self.device.to_dict(),
            "intra_node_bandwidth": self.intra_node_bandwidth,
            "inter_node_bandwidth": self.inter_node_bandwidth,
            "intra_node_latency": self.intra_node_latency,
            "inter_node_latency": self.inter_node_latency,
            "host_to_device_bandwidth": self.host_to_device_bandwidth,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterSpec:
        """Build a cluster from :meth:`to_dict`'s output.

        Parameters
        ----------
        data : dict of str to Any
            The fields by name, ``device`` as a dict.

        Returns
        -------
        ClusterSpec
            The validated cluster.

        Raises
        ------
        SpecError
            If a field is missing, unknown or out of range.

        Examples
        --------
        >>> c = homogeneous_cluster(8)
        >>> ClusterSpec.from_dict(c.to_dict()) == c
        True
        """
        try:
            fields = dict(data)
            fields["device"] = DeviceSpec.from_dict(fields["device"])
            return cls(**fields)
        except (TypeError, KeyError) as exc:
            raise SpecError(f"cannot build a ClusterSpec from {data!r}: {exc}") from exc


def homogeneous_cluster(num_devices: int, device: str | DeviceSpec = "v100-16gb",
                        devices_per_node: int = 8) -> ClusterSpec:
    """A cluster of ``num_devices`` devices packed into nodes of ``devices_per_node``.

    A cluster smaller than one node is a single node of ``num_devices`` devices.

    Parameters
    ----------
    num_devices : int
        Total devices; positive, and a multiple of ``devices_per_node`` when larger.
    device : str or DeviceSpec, default "v100-16gb"
        A device preset name or a spec.
    devices_per_node : int, default 8
        Devices per node; positive.

    Returns
    -------
    ClusterSpec
        The cluster, with the default (p3.16xlarge) link figures.

    Raises
    ------
    SpecError
        If a count is not positive, the preset is unknown, or ``num_devices`` is not a
        multiple of ``devices_per_node``.

    Examples
    --------
    >>> homogeneous_cluster(32).num_nodes
    4
    >>> homogeneous_cluster(4).devices_per_node
    4
    """
    positive_int("homogeneous_cluster", "num_devices", num_devices)
    positive_int("homogeneous_cluster", "devices_per_node", devices_per_node)
    spec = device_preset(device) if isinstance(device, str) else device
    per_node = min(devices_per_node, num_devices)
    if num_devices % per_node:
        raise SpecError(f"num_devices={num_devices} is not a multiple of "
                        f"devices_per_node={per_node}")
    return ClusterSpec(num_nodes=num_devices // per_node, devices_per_node=per_node, device=spec)


@dataclass(frozen=True, kw_only=True)
class Mesh:
    """Devices with a logical 2-D shape ``(rows, cols)``; ``rows * cols`` devices.

    Parameters
    ----------
    device_ids : tuple of int
        Distinct, non-negative device ids; non-empty.
    shape : tuple of (int, int), default (1, len(device_ids))
        Logical ``(rows, cols)``; two positive ints whose product is the device count.

    Raises
    ------
    SpecError
        If the ids are empty, negative or repeated, or the shape does not hold them.

    Examples
    --------
    >>> Mesh(device_ids=(0, 1, 2, 3), shape=(2, 2)).size
    4
    """

    device_ids: tuple[int, ...]
    shape: tuple[int, int] = field(default=(0, 0))

    def __post_init__(self) -> None:
        ids = tuple(self.device_ids)
        object.__setattr__(self, "device_ids", ids)
        if not ids:
            raise SpecError("Mesh.device_ids must not be empty")
        for d in ids:
            if isinstance(d, bool) or not isinstance(d, int) or d < 0:
                raise SpecError(f"Mesh device id must be a non-negative int, got {d!r}")
        if len(set(ids)) != len(ids):
            raise SpecError(f"Mesh.device_ids has duplicates: {ids}")
        shape = tuple(self.shape) if self.shape != (0, 0) else (1, len(ids))
        if len(shape) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s <= 0
                                  for s in shape):
            raise SpecError(f"Mesh.shape must be two positive ints, got {self.shape!r}")
        if shape[0] * shape[1] != len(ids):
            raise SpecError(f"Mesh.shape={shape} does not hold {len(ids)} devices {ids}")
        object.__setattr__(self, "shape", shape)

    @property
    def size(self) -> int:
        return len(self.device_ids)

    def to_dict(self) -> dict[str, Any]:
        """The mesh as a JSON-ready dict.

        Returns
        -------
        dict of str to Any
            ``device_ids`` and ``shape`` as lists; :meth:`from_dict` inverts it.

        Examples
        --------
        >>> Mesh(device_ids=(2, 3)).to_dict()
        {'device_ids': [2, 3], 'shape': [1, 2]}
        """
        return {"device_ids": list(self.device_ids), "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mesh:
        """Build a mesh from :meth:`to_dict`'s output.

        Parameters
        ----------
        data : dict of str to Any
            ``device_ids`` and ``shape``.

        Returns
        -------
        Mesh
            The validated mesh.

        Raises
        ------
        SpecError
            If a key is missing or the mesh is invalid.

        Examples
        --------
        >>> Mesh.from_dict({"device_ids": [0, 1], "shape": [2, 1]}).shape
        (2, 1)
        """
        try:
            return cls(device_ids=tuple(data["device_ids"]), shape=tuple(data["shape"]))
        except (TypeError, KeyError) as exc:
            raise SpecError(f"cannot build a Mesh from {data!r}: {exc}") from exc
