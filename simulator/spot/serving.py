"""Request and replica state of the spot simulation, and the batches served on it.

:class:`_Serving` holds what the event loop of :mod:`simulator.spot.simulate` acts on: each
request's progress (committed tokens, whether its KV cache is valid, finish time, drops,
restarts), the FIFO queue, the replicas serving and retiring, and the event heap. Its methods
start batches on idle replicas, cut a replica's work when it stops (carrying the KV cache or
sending requests back to the queue) and check at the end that every request is counted once.
It is separate from the engine because it knows nothing of the trace, the policy or
re-planning: those decide *when* replicas change, this decides what happens to the requests.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from alpaserve.cost.llm import LLMConfig, StagePlan, stage_plan
from alpaserve.cost.llm_profile import LLMProfile
from alpaserve.errors import SimulationError
from alpaserve.model_spec import ModelSpec
from alpaserve.spot.deployment import DeviceKey
from alpaserve.spot.hardware import SpotHardware
from simulator.spot.batch import Batch, IntArray, build_batch
from simulator.spot.options import SpotOptions
from workloads.workload import Workload

__all__: list[str] = []

# Event priorities at equal times: the fleet changes first, re-planning after them.
_REMOVE, _NOTICE, _ADD, _TARGET, _STOP, _READY, _DONE, _REPLAN, _RATE = range(9)


@dataclass(eq=False)
class _Replica:
    devices: tuple[DeviceKey, ...]
    config: LLMConfig
    ready_at: float
    batch: Batch | None = None
    pending: list[IntArray] = field(default_factory=list)  # carried batches to resume
    stop_at: float | None = None
    carry_to: _Replica | None = None
    keep_progress: bool = False
    alive: bool = True


class _Serving:
    """Per-request progress, the queue, the replicas and the event heap."""

    end: float  # set by the engine once the inputs are checked

    def __init__(self, workload: Workload, model: ModelSpec, hardware: SpotHardware,
                 options: SpotOptions, profile: LLMProfile | None) -> None:
        self.w, self.profile = workload, profile
        self.model, self.hw, self.opt = model, hardware, options
        n = len(workload)
        if workload.prompt_tokens is None or workload.output_tokens is None:
            raise SimulationError("the workload needs prompt_tokens and output_tokens columns")
        self.prompt = np.asarray(workload.prompt_tokens, dtype=np.int64)
        self.output = np.asarray(workload.output_tokens, dtype=np.int64)
        if n and self.prompt.min() < 1:
            raise SimulationError("every request needs prompt_tokens >= 1")
        self.committed = np.zeros(n, dtype=np.int64)
        self.kv_valid = np.zeros(n, dtype=bool)
        self.finish = np.full(n, np.nan)
        self.dropped = np.zeros(n, dtype=bool)
        self.restarts = np.zeros(n, dtype=np.int64)
        self.lost_tokens = self.recomputed = 0
        self.queue: deque[int] = deque()
        self.events: list[tuple[float, int, int, object]] = []
        self.seq = 0
        self.replicas: list[_Replica] = []
        self.retiring: list[_Replica] = []
        self.plans: dict[LLMConfig, StagePlan] = {}

    def push(self, time: float, kind: int, payload: object = None) -> None:
        self.seq += 1
        heapq.heappush(self.events, (time, kind, self.seq, payload))

    def cut(self, r: _Replica, now: float, *, carry: bool, keep_progress: bool,
            target: _Replica | None = None) -> None:
        """Stop ``r`` at ``now``: finished requests complete, the rest commit their tokens
        and move to ``target`` with their KV cache, or back to the queue without it."""
        groups = list(r.pending)
        r.pending = []
        b = r.batch
        if b is not None:
            r.batch = None
            done = b.finish <= now
            self.finish[b.ids[done]] = b.finish[done]
            ids = b.ids[~done]
            self.committed[ids] += b.tokens_done(now)[~done]
            self.kv_valid[ids] = now >= b.decode_start
            groups.insert(0, ids)
        for ids in groups:
            if carry and target is not None:
                target.pending.append(ids)
                continue
            had = ids[self.kv_valid[ids]]
            self.recomputed += int((self.prompt[had] + self.committed[had]).sum())
            self.kv_valid[ids] = False
            if not keep_progress:
                self.lost_tokens += int(self.committed[ids].sum())
                self.committed[ids] = 0
                self.restarts[ids] += 1
            self.queue.extendleft(int(i) for i in ids[::-1])

    def dispatch(self, now: float) -> None:
        for r in [*self.replicas, *self.retiring]:
            if (not r.alive or r.batch is not None or r.ready_at > now
                    or (r.stop_at is not None and now >= r.stop_at)):
                continue
            if r.pending:
                ids = r.pending.pop(0)
            else:
                ids = self.take(now, r.config.batch)
                if ids.size == 0:
                    continue
            ctx = self.prompt[ids] + self.committed[ids]
            batch = build_batch(model=self.model, hardware=self.hw, config=r.config,
                                start=now, ids=ids, context=ctx,
                                committed=self.committed[ids].copy(),
                                remaining=self.output[ids] - self.committed[ids],
                                needs_prefill=~self.kv_valid[ids], plan=self.plan(r.config),
                                profile=self.profile)
            r.batch = batch
            self.push(batch.end, _DONE, (r, batch))

    def plan(self, config: LLMConfig) -> StagePlan:
        if config not in self.plans:
            self.plans[config] = stage_plan(self.model, config)
        return self.plans[config]

    def take(self, now: float, size: int) -> IntArray:
        out: list[int] = []
        limit = self.opt.max_queue_time
        while self.queue and len(out) < size:
            i = self.queue.popleft()
            if limit is not None and now - float(self.w.arrival[i]) > limit:
                self.dropped[i] = True
                continue
            out.append(i)
        return np.asarray(out, dtype=np.int64)

    def kv_of(self, r: _Replica, now: float) -> int:
        total = r.batch.kv_tokens(now) if r.batch is not None else 0
        for ids in r.pending:
            ok = ids[self.kv_valid[ids]]
            total += int((self.prompt[ok] + self.committed[ok]).sum())
        return total

    def check_accounting(self) -> int:
        """Requests in flight at the end, each counted once, or ``SimulationError``."""
        seen = np.zeros(len(self.w), dtype=np.int64)
        seen[np.fromiter(self.queue, dtype=np.int64, count=len(self.queue))] += 1
        for r in [*self.replicas, *self.retiring]:
            if r.batch is not None:
                done = r.batch.finish <= self.end
                self.finish[r.batch.ids[done]] = r.batch.finish[done]
                np.add.at(seen, r.batch.ids[~done], 1)
            for ids in r.pending:
                np.add.at(seen, ids, 1)
        finished = np.isfinite(self.finish)
        where = finished.astype(np.int64) + self.dropped + seen
        if np.any(where != 1):
            bad = int(np.flatnonzero(where != 1)[0])
            raise SimulationError(f"request {bad} is accounted {int(where[bad])} times "
                                  "(finished, dropped, queued or running)")
        return int(seen.sum())
