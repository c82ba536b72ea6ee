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

import logging
import os
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from alpaserve.errors import ExecutionError
from alpaserve.model_spec import ModelSpec
from alpaserve.placement_spec import Group
from alpaserve.profiles import ProfileEntry
from alpaserve.runtime.executor import DoneCallback, LocalGroupExecutor, StageCallback

logger = logging.getLogger(__name__)

MAX_IN_FLIGHT = 256  # concurrent calls one actor accepts (calls waiting for their turn)
POLL_TIMEOUT = 0.05  # seconds an idle poll waits in the actor (the collector's stop check)


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
        self._cond = threading.Condition()
        self._events: list[tuple[Any, ...]] = []
        self._next = 0  # the next call number to queue
        self._early: dict[int, tuple[list[int], str]] = {}

    def build(self, batch_sizes: list[int] | None = None) -> int:
        """Build the group on the actor's local JAX devices.

        Parameters
        ----------
        batch_sizes : list of int, optional
            Batch sizes to compile at build (1 by default).

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
                                      seed=self._seed, dtype=self._dtype,
                                      batch_sizes=batch_sizes or (1,))
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
        """Start the stage threads; calls are numbered from 0 again."""
        with self._cond:
            self._events, self._next, self._early = [], 0, {}
        self._executor().start(self._on_done, self._on_stage)

    def stop(self) -> None:
        """Finish the queued requests and end the stage threads."""
        self._executor().stop()

    def _on_stage(self, rid: int, k: int, begin: float, end: float) -> None:
        with self._cond:
            self._events.append(("stage", rid, k, begin, end))
            self._cond.notify_all()

    def _on_done(self, rid: int, start: float, finish: float, err: BaseException | None) -> None:
        with self._cond:
            self._events.append(("done", rid, start, finish, None if err is None else repr(err)))
            self._cond.notify_all()

    def submit(self, seq: int, rids: list[int], model: str) -> float:
        """Queue one request or batch at stage 0, after every call numbered before ``seq``.

        Parameters
        ----------
        seq : int
            The call's number (0, 1, ... since :meth:`start`).
        rids : list of int
            Its request ids (one: batch size 1).
        model : str
            Hosted model.

        Returns
        -------
        float
            The actor's clock when the call arrived.
        """
        received = time.perf_counter()
        ex = self._executor()
        with self._cond:
            self._early[seq] = (rids, model)
            while self._next in self._early:  # in the driver's order, whatever Ray's
                ids, name = self._early.pop(self._next)
                ex.submit_batch(ids, name)
                self._next += 1
        return received

    def poll(self, timeout: float) -> list[tuple[Any, ...]]:
        """The stage ends and completions since the last poll (waits up to ``timeout``).

        Parameters
        ----------
        timeout : float
            Seconds to wait for a first event.

        Returns
        -------
        list of tuple
            ``("stage", rid, k, begin, end)`` and ``("done", rid, start, finish, error)``
            in the order they happened, on the actor's clock.
        """
        with self._cond:
            if not self._events:
                self._cond.wait(timeout)
            out, self._events = self._events, []
        return out


def _fresh_actor_class() -> type:
    """A copy of :class:`GroupActor` with its own function objects: Ray sets a tracing
    parameter on the signature of every method of the class it wraps."""
    methods = {name: types.FunctionType(f.__code__, f.__globals__, name, f.__defaults__,
                                        f.__closure__)
               for name, f in vars(GroupActor).items() if isinstance(f, types.FunctionType)}
    return type("GroupActor", (GroupActor,), methods)


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
        actor_cls: Any = ray.remote(_fresh_actor_class())
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
            Ignored: the callbacks take the caller's lock themselves; a stage end is read in
            the actor and reported one poll later (see the module docstring).
        """
        import ray

        if self._collector is not None:
            raise ExecutionError(f"group {self.name!r} is already running")
        ray.get(self._actor.start.remote())
        with self._lock:
            self._calls, self._received, self._seq, self._stopping = {}, {}, 0, False
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
