"""Summaries, bills and timelines of model-less simulations."""

from __future__ import annotations

import numpy as np
import pytest

from alpaserve.errors import SimulationError
from simulator.modelless.cluster import ClusterView, Load, Query, Route
from simulator.modelless.metrics import WorkerRecord
from simulator.modelless.simulate import ModellessSimConfig, simulate_modelless
from tests._fixtures_modelless import queries, small_registry


class Two:
    """small-cpu for the first half hour, big-gpu afterwards (both kept)."""

    def select(self, query: Query, cluster: ClusterView) -> Route | Load:
        name = "small-cpu" if query.arrival < 1800 else "big-gpu"
        for r in cluster.accepting_replicas(query.task):
            if r.variant.name == name:
                return Route(replica=r.id)
        return Load(variant=name)


def run() -> object:
    reg = small_registry(cpu_startup=0.0, gpu_startup=0.0)
    arr = list(np.arange(0.0, 3600.0, 10.0))
    return simulate_modelless(queries(arr, slo=2.0, min_accuracy=75.0), reg, selection=Two(),
                              config=ModellessSimConfig(horizon=3600.0))


def test_summary_accuracy_cost_and_events() -> None:
    res = run()
    s = res.summary()  # type: ignore[attr-defined]
    assert s.queries == 360
    assert s.below_accuracy == 180
    assert s.met == 180
    assert s.late == 0
    assert s.mean_accuracy == pytest.approx((70 + 78) / 2)
    assert s.min_accuracy == 70.0
    assert s.cost_by_hardware == {"cpu": pytest.approx(0.2), "gpu": pytest.approx(1.0)}
    assert s.cost == pytest.approx(1.2)
    assert s.worker_starts == 2
    assert s.load_events == 2
    assert s.variant_switches == 0
    assert s.served_by_variant == {"small-cpu": 180, "big-gpu": 180}
    assert s.throughput == pytest.approx(0.1)
    assert s.to_dict()["violations"] == 180
    late = res.summary(1800.0, 3600.0)  # type: ignore[attr-defined]
    assert late.queries == 180
    assert late.cost == pytest.approx(0.1 + 1.0)


def test_timeline_bins_variant_mix_and_cost_rate() -> None:
    t = run().timeline(900.0)  # type: ignore[attr-defined]
    assert t["time"].tolist() == [0.0, 900.0, 1800.0, 2700.0]
    assert t["served"]["small-cpu"].tolist() == [90, 90, 0, 0]
    assert t["served"]["big-gpu"].tolist() == [0, 0, 90, 90]
    assert t["cost_rate"]["gpu"].tolist() == pytest.approx([0.0, 0.0, 2.0, 2.0])
    assert t["workers"]["cpu"].tolist() == pytest.approx([1.0] * 4)
    assert int(t["arrivals"].sum()) == 360
    with pytest.raises(SimulationError, match="bin_seconds"):
        run().timeline(0.0)  # type: ignore[attr-defined]


def test_billing_window_and_errors() -> None:
    w = WorkerRecord(worker=0, hardware="cpu", price_per_hour=1.0, requested_at=10.0,
                     ready_at=20.0, stopped_at=50.0)
    assert w.billed_seconds(0.0, 100.0) == 40.0
    assert w.billed_seconds(30.0, 40.0) == 10.0
    assert w.billed_seconds(60.0, 100.0) == 0.0
    with pytest.raises(SimulationError, match="precedes its start"):
        run().summary(100.0, 50.0)  # type: ignore[attr-defined]
