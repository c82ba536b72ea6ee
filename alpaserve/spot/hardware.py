"""The hardware of a fleet of identical cloud nodes whose membership changes over time.

Unlike :class:`~alpaserve.cluster_spec.ClusterSpec` (a fixed number of nodes) this holds only
per-node figures: the device, GPUs per node, the links inside and between nodes, and the
bandwidth at which a node loads weights from storage.

The g4dn.12xlarge figures: 4 × T4 on PCIe 3 without NVLink (about 8 GB/s of effective
peer-to-peer bandwidth), a 50 Gbit/s network (6.25 GB/s), and weights loaded from EBS/S3 at
about 1 GB/s per node.

The efficiencies, link latencies and per-layer overhead of :func:`g4dn_hardware` are
calibrated against SpotServe's measured T4 tables (``profile/T4-4x``: FasterTransformer,
fp16) by least squares over the relative error of the per-layer prefill (512-token prompts)
and decode-step times of OPT-6.7B, GPT-20B and the 30B model at tensor degrees 1-8 and
batches 1-8; ``benchmarks/bench_spotserve.py --calibration`` prints the error per model and
degree. The T4 sustains about 5.5% of its 65 TFLOP/s tensor-core peak in those prefills and
about 39% of its 320 GB/s in the decode steps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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

    Parameters
    ----------
    device : DeviceSpec
        The GPU of every node.
    gpus_per_node : int
        GPUs per node (>= 1).
    intra_node_bandwidth, inter_node_bandwidth : float
        Bytes/s between two GPUs of a node, and into one node over the network.
    intra_node_latency, inter_node_latency : float
        Seconds per message on those links (>= 0).
    storage_bandwidth : float
        Bytes/s a node reads weights from storage.
    compute_efficiency : float
        Fraction of ``device.peak_flops`` that LLM kernels reach, in (0, 1].
    memory_efficiency : float
        Fraction of ``device.memory_bandwidth`` that LLM kernels reach, in (0, 1].
    layer_overhead : float
        Fixed seconds per layer per forward pass (kernel launches), >= 0.
    """

    device: DeviceSpec
    gpus_per_node: int
    intra_node_bandwidth: float
    inter_node_bandwidth: float
    intra_node_latency: float = 10e-6
    inter_node_latency: float = 30e-6
    storage_bandwidth: float = 1e9
    compute_efficiency: float = 0.8
    memory_efficiency: float = 1.0
    layer_overhead: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.device, DeviceSpec):
            raise SpecError(f"SpotHardware.device must be a DeviceSpec, got {self.device!r}")
        positive_int("SpotHardware", "gpus_per_node", self.gpus_per_node)
        for name in ("intra_node_bandwidth", "inter_node_bandwidth", "storage_bandwidth"):
            positive_float("SpotHardware", name, getattr(self, name))
        for name in ("intra_node_latency", "inter_node_latency", "layer_overhead"):
            non_negative_float("SpotHardware", name, getattr(self, name))
        for name in ("compute_efficiency", "memory_efficiency"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 < value <= 1):
                raise SpecError(f"SpotHardware.{name} must be in (0, 1], got {value!r}")

    def link(self, *, tensor_degree: int) -> tuple[float, float]:
        """The link of a group of devices packed into nodes.

        Parameters
        ----------
        tensor_degree : int
            Devices in the group.

        Returns
        -------
        tuple of float
            ``(bytes/s, seconds per message)``: intra-node when the group fits in one node,
            else inter-node.
        """
        if tensor_degree <= self.gpus_per_node:
            return self.intra_node_bandwidth, self.intra_node_latency
        return self.inter_node_bandwidth, self.inter_node_latency


# Fitted to SpotServe's T4-4x tables (module docstring); benchmarks/bench_spotserve.py
# --calibration reprints the fit's error.
G4DN_COMPUTE_EFFICIENCY = 0.055
G4DN_MEMORY_EFFICIENCY = 0.39
G4DN_INTRA_NODE_LATENCY = 64e-6
G4DN_INTER_NODE_LATENCY = 450e-6


def g4dn_hardware(*, storage_bandwidth: float = 1e9, calibrated: bool = True) -> SpotHardware:
    """AWS g4dn.12xlarge nodes (4 × T4), SpotServe's testbed.

    Parameters
    ----------
    storage_bandwidth : float
        Bytes/s a node reads weights from storage.
    calibrated : bool
        Use the efficiencies fitted to SpotServe's measured T4 tables (default); ``False``
        gives the data-sheet roofline (about 4× too fast on T4).

    Returns
    -------
    SpotHardware
        The node's hardware.
    """
    hw = SpotHardware(device=device_preset("t4"), gpus_per_node=4, intra_node_bandwidth=8e9,
                      inter_node_bandwidth=6.25e9, storage_bandwidth=storage_bandwidth)
    if not calibrated:
        return hw
    return replace(hw, compute_efficiency=G4DN_COMPUTE_EFFICIENCY,
                   memory_efficiency=G4DN_MEMORY_EFFICIENCY,
                   intra_node_latency=G4DN_INTRA_NODE_LATENCY,
                   inter_node_latency=G4DN_INTER_NODE_LATENCY)
