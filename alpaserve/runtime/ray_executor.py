"""A group hosted in its own Ray actor, so one placement can span several hosts.

The actor owns the group's devices: its JAX sees them as local devices ``0 .. n-1`` (CPU
virtual devices by default; pass ``actor_options={"num_gpus": n}`` for GPUs) and runs a
:class:`~alpaserve.runtime.executor.LocalGroupExecutor` inside, with one thread per stage.
The driver submits each request as an actor call; a collector thread waits on the replies.

Clocks: an actor reports its stage times on its own clock together with the time it received
the call, and the driver maps them onto its clock as ``sent + (t - received)``. That needs no
clock synchronisation between hosts and leaves out only the call's one-way transit time.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from alpaserve.errors import ExecutionError
from alpaserve.model_spec import ModelSpec
from alpaserve.placement_spec import Group
from alpaserve.profiles import ProfileEntry
from alpaserve.runtime.executor import DoneCallback, LocalGroupExecutor, StageCallback

logger = logging.getLogger(__name__)

MAX_IN_FLIGHT = 256  # concurrent calls one actor accepts (requests queued in its stages)


class GroupActor:
    """The object each Ray actor holds (plain class; wrapped by ``ray.remote`` lazily).

    Parameters
    ----------
    group : dict
        The group as :meth:`Group.to_dict` writes it.
    specs : dict of str to dict
        The hosted models' specs as dictionaries.
    seed : int
        Seed of the random weights.
    dtype : str or None
        JAX dtype name, or ``None`` for each spec's own.
    """

    def __init__(self, group: dict[str, Any], specs: dict[str, dict[str, Any]], seed: int,
                 dtype: str | None) -> None:
        self._group = Group.from_dict(group)
        self._specs = {name: ModelSpec.from_dict(s) for name, s in specs.items()}
        self._seed = seed
        self._dtype = dtype
        self._ex: LocalGroupExecutor | None = None
        self._waiting: dict[int, tuple[threading.Event, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def build(self) -> int:
        """Build the group on the actor's local JAX devices.

        Returns
        -------
        int
            The number of devices the group uses.

        Raises
        ------
        ExecutionError
            When the actor sees fewer devices than the group needs.
        """
        import jax

        devices = jax.devices()
        ids = self._group.device_ids
        if len(devices) < len(ids):
            raise ExecutionError(f"actor for group {self._group.name!r} sees {len(devices)} "
                                 f"devices but the group needs {len(ids)}")
        self._ex = LocalGroupExecutor(group=self._group, specs=self._specs,
                                      device_map={d: devices[i] for i, d in enumerate(ids)},
                                      seed=self._seed, dtype=self._dtype)
        self._ex.build()
        return len(devices)

    def _executor(self) -> LocalGroupExecutor:
        if self._ex is None:
            raise ExecutionError(f"group {self._group.name!r} actor was not built")
        return self._ex

    def measure(self, warmup: int, repeats: int) -> list[dict[str, Any]]:
        """Profile the hosted models; entries as dictionaries (picklable).

        Parameters
        ----------
        warmup : int
            Untimed runs before timing.
        repeats : int
            Timed runs.

        Returns
        -------
        list of dict
            :meth:`ProfileEntry.to_dict` of each entry.
        """
        return [e.to_dict() for e in self._executor().measure(warmup=warmup, repeats=repeats)]

    def start(self) -> None:
        self._executor().start(self._on_done, self._on_stage)

    def stop(self) -> None:
        self._executor().stop()

    def _on_stage(self, rid: int, k: int, begin: float, end: float) -> None:
        with self._lock:
            record = self._waiting[rid][1]
            record["begins"][k] = begin
            record["stages"][k] = end

    def _on_done(self, rid: int, start: float, finish: float, err: BaseException | None) -> None:
        with self._lock:
            event, record = self._waiting[rid]
        record.update(start=start, finish=finish, error=None if err is None else repr(err))
        event.set()

    def run(self, rid: int, model: str) -> dict[str, Any]:
        """Serve one request; blocks this call's thread until the request's last stage.

        Parameters
        ----------
        rid : int
            Request id.
        model : str
            Hosted model.

        Returns
        -------
        dict
            ``received`` (the actor's clock when the call arrived), ``begins`` and ``stages``
            (each stage's begin and end), and the fields the completion callback fills in.
        """
        received = time.perf_counter()
        event = threading.Event()
        depth = self._group.num_stages
        record: dict[str, Any] = {"received": received, "begins": [float("nan")] * depth,
                                  "stages": [float("nan")] * depth}
        with self._lock:
            self._waiting[rid] = (event, record)
        self._executor().submit(rid, model)
        event.wait()
        with self._lock:
            del self._waiting[rid]
        return record


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
    """

    def __init__(self, *, group: Group, specs: Mapping[str, ModelSpec], seed: int = 0,
                 dtype: Any = None, actor_options: Mapping[str, Any] | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.group = group
        self.specs = dict(specs)
        self.seed = seed
        self.dtype = None if dtype is None else str(dtype)
        self.actor_options = dict(actor_options or {})
        self.clock = clock
        self._actor: Any = None
        self._pending: queue.Queue[Any] = queue.Queue()
        self._collector: threading.Thread | None = None

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
        actor_cls = ray.remote(GroupActor)
        self._actor = actor_cls.options(**self._options()).remote(
            self.group.to_dict(), {n: s.to_dict() for n, s in self.specs.items()}, self.seed,
            self.dtype)
        n = ray.get(self._actor.build.remote())
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
            One ``source="measured"`` entry per hosted model at batch size 1.
        """
        import ray

        return [ProfileEntry.from_dict(d)
                for d in ray.get(self._actor.measure.remote(warmup, repeats))]

    def start(self, on_done: DoneCallback, on_stage: StageCallback | None = None,
              sync: Any = None) -> None:
        """Start serving; results come back on a driver thread.

        Parameters
        ----------
        on_done : callable
            ``on_done(request_id, start, finish, error)`` when a request leaves its last stage
            (``error`` is the exception that failed it, else ``None``).
        on_stage : callable, optional
            ``on_stage(request_id, stage, begin, end)`` when a request leaves each stage.
        sync : context manager, optional
            Ignored: stage ends are read in the actor, and reported only when the request
            is done, so they cannot be reported at once.
        """
        import ray

        if self._collector is not None:
            raise ExecutionError(f"group {self.name!r} is already running")
        ray.get(self._actor.start.remote())
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
        sent = self.clock()
        self._pending.put((self._actor.run.remote(request_id, model), request_id, sent))

    def submit_batch(self, request_ids: Any, model: str) -> None:
        """Batches are not served through Ray actors (see :class:`Runtime`'s ``max_batch``).

        Parameters
        ----------
        request_ids : sequence of int
            The batch's requests.
        model : str
            Their model.

        Raises
        ------
        ExecutionError
            Always: an actor reports stage ends only when a request is done, too late for
            the driver to form the next batch when stage 0 frees.
        """
        raise ExecutionError(f"group {self.name!r}: Ray actors serve batch size 1 only "
                             f"(got a batch of {len(request_ids)} for {model!r})")

    def _collect(self, on_done: DoneCallback, on_stage: StageCallback | None) -> None:
        import ray

        while True:
            item = self._pending.get()
            if item is None:
                return
            ref, rid, sent = item
            try:
                rec = ray.get(ref)
            except Exception as exc:  # the call itself failed (actor died...)
                on_done(rid, float("nan"), float("nan"), exc)
                continue

            def local(t: float, rec: dict[str, Any] = rec, sent: float = sent) -> float:
                return sent + (t - rec["received"])

            if on_stage is not None:
                for k, (begin, end) in enumerate(zip(rec["begins"], rec["stages"],
                                                     strict=True)):
                    on_stage(rid, k, local(begin), local(end))
            err = None if rec["error"] is None else ExecutionError(rec["error"])
            on_done(rid, local(rec["start"]), local(rec["finish"]), err)

    def stop(self) -> None:
        """Wait for the submitted requests, then stop the collector and the actor's stages."""
        import ray

        if self._collector is None:
            return
        self._pending.put(None)
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
