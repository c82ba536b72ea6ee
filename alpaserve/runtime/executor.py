"""A group's models on local devices, run by one worker thread per pipeline stage.

Stage ``k``'s thread takes requests from its FIFO queue, moves the input onto its sub-mesh,
runs the model's stage-``k`` program and blocks until the result is ready, then hands it to
stage ``k + 1``. Stages therefore overlap across requests exactly as in the simulator: a
stage starts the next request as soon as it is done with the previous one. JAX releases the
GIL while a program runs, so the threads execute in parallel.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.placement_spec import Group
from alpaserve.profiles import ProfileEntry
from alpaserve.runtime.model import ModelPipeline, build_pipeline
from alpaserve.runtime.profiler import profile_pipeline
from alpaserve.runtime.weights import random_tokens

logger = logging.getLogger(__name__)

# on_done(request_id, start, finish, error) and on_stage(request_id, stage, begin, end): a
# stage's begin is when its thread took the request, its end when the output was ready. Times
# are read from the executor's ``clock``.
DoneCallback = Callable[[int, float, float, BaseException | None], None]
StageCallback = Callable[[int, int, float, float], None]


@dataclass(frozen=True, kw_only=True)
class _Item:
    request_id: int
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
    """

    def __init__(self, *, group: Group, specs: Mapping[str, ModelSpec],
                 device_map: Mapping[int, Any], seed: int = 0, dtype: Any = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.group = group
        self.specs = dict(specs)
        self.device_map = dict(device_map)
        self.seed = seed
        self.dtype = dtype
        self.clock = clock
        self._pipelines: dict[str, ModelPipeline] = {}
        self._tokens: dict[str, Any] = {}
        self._queues: list[queue.Queue[Any]] = []
        self._threads: list[threading.Thread] = []

    @property
    def name(self) -> str:
        return self.group.name

    def build(self) -> None:
        """Place every hosted model's weights and compile its stages (batch size 1)."""
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
            tokens = random_tokens(spec, 1, self.seed)
            pipe.forward(tokens).block_until_ready()  # compile every stage now
            self._pipelines[name] = pipe
            self._tokens[name] = tokens
            logger.info("group %s: built %s (%s)", self.group.name, name, config.key)

    def measure(self, *, warmup: int = 2, repeats: int = 5) -> list[ProfileEntry]:
        """Profile every hosted model at batch size 1 on this group's devices.

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
        return [entry for pipe in self._pipelines.values()
                for entry in profile_pipeline(pipe, [1], warmup=warmup, repeats=repeats,
                                              seed=self.seed)]

    def start(self, on_done: DoneCallback, on_stage: StageCallback | None = None) -> None:
        """Launch one thread per stage; completions are reported through the callbacks.

        Parameters
        ----------
        on_done : callable
            ``on_done(request_id, start, finish, error)`` when a request leaves its last stage
            (``error`` is the exception that failed it, else ``None``).
        on_stage : callable, optional
            ``on_stage(request_id, stage, begin, end)`` when a request leaves each stage:
            ``begin`` is when the stage's thread took it, ``end`` when its output was ready.
        """
        if not self._pipelines:
            raise SpecError(f"group {self.group.name!r} was not built (call build() first)")
        if self._threads:
            raise SpecError(f"group {self.group.name!r} is already running")
        depth = self.group.num_stages
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
        if model not in self._pipelines:
            raise SpecError(f"group {self.group.name!r} does not host {model!r}")
        if not self._queues:
            raise SpecError(f"group {self.group.name!r} is not running (call start() first)")
        self._queues[0].put(_Item(request_id=request_id, model=model,
                                  payload=self._tokens[model], start=float("nan")))

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
                end = self.clock()
            except Exception as exc:  # reported per request, the thread keeps serving
                logger.exception("group %s stage %d failed on request %d", self.group.name,
                                 k, item.request_id)
                on_done(item.request_id, start, float("nan"), exc)
                continue
            if on_stage is not None:
                on_stage(item.request_id, k, begin, end)
            if last:
                on_done(item.request_id, start, end, None)
            else:
                self._queues[k + 1].put(_Item(request_id=item.request_id, model=item.model,
                                              payload=out, start=start))
