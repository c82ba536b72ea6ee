from __future__ import annotations

import pytest

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.errors import SpecError
from alpaserve.parallel.logical_mesh import LogicalMesh, mesh_shapes


def test_axes_take_their_links() -> None:
    cluster = homogeneous_cluster(16)
    m = LogicalMesh.from_cluster(cluster, range(16), (2, 8))
    assert m.bandwidth == (cluster.inter_node_bandwidth, cluster.intra_node_bandwidth)
    inside = LogicalMesh.from_cluster(cluster, range(8, 12), (2, 2))
    assert inside.bandwidth == (cluster.intra_node_bandwidth,) * 2
    assert LogicalMesh.from_cluster(cluster, [3], (1, 1)).active_axes == ()


def test_shapes_and_errors() -> None:
    assert mesh_shapes(1) == ((1, 1),)
    assert mesh_shapes(6) == ((1, 6), (2, 3))
    with pytest.raises(SpecError, match="does not hold"):
        LogicalMesh.from_cluster(homogeneous_cluster(4), range(4), (2, 3))
    with pytest.raises(SpecError, match="bandwidth"):
        LogicalMesh.uniform((1, 2), bandwidth=0.0, latency=0.0)
