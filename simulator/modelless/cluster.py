"""Cluster state of the model-less simulator: workers, replicas, and the view policies see.

Workers are VMs of a :class:`~alpaserve.modelless.variants.HardwareType`. Each runs one batch at a
time for the variant replicas loaded on it (replicas on one worker share its compute, which
is how co-located variants slow each other down). A worker bills from the moment it is
requested until it stops, start-up included.

Policies see the cluster through :class:`ClusterView` and answer with the small frozen
decisions and actions of :mod:`simulator.modelless.policy` (re-exported here). Policies must
treat the state objects as read-only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from alpaserve.modelless.registry import VariantRegistry
from alpaserve.modelless.variants import HardwareType, Variant
from simulator.modelless.policy import Action as Action
from simulator.modelless.policy import AddReplica as AddReplica
from simulator.modelless.policy import AddWorker as AddWorker
from simulator.modelless.policy import AutoscalingPolicy as AutoscalingPolicy
from simulator.modelless.policy import Decision as Decision
from simulator.modelless.policy import Drop as Drop
from simulator.modelless.policy import Load as Load
from simulator.modelless.policy import Query as Query
from simulator.modelless.policy import RemoveReplica as RemoveReplica
from simulator.modelless.policy import RemoveWorker as RemoveWorker
from simulator.modelless.policy import Route as Route
from simulator.modelless.policy import SelectionPolicy as SelectionPolicy

# Worker and replica states.
STARTING, READY, DRAINING, STOPPED = "starting", "ready", "draining", "stopped"
LOADING = "loading"


# ---------------------------------------------------------------------- state
class WorkerState:
    """One worker (VM). Read-only for policies.

    Parameters
    ----------
    wid : int
        Worker id.
    hardware : HardwareType
        Its type (start-up time, memory, price).
    now : float
        Time it was requested, seconds; it is ready ``startup_time`` later.
    """

    __slots__ = ("busy_time", "busy_until", "current_replica", "hardware", "id", "idle_since",
                 "memory_used", "ready_at", "replicas", "requested_at", "running_length",
                 "state", "stopped_at")

    def __init__(self, wid: int, hardware: HardwareType, now: float) -> None:
        self.id = wid
        self.hardware = hardware
        self.requested_at = now
        self.ready_at = now + hardware.startup_time
        self.stopped_at: float | None = None
        self.state = STARTING if hardware.startup_time > 0 else READY
        self.replicas: dict[int, ReplicaState] = {}
        self.memory_used = 0
        self.busy_until = 0.0
        self.busy_time = 0.0  # completed batch time
        self.current_replica: int | None = None
        self.running_length = 0.0  # length of the running batch
        self.idle_since = now

    @property
    def free_memory(self) -> int:
        return self.hardware.memory_bytes - self.memory_used

    @property
    def accepting(self) -> bool:
        return self.state in (STARTING, READY)

    def busy_time_until(self, now: float) -> float:
        """Cumulative busy seconds, including the running batch's elapsed part.

        Parameters
        ----------
        now : float
            Current time, seconds.

        Returns
        -------
        float
            Seconds spent running batches.
        """
        if self.current_replica is None:
            return self.busy_time
        return self.busy_time + max(0.0, now - (self.busy_until - self.running_length))

    def queued(self) -> int:
        """Queries waiting on this worker's replicas.

        Returns
        -------
        int
            Their number (the running batch excluded).
        """
        return sum(len(r.queue) for r in self.replicas.values())

    def backlog(self, now: float, extra_on: int | None = None) -> float:
        """Seconds until this worker has run everything queued (plus one more query on
        replica ``extra_on``), counting start-up and loads still in progress.

        Parameters
        ----------
        now : float
            Current time, seconds.
        extra_on : int or None
            Id of a replica of this worker that receives one more query; None: none.

        Returns
        -------
        float
            Seconds from ``now``.
        """
        start = max(now, self.ready_at, self.busy_until)
        others = 0.0
        own_ready = start
        own = 0.0
        for r in self.replicas.values():
            if r.id == extra_on:
                own_ready = max(start, r.ready_at)
                own = r.batches_time(len(r.queue) + 1, fill_last=self.current_replica
                                     is not None or own_ready > now)
            elif r.queue:
                others += r.batches_time(len(r.queue))
        return max(start + others, own_ready) + own - now


class ReplicaState:
    """One variant loaded (or loading) on a worker. Read-only for policies.

    Parameters
    ----------
    rid : int
        Replica id.
    task : str
        Task it serves.
    variant : Variant
        The variant loaded.
    worker : WorkerState
        Its worker.
    now : float
        Time the load was requested, seconds; it is ready once the worker is and the
        variant's load latency has passed.
    """

    __slots__ = (
        "exec_ratio",
        "id",
        "last_exec_end",
        "queue",
        "ready_at",
        "requested_at",
        "routed",
        "served",
        "state",
        "task",
        "variant",
        "worker",
    )

    def __init__(self, rid: int, task: str, variant: Variant, worker: WorkerState,
                 now: float) -> None:
        self.id = rid
        self.task = task
        self.variant = variant
        self.worker = worker
        self.requested_at = now
        self.ready_at = max(now, worker.ready_at) + variant.load_latency
        self.state = LOADING
        self.queue: deque[int] = deque()
        self.routed = 0
        self.served = 0
        self.exec_ratio = 1.0  # measured / profiled time of its last batch
        self.last_exec_end = -1.0

    @property
    def accepting(self) -> bool:
        return self.state in (LOADING, READY) and self.worker.accepting

    def batches_time(self, n: int, *, fill_last: bool = False) -> float:
        """Profiled time to run ``n`` queued queries in max-size batches.

        With ``fill_last`` the last, partial batch is costed as full: queries that arrive
        while the worker is busy will join it.

        Parameters
        ----------
        n : int
            Queries to run.
        fill_last : bool
            Cost the last, partial batch as a full one.

        Returns
        -------
        float
            Seconds, at the profiled latency.
        """
        v = self.variant
        full, rest = divmod(n, v.max_batch)
        last = v.latency(v.max_batch if fill_last else rest) if rest else 0.0
        return full * v.latency(v.max_batch) + last

    def predicted_latency(self, now: float) -> float:
        """Predicted latency of a query queued here now.

        Parameters
        ----------
        now : float
            Current time, seconds.

        Returns
        -------
        float
            Seconds from ``now`` to its completion (:meth:`WorkerState.backlog`).
        """
        return self.worker.backlog(now, extra_on=self.id)


class ClusterView:
    """What policies may read: the registry, the time, the live workers and replicas.

    Parameters
    ----------
    registry : VariantRegistry
        The variants and hardware the cluster uses.
    """

    def __init__(self, registry: VariantRegistry) -> None:
        self.registry = registry
        self.now = 0.0
        self._workers: dict[int, WorkerState] = {}
        self._replicas: dict[int, ReplicaState] = {}
        self._by_task: dict[str, dict[int, ReplicaState]] = {}
        self.arrivals: dict[str, int] = {}

    # mutation is the simulator's; these are not part of the policy seam
    def _add_worker(self, w: WorkerState) -> None:
        self._workers[w.id] = w

    def _drop_worker(self, w: WorkerState) -> None:
        self._workers.pop(w.id, None)

    def _add_replica(self, r: ReplicaState) -> None:
        self._replicas[r.id] = r
        self._by_task.setdefault(r.task, {})[r.id] = r

    def _drop_replica(self, r: ReplicaState) -> None:
        self._replicas.pop(r.id, None)
        self._by_task.get(r.task, {}).pop(r.id, None)

    # ------------------------------------------------------------------ reads
    def workers(self) -> Iterator[WorkerState]:
        """Live workers (starting, ready or draining).

        Yields
        ------
        WorkerState
            Each live worker, in id order (a snapshot: safe while the cluster changes).
        """
        return iter(list(self._workers.values()))

    def worker(self, wid: int) -> WorkerState | None:
        """The live worker ``wid``.

        Parameters
        ----------
        wid : int
            Worker id.

        Returns
        -------
        WorkerState or None
            None when it is not live.
        """
        return self._workers.get(wid)

    def replica(self, rid: int) -> ReplicaState | None:
        """The live replica ``rid``.

        Parameters
        ----------
        rid : int
            Replica id.

        Returns
        -------
        ReplicaState or None
            None when it is not live.
        """
        return self._replicas.get(rid)

    def replicas(self, task: str | None = None) -> list[ReplicaState]:
        """Live replicas (of ``task``), draining ones included.

        Parameters
        ----------
        task : str or None
            Only this task's; None: all.

        Returns
        -------
        list of ReplicaState
            Loading, ready and draining replicas.
        """
        if task is None:
            return list(self._replicas.values())
        return list(self._by_task.get(task, {}).values())

    def accepting_replicas(self, task: str) -> list[ReplicaState]:
        """Live replicas of ``task`` that take new queries.

        Parameters
        ----------
        task : str
            The task.

        Returns
        -------
        list of ReplicaState
            Loading or ready replicas on workers that are not draining.
        """
        return [r for r in self._by_task.get(task, {}).values() if r.accepting]
