"""Layouts, latency buckets and device splits."""

from __future__ import annotations

import numpy as np

from alpaserve.cluster_spec import homogeneous_cluster
from placement.buckets import device_splits, layouts, model_buckets


def test_layouts_cover_devices_with_valid_shapes():
    cluster = homogeneous_cluster(12, devices_per_node=4)
    for lay in layouts(cluster, range(12)):
        assert lay.partition.num_devices == 12
        for devices, shape in lay.groups():
            assert shape.num_devices == len(devices)
            if shape.tensor > 1:
                for k in range(shape.pipeline):
                    stage = devices[k * shape.tensor:(k + 1) * shape.tensor]
                    assert not cluster.spans_nodes(stage)


def test_buckets_split_on_latency_jumps():
    assert model_buckets(np.array([0.1, 0.1, 0.3, 0.9]), 2.0) == [[0, 1], [2], [3]]
    assert model_buckets(np.array([0.1, 0.15, 0.19]), 2.0) == [[0, 1, 2]]


def test_device_splits_respect_minimum():
    splits = device_splits(16, [[0.9, 0.1]], [1, 4], unit=1)
    assert all(a + b == 16 and b >= 4 for a, b in splits)
