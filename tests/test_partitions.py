"""Partitions: equal power-of-two groups plus leftovers, node boundaries, group shapes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.cluster_spec import ClusterSpec, homogeneous_cluster
from alpaserve.device_spec import device_preset
from alpaserve.errors import SpecError
from placement.partitions import (
    GroupShape,
    candidate_group_sizes,
    check_shape,
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


def _slow_check_shape(cluster, device_ids, shape):
    """check_shape as it was: a per-device check and node lookup for every stage."""
    ids = tuple(device_ids)
    if len(ids) != shape.num_devices:
        raise SpecError(f"shape {shape.key} needs {shape.num_devices} devices, "
                        f"got {len(ids)}: {ids}")
    if shape.tensor == 1:
        return
    for k in range(shape.pipeline):
        part = ids[k * shape.tensor:(k + 1) * shape.tensor]
        if cluster.spans_nodes(part):
            raise SpecError(f"stage {k} of shape {shape.key} on devices {part} spans nodes; "
                            "a tensor-parallel stage must stay within one node")


def _outcome(fn, *args, **kwargs):
    try:
        return ("ok", fn(*args, **kwargs))
    except SpecError as err:
        return ("error", str(err))


_ID = st.one_of(st.integers(-2, 20), st.integers(0, 17).map(np.int64), st.just(True))


@settings(max_examples=150, deadline=None)
@given(per_node=st.sampled_from([1, 2, 4, 8]), nodes=st.integers(1, 3),
       pipeline=st.integers(1, 4), tensor=st.sampled_from([1, 2, 4]),
       start=st.integers(0, 12), odd=st.lists(st.tuples(st.integers(0, 15), _ID), max_size=2),
       extra=st.integers(-1, 1))
def test_check_shape_by_arithmetic_equals_per_device_checks(per_node, nodes, pipeline, tensor,
                                                            start, odd, extra):
    cluster = ClusterSpec(num_nodes=nodes, devices_per_node=per_node,
                          device=device_preset("v100-16gb"))
    ids: list = list(range(start, start + max(0, pipeline * tensor + extra)))
    for pos, value in odd:  # invalid, numpy or bool ids anywhere: the same first complaint
        if pos < len(ids):
            ids[pos] = value
    shape = GroupShape(pipeline=pipeline, tensor=tensor)
    assert _outcome(check_shape, cluster, ids, shape) == \
        _outcome(_slow_check_shape, cluster, ids, shape)


def _slow_partition(cluster, ids, size):
    for d in sorted(ids):
        cluster.check_device(d)
    return None


@settings(max_examples=100, deadline=None)
@given(per_node=st.sampled_from([1, 2, 4, 8]), nodes=st.integers(1, 3),
       ids=st.lists(_ID, min_size=1, max_size=12, unique_by=int))
def test_equal_partition_names_the_first_invalid_device(per_node, nodes, ids):
    cluster = ClusterSpec(num_nodes=nodes, devices_per_node=per_node,
                          device=device_preset("v100-16gb"))
    got = _outcome(equal_partition, cluster, device_ids=ids, group_size=1)
    want = _outcome(_slow_partition, cluster, ids, 1)
    if want[0] == "error":
        assert got == want
    else:  # every device once, runs cut where nodes change
        assert got[0] == "ok"
        assert sorted(d for g in got[1].groups for d in g) == sorted(int(d) for d in ids)
