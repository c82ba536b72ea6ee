"""A group's models on local devices, run by one worker thread per pipeline stage.

Stage ``k``'s thread takes requests from its FIFO queue, moves the input onto its sub-mesh,
runs the model's stage-``k`` program and blocks until the result is ready, then hands it to
stage ``k + 1``. Stages therefore overlap across requests exactly as in the simulator: a
stage starts the next request as soon as it is done with the previous one. JAX releases the
GIL while a program runs, so the threads execute in parallel.

A batch (:meth:`LocalGroupExecutor.submit_batch`) is one item: its requests' token ids stacked
into one ``(batch, seq_len)`` array, run through the stages as one program call per stage.
JAX compiles each stage once per batch size (the weights are shared); :meth:`build` compiles
and runs every size in ``batch_sizes`` once, so no compilation is ever timed or served.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.placement_spec import Group, Placement
from alpaserve.profiles import ProfileDB, ProfileEntry
from alpaserve.runtime.model import ModelPipeline, build_pipeline
from alpaserve.runtime.profiler import profile_pipeline
from alpaserve.runtime.weights import random_tokens

logger = logging.getLogger(__name__)

# on_done(request_id, start, finish, error) and on_stage(request_id, stage, begin, end): a
# stage's begin is when its thread took the request, its end when the output was ready. Times
# are read from the executor's ``clock``.
DoneCallback = Callable[[int, float, float, BaseException | None], None]
StageCallback = Callable[[int, int, float, float], None]


class GroupExecutor(Protocol):
    """What the runtime needs from a group's executor (local threads or a Ray actor)."""

    @property
    def name(self) -> str: ...

    def build(self) -> None: ...

    def measure(self, *, warmup: int = 2, repeats: int = 5) -> list[ProfileEntry]:
        """Profile every hosted model at each of the executor's batch sizes.

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

    def start(self, on_done: DoneCallback, on_stage: StageCallback | None = None,
              sync: Any = None) -> None:
        """Start serving submitted requests.

        Parameters
        ----------
        on_done : callable
            ``on_done(request_id, start, finish, error)`` when a request leaves its last stage
            (``error`` is the exception that failed it, else ``None``).
        on_stage : callable, optional
            ``on_stage(request_id, stage, begin, end)`` when a request leaves each stage.
        sync : context manager, optional
            A re-entrant lock held while a stage's end is read and reported.
        """

    def submit(self, request_id: int, model: str) -> None:
        """Queue one batch-1 request at stage 0 (returns at once).

        Parameters
        ----------
        request_id : int
            The request's index in the workload.
        model : str
            A model hosted on this group.
        """

    def submit_batch(self, request_ids: Sequence[int], model: str) -> None:
        """Queue one batch at stage 0 (returns at once).

        Parameters
        ----------
        request_ids : sequence of int
            The requests' indices in the workload.
        model : str
            A model hosted on this group.
        """

    def stop(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, kw_only=True)
class _Item:
    request_ids: tuple[int, ...]
    model: str
    payload: Any
    start: float


_STOP = object()


class LocalGroupExecutor:
    """Compile a group's models on its devices and serve requests through stage threads.

    ``device_map`` maps each placement device id of the group to a JAX device. Nothing is
    built until :meth:`build`; :meth:`start` launches the threads and :meth:`stop` joins them.

    Parameters
    ----------
    group : Group
        The placement group: its devices, stage meshes and hosted models.
    specs : mapping of str to ModelSpec
        The specs of the hosted models.
    device_map : mapping of int to jax.Device
        Placement device id to JAX device.
    seed : int, default 0
        Seed of the random weights.
    dtype : optional
        JAX dtype to run in; from each spec's ``dtype_bytes`` by default.
    clock : callable, default time.perf_counter
        The clock the callbacks' times are read from.
    batch_sizes : iterable of int, default (1,)
        Batch sizes compiled and warmed up by :meth:`build` and profiled by :meth:`measure`;
        other sizes compile on first use.
    """

    def __init__(self, *, group: Group, specs: Mapping[str, ModelSpec],
                 device_map: Mapping[int, Any], seed: int = 0, dtype: Any = None,
                 clock: Callable[[], float] = time.perf_counter,
                 batch_sizes: Iterable[int] = (1,)) -> None:
        self.batch_sizes = tuple(sorted({1, *batch_sizes}))
        if any(isinstance(b, bool) or not isinstance(b, int) or b < 1
               for b in self.batch_sizes):
            raise SpecError(f"batch sizes must be integers >= 1, got {self.batch_sizes}")
        self.group = group
        self.specs = dict(specs)
        self.device_map = dict(device_map)
        self.seed = seed
        self.dtype = dtype
        self.clock = clock
        self._pipelines: dict[str, ModelPipeline] = {}
        self._built = False  # a group that hosts no model is built with no pipeline
        self._tokens: dict[tuple[str, int], Any] = {}
        self._sync: AbstractContextManager[Any] = nullcontext()
        self._queues: list[queue.Queue[Any]] = []
        self._threads: list[threading.Thread] = []

    @property
    def name(self) -> str:
        return self.group.name

    def build(self) -> None:
        """Place every hosted model's weights and compile its stages at every batch size."""
        missing = [d for d in self.group.device_ids if d not in self.device_map]
        if missing:
            raise SpecError(f"group {self.group.name!r} uses devices {missing} that are not "
                            f"available ({len(self.device_map)} given)")
        stage_devices = [[self.device_map[d] for d in mesh.device_ids]
                         for mesh in self.group.stage_meshes]
        for name, config in self.group.models.items():
            if name not in self.specs:
                raise SpecError(f"group {self.group.name!r} hosts {name!r} but no ModelSpec "
                                f"was given for it")
            spec = self.specs[name]
            pipe = build_pipeline(spec, config, [], seed=self.seed, dtype=self.dtype,
                                  stage_devices=stage_devices)
            self._pipelines[name] = pipe
            for b in self.batch_sizes:  # compile and run every stage at every size now
                pipe.forward(self._tokens_for(name, b)).block_until_ready()
            logger.info("group %s: built %s (%s)", self.group.name, name, config.key)
        self._built = True

    def _tokens_for(self, model: str, size: int) -> Any:
        key = (model, size)
        if key not in self._tokens:
            self._tokens[key] = random_tokens(self.specs[model], size, self.seed)
        return self._tokens[key]

    def measure(self, *, warmup: int = 2, repeats: int = 5) -> list[ProfileEntry]:
        """Profile every hosted model at every batch size on this group's devices.

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
        return [entry for pipe in self._pipelines.values()
                for entry in profile_pipeline(pipe, self.batch_sizes, warmup=warmup,
                                              repeats=repeats, seed=self.seed)]

    def stage_calls(self, model: str, size: int = 1) -> tuple[Callable[[], Any], ...]:
        """One call per stage running it once as a stage thread does (move its real input
        onto the stage's devices, run, block until ready), for timing stages outside the
        serving threads (:mod:`alpaserve.runtime.contention`).

        Parameters
        ----------
        model : str
            A model hosted on this group (built).
        size : int, default 1
            The batch size.

        Returns
        -------
        tuple of callable
            The stages' calls, in order.
        """
        if model not in self._pipelines:
            raise SpecError(f"group {self.group.name!r} has not built {model!r}")
        x, calls = self._tokens_for(model, size), []
        for stage in self._pipelines[model].stages:
            calls.append(functools.partial(_run_stage, stage, x))
            x = _run_stage(stage, x)
        return tuple(calls)

    def start(self, on_done: DoneCallback, on_stage: StageCallback | None = None,
              sync: AbstractContextManager[Any] | None = None) -> None:
        """Launch one thread per stage; completions are reported through the callbacks.

        Parameters
        ----------
        on_done : callable
            ``on_done(request_id, start, finish, error)`` when a request leaves its last stage
            (``error`` is the exception that failed it, else ``None``).
        on_stage : callable, optional
            ``on_stage(request_id, stage, begin, end)`` when a request leaves each stage:
            ``begin`` is when the stage's thread took it, ``end`` when its output was ready.
        sync : context manager, optional
            Held while a stage's end is read and its callbacks run (a re-entrant lock the
            caller shares with its dispatcher), so whoever holds it sees every stage end
            read before it as already reported.
        """
        if not self._built:
            raise SpecError(f"group {self.group.name!r} was not built (call build() first)")
        if self._threads:
            raise SpecError(f"group {self.group.name!r} is already running")
        depth = self.group.num_stages
        self._sync = sync if sync is not None else nullcontext()
        self._queues = [queue.Queue() for _ in range(depth)]
        self._threads = [
            threading.Thread(target=self._stage_loop, args=(k, on_done, on_stage),
                             name=f"{self.group.name}-stage{k}", daemon=True)
            for k in range(depth)]
        for t in self._threads:
            t.start()

    def submit(self, request_id: int, model: str) -> None:
        """Queue one batch-1 request for ``model`` at stage 0 (returns at once).

        Parameters
        ----------
        request_id : int
            The request's index in the workload.
        model : str
            A model hosted on this group.
        """
        self.submit_batch((request_id,), model)

    def submit_batch(self, request_ids: Sequence[int], model: str) -> None:
        """Queue one batch of requests for ``model`` at stage 0 (returns at once).

        Parameters
        ----------
        request_ids : sequence of int
            The requests' indices in the workload; the batch size is their count.
        model : str
            A model hosted on this group.
        """
        if model not in self._pipelines:
            raise SpecError(f"group {self.group.name!r} does not host {model!r}")
        if not self._queues:
            raise SpecError(f"group {self.group.name!r} is not running (call start() first)")
        if not request_ids:
            raise SpecError(f"group {self.group.name!r}: a batch needs at least one request")
        self._queues[0].put(_Item(request_ids=tuple(request_ids), model=model,
                                  payload=self._tokens_for(model, len(request_ids)),
                                  start=float("nan")))

    def stop(self) -> None:
        """Finish the queued requests, then end the stage threads."""
        if not self._threads:
            return
        self._queues[0].put(_STOP)
        for t in self._threads:
            t.join()
        self._threads, self._queues = [], []

    def close(self) -> None:
        """Stop serving and release the placed weights."""
        self.stop()
        self._pipelines.clear()
        self._tokens.clear()
        self._built = False

    def _stage_loop(self, k: int, on_done: DoneCallback,
                    on_stage: StageCallback | None) -> None:
        last = k == len(self._queues) - 1
        inbox = self._queues[k]
        while True:
            item = inbox.get()
            if item is _STOP:
                if not last:
                    self._queues[k + 1].put(_STOP)
                return
            start = item.start
            try:
                stage = self._pipelines[item.model].stages[k]
                begin = self.clock()
                if k == 0:
                    start = begin
                out = stage(stage.place(item.payload))
                out.block_until_ready()
            except Exception as exc:  # reported per request, the thread keeps serving
                logger.exception("group %s stage %d failed on requests %s", self.group.name,
                                 k, item.request_ids)
                for rid in item.request_ids:
                    on_done(rid, start, float("nan"), exc)
                continue
            with self._sync:  # the end is read and reported at once (see start)
                end = self.clock()
                for rid in item.request_ids:
                    if on_stage is not None:
                        on_stage(rid, k, begin, end)
                    if last:
                        on_done(rid, start, end, None)
            if not last:
                self._queues[k + 1].put(_Item(request_ids=item.request_ids, model=item.model,
                                              payload=out, start=start))


def _run_stage(stage: Any, x: Any) -> Any:
    return stage(stage.place(x)).block_until_ready()


def serving_batch_sizes(max_batch: int, sizes: Sequence[int] | None,
                        profile: ProfileDB | None, placement: Placement) -> tuple[int, ...]:
    """The batch sizes a runtime compiles and serves.

    Parameters
    ----------
    max_batch : int
        The largest batch.
    sizes : sequence of int, optional
        Sizes asked for; sizes above ``max_batch`` are dropped and 1 is added.
    profile : ProfileDB, optional
        A given profile: without ``sizes``, the sizes every hosted (model, config) has.
    placement : Placement
        The groups and the models they host.

    Returns
    -------
    tuple of int
        Ascending, starting with 1; without ``sizes`` or ``profile``, the powers of two
        below ``max_batch`` and ``max_batch`` itself.

    Raises
    ------
    SpecError
        When a size is not an integer >= 1.

    Examples
    --------
    >>> from alpaserve import Placement, homogeneous_cluster
    >>> p = Placement(cluster=homogeneous_cluster(1), models={}, groups=())
    >>> serving_batch_sizes(6, None, None, p), serving_batch_sizes(4, [3, 8], None, p)
    ((1, 2, 4, 6), (1, 3))
    """
    if max_batch == 1:
        return (1,)
    if sizes is None and profile is not None:  # the sizes every hosted pair has
        common: set[int] | None = None
        for group in placement.groups:
            for model, config in group.models.items():
                have = set(profile.batch_sizes(model, config))
                common = have if common is None else common & have
        sizes = sorted(common or {1})
    if sizes is None:
        sizes = [1 << k for k in range(max_batch.bit_length()) if 1 << k < max_batch]
        sizes.append(max_batch)
    bad = [b for b in sizes if isinstance(b, bool) or not isinstance(b, int) or b < 1]
    if bad:
        raise SpecError(f"batch sizes must be integers >= 1, got {bad}")
    return tuple(sorted({1, *(b for b in sizes if b <= max_batch)}))
