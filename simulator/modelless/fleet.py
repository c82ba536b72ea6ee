"""Workers and variant replicas of the model-less simulation: starting, loading, draining.

:class:`_Fleet` is the part of :mod:`simulator.modelless.simulate` that changes what is
running: it starts workers (checking ``max_workers``), loads replicas (checking hardware,
duplicates and free memory), drains and unloads them once idle, stops drained workers, keeps
each worker's bill (:class:`WorkerRecord`) and logs every change as a :class:`ScalingEvent`.
It is separate from the engine because it only acts on the cluster view; which queries run
where, and when, is the engine's business.
"""

from __future__ import annotations

import heapq

from alpaserve.errors import SimulationError
from alpaserve.modelless.registry import VariantRegistry
from simulator.modelless.cluster import (
    DRAINING,
    STOPPED,
    ClusterView,
    ReplicaState,
    WorkerState,
)
from simulator.modelless.metrics import ScalingEvent, WorkerRecord
from simulator.modelless.options import ModellessSimConfig

__all__: list[str] = []

_WORKER_READY, _REPLICA_READY, _BATCH_DONE, _TICK = 0, 1, 2, 3


class _Fleet:
    """The cluster view, the event heap, the workers' bills and the scaling log."""

    def __init__(self, registry: VariantRegistry, config: ModellessSimConfig) -> None:
        self.registry = registry
        self.config = config
        self.view = ClusterView(registry)
        self.heap: list[tuple[float, int, int, int]] = []
        self.seq = 0
        self.next_worker = 0
        self.next_replica = 0
        self.records: dict[int, WorkerRecord] = {}
        self.events: list[ScalingEvent] = []

    # ------------------------------------------------------------------ events
    def push(self, time: float, kind: int, ident: int) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (time, self.seq, kind, ident))

    def log(self, kind: str, *, task: str = "", variant: str = "", worker: int = -1,
            replica: int = -1, reason: str = "") -> None:
        self.events.append(ScalingEvent(time=self.view.now, kind=kind, task=task,
                                        variant=variant, worker=worker, replica=replica,
                                        reason=reason))

    # ------------------------------------------------------------------ workers
    def start_worker(self, hardware: str, reason: str) -> WorkerState:
        live = sum(1 for _ in self.view.workers())
        if live >= self.config.max_workers:
            raise SimulationError(f"policy asked for more than max_workers="
                                  f"{self.config.max_workers} workers (hardware {hardware!r})")
        hw = self.registry.hardware_of(hardware)
        w = WorkerState(self.next_worker, hw, self.view.now)
        self.next_worker += 1
        self.view._add_worker(w)
        self.records[w.id] = WorkerRecord(worker=w.id, hardware=hw.name,
                                          price_per_hour=hw.price_per_hour,
                                          requested_at=w.requested_at, ready_at=w.ready_at,
                                          stopped_at=None)
        self.push(w.ready_at, _WORKER_READY, w.id)
        self.log("worker_start", worker=w.id, variant=hw.name, reason=reason)
        return w

    def stop_worker(self, w: WorkerState, reason: str) -> None:
        w.state = STOPPED
        w.stopped_at = self.view.now
        self.view._drop_worker(w)
        rec = self.records[w.id]
        self.records[w.id] = WorkerRecord(worker=rec.worker, hardware=rec.hardware,
                                          price_per_hour=rec.price_per_hour,
                                          requested_at=rec.requested_at, ready_at=rec.ready_at,
                                          stopped_at=self.view.now)
        self.log("worker_stop", worker=w.id, variant=w.hardware.name, reason=reason)

    def drain_worker(self, w: WorkerState, reason: str) -> None:
        if w.state in (DRAINING, STOPPED):
            return
        w.state = DRAINING
        for r in list(w.replicas.values()):
            self.drain_replica(r, reason)
        self.maybe_stop(w, reason)

    def maybe_stop(self, w: WorkerState, reason: str) -> None:
        if w.state == DRAINING and not w.replicas and w.current_replica is None:
            self.stop_worker(w, reason)

    # ------------------------------------------------------------------ replicas
    def load_replica(self, task: str, variant_name: str, worker_id: int | None,
                     reason: str) -> ReplicaState:
        variant = self.registry.get(task, variant_name)
        if worker_id is None:
            w = self.start_worker(variant.hardware, reason=f"for {variant_name}")
        else:
            found = self.view.worker(worker_id)
            if found is None or not found.accepting:
                raise SimulationError(f"cannot load {variant_name!r} on worker {worker_id}: "
                                      "it is not live or is draining")
            w = found
        if w.hardware.name != variant.hardware:
            raise SimulationError(f"variant {variant_name!r} runs on {variant.hardware!r}, "
                                  f"not on worker {w.id} ({w.hardware.name!r})")
        if any(r.variant.key == variant.key for r in w.replicas.values()):
            raise SimulationError(f"worker {w.id} already holds a replica of "
                                  f"{variant_name!r}")
        if variant.peak_memory_bytes > w.free_memory:
            raise SimulationError(f"variant {variant_name!r} needs "
                                  f"{variant.peak_memory_bytes} bytes but worker {w.id} has "
                                  f"{w.free_memory} free")
        r = ReplicaState(self.next_replica, task, variant, w, self.view.now)
        self.next_replica += 1
        w.replicas[r.id] = r
        w.memory_used += variant.peak_memory_bytes
        self.view._add_replica(r)
        self.push(r.ready_at, _REPLICA_READY, r.id)
        self.log("replica_load", task=task, variant=variant_name, worker=w.id, replica=r.id,
                 reason=reason)
        return r

    def drain_replica(self, r: ReplicaState, reason: str) -> None:
        if r.state == DRAINING:
            return
        r.state = DRAINING
        self.log("replica_drain", task=r.task, variant=r.variant.name, worker=r.worker.id,
                 replica=r.id, reason=reason)
        self.maybe_unload(r)

    def maybe_unload(self, r: ReplicaState) -> None:
        w = r.worker
        if r.state != DRAINING or r.queue or w.current_replica == r.id:
            return
        w.replicas.pop(r.id, None)
        w.memory_used -= r.variant.peak_memory_bytes
        self.view._drop_replica(r)
        self.log("replica_unload", task=r.task, variant=r.variant.name, worker=w.id,
                 replica=r.id)
        self.maybe_stop(w, "drained")
