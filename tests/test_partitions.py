"""Partitions: equal power-of-two groups plus leftovers, node boundaries, group shapes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpaserve.cluster_spec import ClusterSpec, homogeneous_cluster
from alpaserve.device_spec import device_preset
from alpaserve.errors import SpecError
from placement.partitions import (
    GroupShape,
    candidate_group_sizes,
    equal_partition,
    group_shapes,
    split_devices,
    stage_meshes,
)


@given(nodes=st.integers(1, 4), per_node=st.sampled_from([1, 2, 3, 4, 6, 8]),
       size_exp=st.integers(0, 5), take=st.integers(1, 48))
def test_partition_is_valid_and_respects_nodes(nodes, per_node, size_exp, take):
    cluster = ClusterSpec(num_nodes=nodes, devices_per_node=per_node,
                          device=device_preset("v100-16gb"))
    ids = list(range(min(take, cluster.num_devices)))
    size = 1 << size_exp
    if size > per_node and size % per_node:
        with pytest.raises(SpecError, match="spans nodes"):
            equal_partition(cluster, device_ids=ids, group_size=size)
        return
    part = equal_partition(cluster, device_ids=ids, group_size=size)
    flat = [d for g in part.groups for d in g]
    assert sorted(flat) == ids  # every device exactly once
    for g in part.groups:
        assert len(g) & (len(g) - 1) == 0  # power of two
        assert len(g) <= max(size, 1)
        if len(g) <= per_node:
            assert not cluster.spans_nodes(g)  # small groups stay within a node
        else:
            assert len(g) % per_node == 0  # large groups are whole nodes
    assert sum(len(g) == size for g in part.groups) >= len(ids) // size - nodes


def test_equal_groups_plus_leftovers():
    part = equal_partition(homogeneous_cluster(8), device_ids=range(7), group_size=4)
    assert part.sizes == (4, 2, 1)
    assert part.key == "1x4+1x2+1x1"


def test_groups_larger_than_a_node_are_whole_nodes():
    part = equal_partition(homogeneous_cluster(24), device_ids=range(24), group_size=16)
    assert part.sizes == (16, 8)


def test_shapes_keep_tensor_stages_within_a_node():
    cluster = homogeneous_cluster(16, devices_per_node=4)
    keys = [s.key for s in group_shapes(cluster, 16)]
    assert keys == ["pp16-tp1", "pp8-tp2", "pp4-tp4"]  # tp8 would span two nodes
    meshes = stage_meshes(cluster, range(8), GroupShape(pipeline=2, tensor=4))
    assert [m.device_ids for m in meshes] == [(0, 1, 2, 3), (4, 5, 6, 7)]
    with pytest.raises(SpecError, match="spans nodes"):
        stage_meshes(cluster, range(2, 10), GroupShape(pipeline=2, tensor=4))


def test_group_sizes_and_errors():
    cluster = homogeneous_cluster(24)
    assert candidate_group_sizes(cluster, 24) == [1, 2, 4, 8, 16]
    with pytest.raises(SpecError, match="power of two"):
        equal_partition(cluster, device_ids=range(4), group_size=3)
    with pytest.raises(SpecError, match="must be a positive int"):
        GroupShape(pipeline=0, tensor=1)
    with pytest.raises(SpecError, match="cannot split"):
        split_devices(cluster, [20, 8])
