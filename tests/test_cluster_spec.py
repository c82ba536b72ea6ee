"""Clusters and meshes: topology queries, validation, JSON round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from alpaserve.cluster_spec import ClusterSpec, Mesh, homogeneous_cluster
from alpaserve.device_spec import device_preset
from alpaserve.errors import SpecError
from tests._fixtures_foundation import cluster_specs


def test_topology() -> None:
    c = homogeneous_cluster(16, "a100-40gb")
    assert (c.num_nodes, c.devices_per_node, c.num_devices) == (2, 8, 16)
    assert c.node_of(7) == 0
    assert c.node_of(8) == 1
    assert not c.spans_nodes(range(8))
    assert c.spans_nodes([7, 8])
    assert c.link(range(8)) == (c.intra_node_bandwidth, c.intra_node_latency)
    assert c.link([0, 15]) == (c.inter_node_bandwidth, c.inter_node_latency)
    assert c.inter_node_bandwidth < c.intra_node_bandwidth
    assert c.mesh([2, 3, 4, 5], shape=(2, 2)).shape == (2, 2)


@pytest.mark.parametrize("device_id", [-1, 16, 2.0, True])
def test_devices_outside_the_cluster_are_named(device_id: object) -> None:
    with pytest.raises(SpecError, match=f"device id {device_id!r} is outside"):
        homogeneous_cluster(16).node_of(device_id)  # type: ignore[arg-type]


def test_mesh_larger_than_cluster() -> None:
    with pytest.raises(SpecError, match=r"mesh of 9 devices is larger than the cluster's 8"):
        homogeneous_cluster(8).mesh(range(9))
    with pytest.raises(SpecError, match=r"device id 8 is outside"):
        homogeneous_cluster(8).mesh([0, 8])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"num_nodes": 0}, "num_nodes.*0"),
    ({"devices_per_node": -2}, "devices_per_node.*-2"),
    ({"inter_node_bandwidth": -1.0}, "inter_node_bandwidth.*-1.0"),
    ({"intra_node_latency": -1e-6}, "intra_node_latency.*-1e-06"),
    ({"device": "v100"}, "must be a DeviceSpec.*'v100'"),
])
def test_invalid_cluster(kwargs: dict[str, object], match: str) -> None:
    base: dict[str, object] = dict(num_nodes=1, devices_per_node=4, device=device_preset("t4"))
    with pytest.raises(SpecError, match=match):
        ClusterSpec(**{**base, **kwargs})  # type: ignore[arg-type]


def test_homogeneous_cluster_validation() -> None:
    assert homogeneous_cluster(4).devices_per_node == 4
    with pytest.raises(SpecError, match=r"num_devices=12 is not a multiple of devices_per_node=8"):
        homogeneous_cluster(12)
    with pytest.raises(SpecError, match=r"devices_per_node.*0"):
        homogeneous_cluster(8, devices_per_node=0)
    with pytest.raises(SpecError, match=r"num_devices.*-8"):
        homogeneous_cluster(-8)
    with pytest.raises(SpecError, match=r"'z100'"):
        homogeneous_cluster(8, "z100")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"device_ids": ()}, "must not be empty"),
    ({"device_ids": (0, 1, 1)}, r"duplicates: \(0, 1, 1\)"),
    ({"device_ids": (0, -1)}, "non-negative int, got -1"),
    ({"device_ids": (0, 1, 2), "shape": (2, 2)}, r"shape=\(2, 2\) does not hold 3"),
    ({"device_ids": (0, 1), "shape": (1, 0, 2)}, "two positive ints"),
])
def test_invalid_mesh(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        Mesh(**kwargs)  # type: ignore[arg-type]


@given(cluster_specs())
def test_json_round_trip(cluster: ClusterSpec) -> None:
    assert ClusterSpec.from_dict(json.loads(json.dumps(cluster.to_dict()))) == cluster
    mesh = cluster.mesh(range(cluster.num_devices))
    assert Mesh.from_dict(json.loads(json.dumps(mesh.to_dict()))) == mesh


def test_from_dict_errors() -> None:
    with pytest.raises(SpecError, match=r"cannot build a ClusterSpec"):
        ClusterSpec.from_dict({"num_nodes": 1})
    with pytest.raises(SpecError, match=r"cannot build a Mesh"):
        Mesh.from_dict({"device_ids": [0]})
