"""Per-node hardware of a spot fleet."""

from __future__ import annotations

import pytest

from alpaserve.device_spec import device_preset
from alpaserve.errors import SpecError
from alpaserve.spot.hardware import SpotHardware, g4dn_hardware


def test_links() -> None:
    hw = g4dn_hardware(storage_bandwidth=2e9)
    assert hw.storage_bandwidth == 2e9
    assert hw.link(tensor_degree=4) == (hw.intra_node_bandwidth, hw.intra_node_latency)
    assert hw.link(tensor_degree=5) == (hw.inter_node_bandwidth, hw.inter_node_latency)


def test_validation() -> None:
    with pytest.raises(SpecError, match="gpus_per_node"):
        SpotHardware(device=device_preset("t4"), gpus_per_node=0, intra_node_bandwidth=1.0,
                     inter_node_bandwidth=1.0)
    with pytest.raises(SpecError, match="storage_bandwidth"):
        SpotHardware(device=device_preset("t4"), gpus_per_node=1, intra_node_bandwidth=1.0,
                     inter_node_bandwidth=1.0, storage_bandwidth=0.0)
    with pytest.raises(SpecError, match="DeviceSpec"):
        SpotHardware(device="t4", gpus_per_node=1, intra_node_bandwidth=1.0,  # type: ignore[arg-type]
                     inter_node_bandwidth=1.0)
