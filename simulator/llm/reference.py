"""The SimPy reference of the token-level engine: :mod:`simulator.llm.semantics`, executable.

Written to be read, not to be fast. Each group is a SimPy process that sleeps until
something happens to it (an iteration completes, a request arrives, its first stage frees
up, a model finishes loading) and then, at that instant's *scheduling* priority, tries to
start an iteration. One arrival process per group feeds its queues. Event priorities make
the semantics' order at one time hold: every completion (and stage-free or load-end wake-up)
comes first, then every arrival, then the scheduling (with the stuck-group rule when no
model yields a batch). One model's attempt (prefill-first or chunked, with recompute
preemption) is in :mod:`simulator.llm.reference_state`; the debug records in
:mod:`simulator.llm.debug_log`.

Times are absolute: an arrival fires at exactly its time, an iteration started at ``t`` with
stage time ``S`` frees the first stage at ``t + S`` and completes at ``t + P * S``, each
evaluated once as written, so the compiled engine can reproduce every float.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from heapq import heappush
from itertools import count
from typing import Any

import numpy as np
import simpy
from simpy.events import Event

from alpaserve.errors import SimulationError
from simulator.llm.config import EngineGroup, LLMDeployment
from simulator.llm.debug_log import IterationRecord, ReferenceOutcome
from simulator.llm.kv_timeline import ChangeLog, KVTimeline, timeline_points
from simulator.llm.prepared import PreparedLLM
from simulator.llm.reference_state import (
    Batch,
    BlockPool,
    ModelState,
    Preemption,
    Sequence,
    attempt_chunked,
    attempt_prefill_first,
    preempt,
)
from simulator.llm.semantics import LLMRequestStatus

COMPLETION_PRIORITY = 0  # completions, stage-free and load-end wake-ups
WAKE_PRIORITY = 1  # SimPy's NORMAL: a succeeded event (the group process waking up)
ARRIVAL_PRIORITY = 2
SCHEDULE_PRIORITY = 3  # last at its instant: after every completion and arrival


class _At(Event):
    """An event firing at absolute time ``t`` (not ``now + delay``, which may round)."""

    def __init__(self, env: simpy.Environment, t: float, priority: int,
                 callback: Callable[[Event], None] | None = None) -> None:
        super().__init__(env)
        if t < env.now:
            raise SimulationError(f"cannot schedule at {t}, before now={env.now}")
        if callback is not None:
            self.callbacks.append(callback)
        self._ok = True
        self._value = None
        entry: tuple[float, int, int, Event] = (t, priority, next(env._eid), self)
        heappush(env._queue, entry)  # type: ignore[misc]


class _Group:
    """A group's state: its models, pools, first stage and accounting."""

    def __init__(self, index: int, spec: EngineGroup, timeline: bool) -> None:
        self.index, self.spec = index, spec
        if spec.kv_sharing == "shared":
            pool = BlockPool(capacity=sum(m.kv_blocks for m in spec.models))
            self.pools = [pool]
            pools = [pool] * len(spec.models)
        else:
            self.pools = [BlockPool(capacity=m.kv_blocks) for m in spec.models]
            pools = self.pools
        stamps = count()  # admission order over the whole group
        self.models = [ModelState(slot=s, served=m, pool=pools[s], stamps=stamps)
                       for s, m in enumerate(spec.models)]
        self.attempt = attempt_chunked if spec.scheduler.chunked_prefill else attempt_prefill_first
        self.free_at = 0.0  # when the first stage is free
        self.last = len(self.models) - 1  # the model that ran last: the first one goes first
        self.resident = 0  # with swap: the model whose weights are loaded
        self.in_flight = 0
        self.wake: Event | None = None  # pending wake-up of the group's process
        self.iterations = 0
        self.busy_s = 0.0
        self.kv_block_seconds = 0.0
        self.kv_since = 0.0
        self.kv_log = ChangeLog() if timeline else None  # the KV timeline, unbounded

    def blocks_in_use(self) -> int:
        return sum(p.used for p in self.pools)

    def account_kv(self, now: float) -> None:
        """Add the blocks in use since the last change; call before every change."""
        self.kv_block_seconds += self.blocks_in_use() * (now - self.kv_since)
        self.kv_since = now

    def log_kv(self, now: float) -> None:
        """Record the blocks in use now (after every change; the last at an instant counts)."""
        if self.kv_log is not None:
            self.kv_log.record(now, self.blocks_in_use())

    def round_robin(self, first: int | None = None) -> list[ModelState]:
        """Models in trying order: from ``first``, or after the one that ran last."""
        m = len(self.models)
        start = self.last + 1 if first is None else first
        return [self.models[(start + k) % m] for k in range(m)]


class _Reference:
    """One run: the SimPy environment, the groups, the per-request results."""

    def __init__(self, prepared: PreparedLLM, deployment: LLMDeployment, debug: bool,
                 max_points: int) -> None:
        self.prepared, self.debug, self.max_points = prepared, debug, max_points
        self.env = simpy.Environment()
        self.groups = [_Group(g, spec, max_points > 0)
                       for g, spec in enumerate(deployment.groups)]
        n = len(prepared)
        self.first_token = np.full(n, np.nan)
        self.finish = np.full(n, np.nan)
        self.status = np.full(n, LLMRequestStatus.FINISHED, dtype=np.int64)
        self.status[prepared.rejected] = LLMRequestStatus.REJECTED
        self.sequences: list[Sequence | None] = [
            None if prepared.rejected[i] else
            Sequence(index=i, prompt=int(prepared.prompt[i]), output=int(prepared.output[i]))
            for i in range(n)]
        self.iteration_log: list[IterationRecord] = []
        self.preemption_log: list[tuple[float, int, int, Preemption]] = []
        self.load_log: list[tuple[float, int, int, float]] = []

    # ------------------------------------------------------------------ processes
    def arrivals(self, g: int) -> Generator[Event, Any, None]:
        """Group ``g``'s arrivals, in order; a rejected request never reaches the group."""
        group, p = self.groups[g], self.prepared
        for i in np.flatnonzero(p.group == g).tolist():
            yield _At(self.env, float(p.arrival[i]), ARRIVAL_PRIORITY)
            seq = self.sequences[i]
            if seq is not None:
                group.models[int(p.slot[i])].waiting.append(seq)
                self.poke(group)

    def group_process(self, group: _Group) -> Generator[Event, Any, None]:
        """Sleep until poked; then, after this instant's completions and arrivals, schedule."""
        env = self.env
        while True:
            group.wake = env.event()
            yield group.wake
            group.wake = None  # pokes until the scheduling below are already covered
            yield _At(env, env.now, SCHEDULE_PRIORITY)
            if group.free_at <= env.now:
                self.schedule(group)

    def poke(self, group: _Group, _event: Event | None = None) -> None:
        """Something happened to ``group``: make it schedule at this instant."""
        if group.wake is not None and not group.wake.triggered:
            group.wake.succeed()

    # ------------------------------------------------------------------ scheduling
    def schedule(self, group: _Group) -> None:
        """Start a batch or a load; while none starts, nothing is in flight and blocks are
        held, preempt the group's latest admission and try again (the stuck-group rule)."""
        now = self.env.now
        group.account_kv(now)  # attempts allocate and preempt
        preempted: list[Preemption] = []
        first: int | None = None
        while not self.try_models(group, now, preempted, first):
            if group.in_flight or not group.blocks_in_use():
                group.log_kv(now)
                return  # wait for the next event
            running = [(seq, model) for model in group.models for seq in model.running
                       if not seq.in_flight]
            seq, model = max(running, key=lambda pair: pair[0].admitted)
            forced: list[Preemption] = []
            preempt(model, seq, forced, stuck_group=True)
            preempted += forced
            if self.debug:
                self.preemption_log += [(now, group.index, model.slot, pre) for pre in forced]
            # the oldest admission's model tries first: it gets the freed blocks
            oldest = min(((s, m) for m in group.models for s in m.running),
                         key=lambda pair: pair[0].admitted, default=None)
            first = None if oldest is None else oldest[1].slot
        group.log_kv(now)

    def try_models(self, group: _Group, now: float, preempted: list[Preemption],
                   first: int | None) -> bool:
        """Choose a model (round robin from ``first`` or after the last to run, or the
        resident one with swap) and start its batch.

        Returns whether a batch or a load started; ``preempted`` gathers the attempts'
        preemptions for the debug log.
        """
        if group.spec.swap:
            resident = group.models[group.resident]
            if resident.has_work():
                candidates = [resident]
            else:
                order = [group.models[(resident.slot + k) % len(group.models)]
                         for k in range(1, len(group.models))]
                nxt = next((m for m in order if m.waiting), None)
                if nxt is None:
                    return False
                self.load(group, nxt, now)
                return True
        else:
            candidates = group.round_robin(first)
        for model in candidates:
            batch = group.attempt(model, group.spec.scheduler)
            if self.debug:
                preempted += batch.preempted
                self.preemption_log += [(now, group.index, model.slot, pre)
                                        for pre in batch.preempted]
            if batch:
                group.last = model.slot
                self.start(group, batch, now, tuple(preempted))
                return True
        return False

    def load(self, group: _Group, model: ModelState, now: float) -> None:
        """Switch a swapping group to ``model``: the first stage is held for its load."""
        load_s = model.served.load_s
        group.resident = model.slot
        group.free_at = now + load_s
        group.busy_s += load_s
        if self.debug:
            self.load_log.append((now, group.index, model.slot, load_s))
        _At(self.env, group.free_at, COMPLETION_PRIORITY, lambda e: self.poke(group))

    def start(self, group: _Group, batch: Batch, now: float,
              preempted: tuple[Preemption, ...]) -> None:
        """Start ``batch`` at ``now``: hold the first stage ``S``, complete at ``now + P * S``."""
        cost = batch.model.served.cost
        stage = cost.stage_s(n_tokens=batch.n_tokens, prefill_units=batch.prefill_units,
                             decode_kv_tokens=batch.decode_kv_tokens)
        end = now + cost.pipeline_stages * stage
        group.free_at = now + stage
        group.busy_s += stage
        group.iterations += 1
        group.in_flight += 1
        if self.debug:
            pool = batch.model.pool
            self.iteration_log.append(IterationRecord(
                group=group.index, slot=batch.model.slot, start=now, stage_s=stage, end=end,
                chunks=tuple((s.index, c, before, s.stored == s.prompt + s.generated)
                             for s, c, before in batch.chunks),
                decodes=tuple(s.index for s in batch.decodes), preempted=preempted,
                pool_used=pool.used, pool_capacity=pool.capacity,
                group_used=group.blocks_in_use(), in_flight=group.in_flight))
        _At(self.env, end, COMPLETION_PRIORITY, lambda e: self.complete(group, batch))
        if cost.pipeline_stages > 1:  # the first stage frees up before the tokens come out
            _At(self.env, group.free_at, COMPLETION_PRIORITY, lambda e: self.poke(group))

    def complete(self, group: _Group, batch: Batch) -> None:
        """The iteration ends now: emit tokens, finish requests, free their blocks."""
        now = self.env.now
        group.account_kv(now)
        group.in_flight -= 1
        model = batch.model
        emitting = list(batch.decodes)
        for seq, _, _ in batch.chunks:
            seq.in_flight = False
            if seq.stored == seq.prompt + seq.generated:  # its last chunk: a token comes out
                seq.prefill_done = True
                emitting.append(seq)
        for seq in emitting:
            seq.in_flight = False
            seq.generated += 1
            if seq.generated == 1:
                self.first_token[seq.index] = now
            if seq.generated == seq.output:
                self.finish[seq.index] = now
                model.running.remove(seq)
                model.pool.used -= seq.blocks
                seq.blocks = 0
                seq.running = False
        group.log_kv(now)
        self.poke(group)

    # ------------------------------------------------------------------ the run
    def run(self) -> ReferenceOutcome:
        """Simulate to the end and gather the outcome."""
        env = self.env
        for group in self.groups:
            env.process(self.group_process(group))
            env.process(self.arrivals(group.index))
        env.run()
        unfinished = [s.index for s in self.sequences
                      if s is not None and s.generated < s.output]
        if unfinished:
            # the stuck-group rule makes this unreachable: a guard against bugs
            raise SimulationError(f"{len(unfinished)} requests never finished (first: "
                                  f"{unfinished[:5]}): a bug in the reference")
        p = self.prepared
        ends = [float(np.max(p.arrival))] if len(p) else [0.0]
        if np.any(~p.rejected):
            ends.append(float(np.nanmax(self.finish)))
        seqs = [s for s in self.sequences if s is not None]
        preemptions = np.zeros(len(p), dtype=np.int64)
        preemptions[[s.index for s in seqs]] = [s.preemptions for s in seqs]
        return ReferenceOutcome(
            first_token=self.first_token, finish=self.finish, preemptions=preemptions,
            status=self.status,
            iterations=np.array([g.iterations for g in self.groups], dtype=np.int64),
            busy_s=np.array([g.busy_s for g in self.groups]),
            kv_block_seconds=np.array([g.kv_block_seconds for g in self.groups]),
            end_time=max(ends), kv_timeline=KVTimeline.from_changes(
                groups=tuple(g.spec.name for g in self.groups),
                logs=[g.kv_log for g in self.groups if g.kv_log is not None],
                capacity=[sum(p.capacity for p in g.pools) for g in self.groups],
                max_points=self.max_points) if self.max_points else None,
            iteration_log=tuple(self.iteration_log),
            preemption_log=tuple(self.preemption_log), load_log=tuple(self.load_log))


def _check(prepared: PreparedLLM, deployment: LLMDeployment) -> None:
    if not isinstance(prepared, PreparedLLM):
        raise SimulationError(f"prepared must be a PreparedLLM, got {type(prepared).__name__}")
    if not isinstance(deployment, LLMDeployment):
        raise SimulationError("deployment must be an LLMDeployment, "
                              f"got {type(deployment).__name__}")
    n = len(prepared)
    for name in ("prompt", "output", "group", "slot", "rejected"):
        if getattr(prepared, name).shape != (n,):
            raise SimulationError(f"prepared.{name} has shape {getattr(prepared, name).shape}, "
                                  f"expected ({n},)")
    if n and np.any(np.diff(prepared.arrival) < 0):
        raise SimulationError("prepared.arrival must be sorted (use prepare_llm)")
    if n and not np.all(np.isfinite(prepared.arrival)):
        raise SimulationError("prepared.arrival must be finite")
    sizes = np.array([len(g.models) for g in deployment.groups])
    bad = (prepared.group < 0) | (prepared.group >= sizes.size)
    if not np.any(bad):
        bad = (prepared.slot < 0) | (prepared.slot >= sizes[prepared.group])
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise SimulationError(f"request {i} is routed to group {int(prepared.group[i])}, "
                              f"slot {int(prepared.slot[i])}, which the deployment lacks "
                              "(prepare it with this deployment)")
    if n and (np.any(prepared.prompt < 0) or np.any(prepared.output < 1)):
        raise SimulationError("prepared.prompt must be >= 0 and prepared.output >= 1")


def run_reference(prepared: PreparedLLM, deployment: LLMDeployment, *,
                  debug: bool = False, kv_timeline: bool | int = False) -> ReferenceOutcome:
    """Simulate ``prepared`` on ``deployment`` with the SimPy reference.

    Parameters
    ----------
    prepared : PreparedLLM
        The routed workload (:func:`simulator.llm.prepared.prepare_llm` with this deployment).
    deployment : LLMDeployment
        Groups, their models, schedulers and KV budgets.
    debug : bool, default False
        Also record every iteration, preemption and load (:class:`ReferenceOutcome`).
    kv_timeline : bool or int, default False
        Also record each group's KV blocks in use over time, as the compiled engine does
        (``True``, or the most points per group: :mod:`simulator.llm.kv_timeline`).

    Returns
    -------
    ReferenceOutcome
        The outcome (an :class:`LLMOutcome`), with the logs when ``debug``.

    Raises
    ------
    SimulationError
        If the inputs do not match, ``kv_timeline`` is invalid, or (a bug) a request is
        left unfinished.

    Examples
    --------
    >>> from alpaserve.llm.iteration import IterationCost
    >>> from simulator.llm.config import EngineGroup, ServedModel
    >>> from simulator.llm.prepared import prepare_llm
    >>> from workloads.workload import Workload
    >>> cost = IterationCost(linear_s=[0.0, 0.5], prefill_attention_s=0.0,
    ...                      decode_attention_s=0.0)
    >>> dep = LLMDeployment(groups=(EngineGroup(name="g", num_devices=1, models=(
    ...     ServedModel(model="m", cost=cost, kv_blocks=8),)),))
    >>> w = Workload.from_arrays(arrival=[0.0], model="m", prompt_tokens=[4],
    ...                          output_tokens=[3])
    >>> out = run_reference(prepare_llm(w, dep), dep)
    >>> float(out.first_token[0]), float(out.finish[0]), int(out.iterations[0])
    (2.0, 3.0, 3)
    """
    _check(prepared, deployment)
    return _Reference(prepared, deployment, bool(debug), timeline_points(kv_timeline)).run()


__all__ = ["IterationRecord", "ReferenceOutcome", "run_reference"]
