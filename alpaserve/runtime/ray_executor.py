"""A group hosted in its own Ray actor, so one placement can span several hosts.

The actor owns the group's devices: its JAX sees them as local devices ``0 .. n-1`` (CPU
virtual devices by default; pass ``actor_options={"num_gpus": n}`` for GPUs) and runs a
:class:`~alpaserve.runtime.executor.LocalGroupExecutor` inside, with one thread per stage.

The driver sends each request or batch as an actor call that only queues it at stage 0 and
returns at once. Every stage end is an event the actor buffers as it happens; a driver
thread long-polls the actor for them and reports each one (``on_stage``, ``on_done``) as soon
as it arrives, so the driver learns that a group's stage 0 is free while the rest of the
pipeline still runs, which is what batching needs: the next batch forms then. Calls may run
out of order in the actor's thread pool, so each carries a sequence number and the actor
queues them in the driver's order.

Clocks: an actor reports its stage times on its own clock together with the time it received
the call, and the driver maps them onto its clock as ``sent + (t - received)``. That needs no
clock synchronisation between hosts and leaves out only the call's one-way transit time; the
report itself arrives one poll later, so a formation on the driver follows the stage end it
waited for by that delay (which the replay check measures as the formation's handoff).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from alpaserve.errors import ExecutionError
from alpaserve.model_spec import ModelSpec
from alpaserve.placement_spec import Group
from alpaserve.profiles import ProfileEntry
from alpaserve.runtime.executor import DoneCallback, StageCallback
from alpaserve.runtime.ray_actor import MAX_IN_FLIGHT, fresh_actor_class

logger = logging.getLogger(__name__)

POLL_TIMEOUT = 0.05  # seconds an idle poll waits in the actor (the collector's stop check)


class RayGroupExecutor:
    """The driver's handle on a group that lives in a Ray actor (``ray.init()`` first).

    Parameters
    ----------
    group : Group
        The placement group.
    specs : mapping of str to ModelSpec
        The hosted models' specs.
    seed : int, default 0
        Seed of the random weights.
    dtype : optional
        JAX dtype; each spec's own by default.
    actor_options : mapping, optional
        Options for ``ray.remote(...).options`` (e.g. ``num_cpus``, ``num_gpus``).
    clock : callable, default time.perf_counter
        The driver's clock for the callbacks.
    batch_sizes : iterable of int, default (1,)
        Batch sizes the actor compiles at build and profiles.
    """

    def __init__(self, *, group: Group, specs: Mapping[str, ModelSpec], seed: int = 0,
                 dtype: Any = None, actor_options: Mapping[str, Any] | None = None,
                 clock: Callable[[], float] = time.perf_counter,
                 batch_sizes: Iterable[int] = (1,)) -> None:
        self.batch_sizes = tuple(sorted({1, *batch_sizes}))
        self.group = group
        self.specs = dict(specs)
        self.seed = seed
        self.dtype = None if dtype is None else str(dtype)
        self.actor_options = dict(actor_options or {})
        self.clock = clock
        self._actor: Any = None
        self._collector: threading.Thread | None = None
        self._lock = threading.Condition()
        self._calls: dict[int, tuple[float, Any]] = {}  # request -> (sent, ref of the call)
        self._received: dict[Any, float] = {}
        self._seq = 0
        self._stopping = False
        self._sync: AbstractContextManager[Any] = contextlib.nullcontext()

    @property
    def name(self) -> str:
        return self.group.name

    def _options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"max_concurrency": MAX_IN_FLIGHT, "num_cpus": 0}
        opts.update(self.actor_options)
        env = dict(opts.get("runtime_env", {}).get("env_vars", {}))
        root = str(Path(__file__).resolve().parents[2])  # so workers import this source tree
        env.setdefault("PYTHONPATH", os.pathsep.join([root, *filter(None, [
            os.environ.get("PYTHONPATH")])]))
        if not opts.get("num_gpus"):
            env.setdefault("JAX_PLATFORMS", "cpu")
            env.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count="
                           f"{self.group.num_devices}")
        opts["runtime_env"] = {**opts.get("runtime_env", {}), "env_vars": env}
        return opts

    def build(self) -> None:
        import ray

        if not ray.is_initialized():
            raise ExecutionError("the Ray backend needs ray.init() before the runtime opens")
        actor_cls: Any = ray.remote(fresh_actor_class())
        self._actor = actor_cls.options(**self._options()).remote(
            self.group.to_dict(), {n: s.to_dict() for n, s in self.specs.items()}, self.seed,
            self.dtype)
        n = ray.get(self._actor.build.remote(list(self.batch_sizes)))
        logger.info("group %s: actor built on %d devices (python %s)", self.name, n,
                    sys.version.split()[0])

    def measure(self, *, warmup: int = 2, repeats: int = 5) -> list[ProfileEntry]:
        """Profile the hosted models inside the actor.

        Parameters
        ----------
        warmup : int, default 2
            Untimed runs before timing.
        repeats : int, default 5
            Timed runs; the median is kept.

        Returns
        -------
        list of ProfileEntry
            One ``source="measured"`` entry per hosted model and batch size.
        """
        import ray

        return [ProfileEntry.from_dict(d)
                for d in ray.get(self._actor.measure.remote(warmup, repeats))]

    def start(self, on_done: DoneCallback, on_stage: StageCallback | None = None,
              sync: Any = None) -> None:
        """Start serving; stage ends are reported from a driver thread as they arrive.

        Parameters
        ----------
        on_done : callable
            ``on_done(request_id, start, finish, error)`` when a request leaves its last stage
            (``error`` is the exception that failed it, else ``None``).
        on_stage : callable, optional
            ``on_stage(request_id, stage, begin, end)`` when a request leaves each stage.
        sync : context manager, optional
            A re-entrant lock held while one poll's events are reported, so all members of a
            batch leave a stage together for whoever holds it (a stage end is read in the
            actor and reported one poll later, see the module docstring).
        """
        import ray

        if self._collector is not None:
            raise ExecutionError(f"group {self.name!r} is already running")
        ray.get(self._actor.start.remote())
        with self._lock:
            self._calls, self._received, self._seq, self._stopping = {}, {}, 0, False
        self._sync = sync if sync is not None else contextlib.nullcontext()
        self._collector = threading.Thread(target=self._collect, args=(on_done, on_stage),
                                           name=f"{self.name}-collector", daemon=True)
        self._collector.start()

    def submit(self, request_id: int, model: str) -> None:
        """Send one request to the actor (returns at once).

        Parameters
        ----------
        request_id : int
            The request's index in the workload.
        model : str
            A model hosted on this group.
        """
        self.submit_batch((request_id,), model)

    def submit_batch(self, request_ids: Sequence[int], model: str) -> None:
        """Send one batch to the actor (returns at once); it runs as one array.

        Parameters
        ----------
        request_ids : sequence of int
            The batch's requests.
        model : str
            Their model.
        """
        if self._collector is None:
            raise ExecutionError(f"group {self.name!r} is not running (call start() first)")
        if not request_ids:
            raise ExecutionError(f"group {self.name!r}: a batch needs at least one request")
        with self._lock:
            sent = self.clock()
            ref = self._actor.submit.remote(self._seq, list(request_ids), model)
            self._seq += 1
            for rid in request_ids:
                self._calls[rid] = (sent, ref)

    def _to_driver(self, rid: int, t: float) -> float:
        import ray

        sent, ref = self._calls[rid]
        if ref not in self._received:
            self._received[ref] = ray.get(ref)
        return sent + (t - self._received[ref])

    def _collect(self, on_done: DoneCallback, on_stage: StageCallback | None) -> None:
        import ray

        while True:
            with self._lock:
                if self._stopping and not self._calls:
                    return
            try:
                events = ray.get(self._actor.poll.remote(POLL_TIMEOUT))
            except Exception as exc:  # the actor died: fail every request still out
                with self._lock:
                    lost, self._calls = list(self._calls), {}
                for rid in lost:
                    on_done(rid, float("nan"), float("nan"), exc)
                return
            with self._sync:
                self._report(events, on_done, on_stage)

    def _report(self, events: list[tuple[Any, ...]], on_done: DoneCallback,
                on_stage: StageCallback | None) -> None:
        for kind, rid, *rest in events:
            if kind == "stage":  # (k, begin, end)
                with self._lock:
                    a, b = self._to_driver(rid, rest[1]), self._to_driver(rid, rest[2])
                if on_stage is not None:
                    on_stage(rid, rest[0], a, b)
                continue
            start, finish, error = rest  # "done"
            with self._lock:
                a, b = self._to_driver(rid, start), self._to_driver(rid, finish)
                del self._calls[rid]
            on_done(rid, a, b, None if error is None else ExecutionError(error))

    def stop(self) -> None:
        """Wait for the submitted requests, then stop the collector and the actor's stages."""
        import ray

        if self._collector is None:
            return
        with self._lock:
            self._stopping = True
        self._collector.join()
        self._collector = None
        ray.get(self._actor.stop.remote())

    def close(self) -> None:
        import ray

        if self._actor is None:
            return
        self.stop()
        ray.kill(self._actor)
        self._actor = None
