"""The object each group's Ray actor holds (:mod:`alpaserve.runtime.ray_executor` drives it).

It runs a :class:`~alpaserve.runtime.executor.LocalGroupExecutor` on the actor's devices,
queues the driver's calls in their numbered order, and buffers every stage end as an event
until the driver's next poll.
"""

from __future__ import annotations

import threading
import time
import types
from typing import Any

from alpaserve.errors import ExecutionError
from alpaserve.model_spec import ModelSpec
from alpaserve.placement_spec import Group
from alpaserve.runtime.executor import LocalGroupExecutor

MAX_IN_FLIGHT = 256  # concurrent calls one actor accepts (calls waiting for their turn)


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
        self._cond = threading.Condition(threading.RLock())
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
        # a batch's members leave a stage under the (re-entrant) lock: one poll gets them all
        self._executor().start(self._on_done, self._on_stage, sync=self._cond)

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


def fresh_actor_class() -> type:
    """A copy of :class:`GroupActor` with its own function objects, for ``ray.remote``.

    Ray sets a tracing parameter on the signature of every method of the class it wraps;
    on a copy, :class:`GroupActor` itself keeps its documented signatures.

    Returns
    -------
    type
        A subclass of :class:`GroupActor` whose methods are fresh function objects.
    """
    methods = {name: types.FunctionType(f.__code__, f.__globals__, name, f.__defaults__,
                                        f.__closure__)
               for name, f in vars(GroupActor).items() if isinstance(f, types.FunctionType)}
    return type("GroupActor", (GroupActor,), methods)
