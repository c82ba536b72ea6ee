"""Synthetic availability traces."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workloads.availability import AvailabilityTrace, NodeType
from workloads.errors import WorkloadError
from workloads.synthetic_availability import static_availability, synthetic_availability


def test_synthetic_is_deterministic_and_poisson() -> None:
    def make(seed: int) -> AvailabilityTrace:
        return synthetic_availability(duration=200_000.0, num_spot=4, num_on_demand=2,
                                      mean_lifetime=1000.0, mean_replacement=10.0,
                                      seed=np.random.default_rng(seed))
    a, b = make(3), make(3)
    assert a.events == b.events
    lifetimes = [stop - start for node, start, stop in a.intervals()
                 if a.nodes[node].market == "spot" and stop < 200_000.0]
    assert np.mean(lifetimes) == pytest.approx(1000.0, rel=0.1)
    od = [n for n, info in a.nodes.items() if info.market == "on-demand"]
    assert len(od) == 2
    assert all(e.kind == "add" for e in a.events if e.node in od)


@given(st.integers(0, 2**32 - 1), st.integers(0, 5), st.integers(0, 3))
def test_synthetic_never_exceeds_its_slots(seed: int, spot: int, od: int) -> None:
    trace = synthetic_availability(duration=5000.0, num_spot=spot, num_on_demand=od,
                                   mean_lifetime=500.0, mean_replacement=50.0,
                                   seed=np.random.default_rng(seed))
    assert trace.max_alive <= spot + od
    assert len(trace.alive_at(4999.0)) >= od


def test_generator_and_static_validation() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(WorkloadError, match="mean_lifetime"):
        synthetic_availability(duration=10.0, num_spot=1, mean_lifetime=0.0, seed=rng)
    with pytest.raises(WorkloadError, match="num_spot"):
        synthetic_availability(duration=10.0, num_spot=-1, mean_lifetime=1.0, seed=rng)
    with pytest.raises(WorkloadError, match="num_nodes"):
        static_availability(num_nodes=0)
    with pytest.raises(WorkloadError, match="gpus_per_node"):
        NodeType(name="x", gpus_per_node=0, gpu="t4", price_spot=1.0, price_on_demand=2.0)
    json.dumps(static_availability(num_nodes=1).node_hours(end=10.0))
