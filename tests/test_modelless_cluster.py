"""Worker and replica state: latency prediction, utilisation, the cluster view."""

from __future__ import annotations

import pytest

from simulator.modelless.cluster import ClusterView, ReplicaState, WorkerState
from tests._fixtures_modelless import TASK, small_registry

REG = small_registry()


def test_prediction_counts_startup_load_and_queues() -> None:
    v = REG.get(TASK, "small-cpu")  # latency 0.010 b + 0.002, max batch 4
    w = WorkerState(0, REG.hardware_of(v), now=0.0)  # starts for 10 s
    r = ReplicaState(0, TASK, v, w, now=0.0)  # then loads for 1 s
    w.replicas[r.id] = r
    assert r.ready_at == 11.0
    # waits for start-up and load; its own batch is costed full (others will join it)
    assert r.predicted_latency(0.0) == pytest.approx(11.0 + v.latency(4))
    w.state, r.state = "ready", "ready"
    # idle and ready: just its own batch of one
    assert r.predicted_latency(20.0) == pytest.approx(v.latency(1))
    r.queue.extend(range(5))  # one full batch ahead, then its batch of two
    assert r.predicted_latency(20.0) == pytest.approx(v.latency(4) + v.latency(2))
    # a co-located replica's queue runs first
    big = REG.get(TASK, "big-cpu")
    r2 = ReplicaState(1, TASK, big, w, now=0.0)
    r2.state = "ready"
    r2.queue.extend(range(2))
    w.replicas[r2.id] = r2
    assert r.predicted_latency(20.0) == pytest.approx(big.latency(2) + v.latency(4)
                                                      + v.latency(2))
    assert w.queued() == 7
    assert w.free_memory == w.hardware.memory_bytes  # the simulator books memory


def test_busy_time_includes_the_running_batch() -> None:
    w = WorkerState(0, REG.hardware_of("cpu"), now=0.0)
    w.busy_time = 2.0
    assert w.busy_time_until(5.0) == 2.0
    w.current_replica, w.busy_until, w.running_length = 0, 6.0, 2.0
    assert w.busy_time_until(5.0) == pytest.approx(3.0)


def test_view_lists_live_and_accepting_replicas() -> None:
    view = ClusterView(REG)
    w = WorkerState(0, REG.hardware_of("cpu"), now=0.0)
    a = ReplicaState(0, TASK, REG.get(TASK, "small-cpu"), w, now=0.0)
    b = ReplicaState(1, TASK, REG.get(TASK, "big-cpu"), w, now=0.0)
    b.state = "draining"
    for r in (a, b):
        w.replicas[r.id] = r
        view._add_replica(r)
    view._add_worker(w)
    assert [r.id for r in view.replicas(TASK)] == [0, 1]
    assert [r.id for r in view.accepting_replicas(TASK)] == [0]
    assert view.replica(1) is b
    assert view.worker(0) is w
    assert view.replica(7) is None
    view._drop_replica(a)
    assert view.replicas() == [b]
