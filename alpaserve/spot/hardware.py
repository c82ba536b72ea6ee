"""The hardware of a fleet of identical cloud nodes whose membership changes over time.

Unlike :class:`~alpaserve.cluster_spec.ClusterSpec` (a fixed number of nodes) this holds only
per-node figures: the device, GPUs per node, the links inside and between nodes, and the
bandwidth at which a node loads weights from storage.

The g4dn.12xlarge figures: 4 × T4 on PCIe 3 without NVLink (about 8 GB/s of effective
peer-to-peer bandwidth), a 50 Gbit/s network (6.25 GB/s), and weights loaded from EBS/S3 at
about 1 GB/s per node.
"""

from __future__ import annotations

from dataclasses import dataclass

from alpaserve._validation import non_negative_float, positive_float, positive_int
from alpaserve.device_spec import DeviceSpec, device_preset
from alpaserve.errors import SpecError


@dataclass(frozen=True, kw_only=True)
class SpotHardware:
    """Per-node hardware of a changing fleet.

    Examples
    --------
    >>> hw = g4dn_hardware()
    >>> hw.device.name, hw.gpus_per_node, hw.link(tensor_degree=8)[0] == hw.inter_node_bandwidth
    ('t4', 4, True)
    """

    device: DeviceSpec
    gpus_per_node: int
    intra_node_bandwidth: float
    inter_node_bandwidth: float
    intra_node_latency: float = 10e-6
    inter_node_latency: float = 30e-6
    storage_bandwidth: float = 1e9

    def __post_init__(self) -> None:
        if not isinstance(self.device, DeviceSpec):
            raise SpecError(f"SpotHardware.device must be a DeviceSpec, got {self.device!r}")
        positive_int("SpotHardware", "gpus_per_node", self.gpus_per_node)
        for name in ("intra_node_bandwidth", "inter_node_bandwidth", "storage_bandwidth"):
            positive_float("SpotHardware", name, getattr(self, name))
        for name in ("intra_node_latency", "inter_node_latency"):
            non_negative_float("SpotHardware", name, getattr(self, name))

    def link(self, *, tensor_degree: int) -> tuple[float, float]:
        """(bandwidth, latency) of a group of ``tensor_degree`` devices packed into nodes:
        intra-node when it fits in one node, else inter-node."""
        if tensor_degree <= self.gpus_per_node:
            return self.intra_node_bandwidth, self.intra_node_latency
        return self.inter_node_bandwidth, self.inter_node_latency


def g4dn_hardware(*, storage_bandwidth: float = 1e9) -> SpotHardware:
    """AWS g4dn.12xlarge nodes (4 × T4), SpotServe's testbed."""
    return SpotHardware(device=device_preset("t4"), gpus_per_node=4, intra_node_bandwidth=8e9,
                        inter_node_bandwidth=6.25e9, storage_bandwidth=storage_bandwidth)
