"""Event-driven simulation of LLM serving on a fleet whose nodes come and go.

Requests (``prompt_tokens``, ``output_tokens``) arrive per the workload and wait in one FIFO
queue; each data-parallel replica serves static batches (:mod:`simulator.spot.batch`).
The availability trace adds nodes, announces removals ``grace_period`` seconds early
(*notice*), and removes them; its ``DONE`` ends the run. After every change of the fleet or
of the trace's throughput target (``required_tpt``), when the target moves by more than
``rate_change`` (relative), and when the queue keeps growing, the simulator asks the policy
(:class:`simulator.spot.policy.SpotPolicy`) for a reconfiguration; while one is in progress,
further requests to re-plan wait until it completes. The target is ``required_tpt`` (the
options', else the trace's), else the rate measured over ``rate_window`` times
``1 + headroom``; the queue's backlog over ``backlog_horizon`` is added to it. A device that
is removed under a running batch loses its KV cache: the batch's requests keep their
committed tokens when ``policy.stateful``, else restart.

At ``end_time`` requests that have not finished are reported as unfinished (in flight or
dropped); their latency counts up to ``end_time`` in the percentiles (a lower bound), so a
policy cannot look faster by leaving more requests unfinished.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import deque
from dataclasses import dataclass, field, replace
from typing import cast

import numpy as np

from alpaserve.cost.llm import LLMConfig, StagePlan, stage_plan
from alpaserve.cost.llm_profile import LLMProfile
from alpaserve.errors import SimulationError
from alpaserve.model_spec import ModelSpec
from alpaserve.spot.deployment import Deployment, DeviceKey
from alpaserve.spot.hardware import SpotHardware
from simulator.spot.batch import Batch, IntArray, build_batch
from simulator.spot.options import SpotOptions, windowed_rate
from simulator.spot.policy import (
    PolicyContext,
    Reconfiguration,
    SpotPolicy,
    check_reconfiguration,
)
from simulator.spot.result import ReconfigRecord, SpotResult, assemble_result
from workloads.availability import AvailabilityTrace
from workloads.workload import Workload

logger = logging.getLogger(__name__)

__all__ = ["SpotOptions", "simulate_spot"]

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


class _Engine:
    def __init__(self, workload: Workload, trace: AvailabilityTrace, policy: SpotPolicy,
                 model: ModelSpec, hardware: SpotHardware, options: SpotOptions,
                 profile: LLMProfile | None) -> None:
        self.w, self.trace, self.policy, self.profile = workload, trace, policy, profile
        self.trace_target: float | None = None
        self.last_queue = 0
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
        self.alive: dict[str, int] = {}
        self.leaving: dict[DeviceKey, float] = {}
        self.deployment: Deployment | None = None
        self.replicas: list[_Replica] = []
        self.retiring: list[_Replica] = []
        self.busy_until = -math.inf
        self.reasons: set[str] = set()
        self.replan_at: float | None = None
        self.last_target: float | None = None
        self.records: list[ReconfigRecord] = []
        self.plans: dict[LLMConfig, StagePlan] = {}
        self.end = options.run_end(workload, trace)

    # ------------------------------------------------------------------ events
    def push(self, time: float, kind: int, payload: object = None) -> None:
        self.seq += 1
        heapq.heappush(self.events, (time, kind, self.seq, payload))

    def rate(self, now: float) -> float:
        return windowed_rate(self.w.arrival, now, window=self.opt.rate_window,
                             initial_rate=self.opt.initial_rate)

    def run(self) -> SpotResult:
        added: dict[str, float] = {}
        stop = self.trace.stop_time
        for ev in self.trace.events:
            if stop is not None and ev.kind == "remove" and ev.time >= stop:
                continue  # DONE ends the run; it is not a preemption (no notice)
            if ev.kind == "add":
                added[ev.node] = ev.time
                self.push(ev.time, _ADD, ev.node)
            else:
                notice = max(ev.time - self.opt.grace_period, added[ev.node])
                self.push(notice, _NOTICE, (ev.node, ev.time))
                self.push(ev.time, _REMOVE, ev.node)
        for t, value in self.trace.targets:
            self.push(t, _TARGET, value)
        if self.opt.rate_change > 0:
            self.push(self.opt.rate_check_interval, _RATE)
        arrivals, ptr, n = self.w.arrival, 0, len(self.w)
        handlers = {_REMOVE: self.on_remove, _NOTICE: self.on_notice, _ADD: self.on_add,
                    _TARGET: self.on_target,
                    _STOP: self.on_stop, _READY: self.on_ready, _DONE: self.on_done,
                    _REPLAN: self.on_replan, _RATE: self.on_rate}
        while True:
            t_ev = self.events[0][0] if self.events else math.inf
            t_arr = float(arrivals[ptr]) if ptr < n else math.inf
            if min(t_ev, t_arr) > self.end:
                break
            if t_ev <= t_arr:
                time, kind, _, payload = heapq.heappop(self.events)
                handlers[kind](time, payload)
            else:
                self.queue.append(ptr)
                ptr += 1
                self.dispatch(t_arr)
        return self.result()

    def on_add(self, now: float, node: object) -> None:
        self.alive[str(node)] = self.trace.nodes[str(node)].type.gpus_per_node
        self.request_replan(now, "add")

    def on_notice(self, now: float, payload: object) -> None:
        node, deadline = cast(tuple[str, float], payload)
        devs = [(node, g) for g in range(self.alive.get(node, 0))]
        for d in devs:
            self.leaving[d] = deadline
        if self.deployment is not None and set(devs).intersection(self.deployment.devices):
            self.request_replan(now, "notice")

    def on_remove(self, now: float, node: object) -> None:
        gpus = self.alive.pop(str(node), 0)
        gone = {(str(node), g) for g in range(gpus)}
        for d in gone:
            self.leaving.pop(d, None)
        broke = False
        for r in [*self.replicas, *self.retiring]:
            if r.alive and gone.intersection(r.devices):
                self.cut(r, now, carry=False, keep_progress=self.policy.stateful)
                r.alive = False
                broke = broke or r in self.replicas
        self.retiring = [r for r in self.retiring if r.alive]
        if broke:
            self.replicas = [r for r in self.replicas if r.alive]
            cfg = self.deployment.config if self.deployment else None
            self.deployment = (Deployment(config=cfg.with_data(len(self.replicas)),
                                          replicas=tuple(r.devices for r in self.replicas))
                               if cfg is not None and self.replicas else None)
            self.request_replan(now, "remove")
        self.dispatch(now)

    def on_stop(self, now: float, _: object) -> None:
        for r in self.retiring:
            if r.alive and r.stop_at is not None and r.stop_at <= now:
                target = r.carry_to if r.carry_to is not None and r.carry_to.alive else None
                self.cut(r, now, carry=target is not None, keep_progress=r.keep_progress,
                         target=target)
                r.alive = False
        self.retiring = [r for r in self.retiring if r.alive]
        self.dispatch(now)

    def on_ready(self, now: float, _: object) -> None:
        self.dispatch(now)

    def on_done(self, now: float, payload: object) -> None:
        replica, batch = cast(tuple[_Replica, Batch], payload)
        if replica.batch is batch:
            self.finish[batch.ids] = batch.finish
            replica.batch = None
            self.dispatch(now)

    def on_target(self, now: float, value: object) -> None:
        self.trace_target = float(cast(float, value))
        if self.opt.required_tpt is None:
            self.request_replan(now, "target")

    def target(self, now: float, rate: float) -> float:
        """Requests/s to plan for (module docstring)."""
        base = self.opt.required_tpt or self.trace_target or rate * (1.0 + self.opt.headroom)
        return base + len(self.queue) / self.opt.backlog_horizon

    def on_rate(self, now: float, _: object) -> None:
        target = self.target(now, self.rate(now))
        last = self.last_target
        if last is not None and abs(target - last) > self.opt.rate_change * max(last, 1e-12):
            self.request_replan(now, "rate")
        queued = len(self.queue)
        per_round = sum(r.config.batch for r in self.replicas)
        if queued - self.last_queue >= self.opt.queue_growth and queued > per_round:
            self.request_replan(now, "queue")
        self.last_queue = queued
        self.push(now + self.opt.rate_check_interval, _RATE)

    # ------------------------------------------------------------------ batches
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

    # ------------------------------------------------------------------ re-planning
    def request_replan(self, now: float, reason: str) -> None:
        self.reasons.add(reason)
        if self.replan_at is None:
            self.replan_at = max(now, self.busy_until)
            self.push(self.replan_at, _REPLAN)

    def on_replan(self, now: float, _: object) -> None:
        if now < self.busy_until:
            self.replan_at = self.busy_until
            self.push(self.busy_until, _REPLAN)
            return
        self.replan_at = None
        reasons, self.reasons = frozenset(self.reasons), set()
        usable = tuple((n, g) for n, gpus in sorted(self.alive.items()) for g in range(gpus)
                       if (n, g) not in self.leaving)
        kv = tuple(self.kv_of(r, now) for r in self.replicas)
        rate = self.rate(now)
        target = self.target(now, rate)
        ctx = PolicyContext(now=now, reasons=reasons, usable=usable, leaving=dict(self.leaving),
                            current=self.deployment, kv_tokens=kv, arrival_rate=rate,
                            throughput_target=target, queued=len(self.queue))
        decision = self.policy.decide(ctx)
        self.last_target = target
        if decision is not None:
            self.apply(decision, ctx)
        self.dispatch(now)

    def kv_of(self, r: _Replica, now: float) -> int:
        total = r.batch.kv_tokens(now) if r.batch is not None else 0
        for ids in r.pending:
            ok = ids[self.kv_valid[ids]]
            total += int((self.prompt[ok] + self.committed[ok]).sum())
        return total

    def apply(self, d: Reconfiguration, ctx: PolicyContext) -> None:
        now, old = ctx.now, self.replicas
        new = d.deployment
        check_reconfiguration(d, ctx, policy=self.policy.name, replicas=len(old))
        kept = dict((j, i) for i, j in d.kept)
        if self.opt.warm_start and not self.records and self.deployment is None:
            d = replace(d, ready_at=(now,) * len(d.ready_at))  # serving before the trace
        stop = max(now, d.stop_at)
        reps: list[_Replica] = []
        layout = [(new.config, rep) for rep in new.replicas] if new is not None else []
        for j, (cfg, devices) in enumerate(layout):
            if j in kept:
                r = old[kept[j]]
                if r.devices != devices:
                    raise SimulationError(f"policy {self.policy.name!r} keeps replica "
                                          f"{kept[j]} but moves its devices")
                r.config = cfg
            else:
                r = _Replica(devices=devices, config=cfg, ready_at=max(now, d.ready_at[j]))
                self.push(r.ready_at, _READY)
            reps.append(r)
        kept_old = set(kept.values())
        busy = now
        for i, r in enumerate(old):
            if i in kept_old:
                continue
            target = d.carry[i] if d.carry else None
            r.stop_at, r.keep_progress = stop, d.keep_progress
            r.carry_to = reps[target] if target is not None else None
            self.retiring.append(r)
            busy = max(busy, stop)
        if any(r not in old for r in reps):
            busy = max(busy, *(r.ready_at for r in reps if r not in old))
        retiring_devs = {dev for r in self.retiring for dev in r.devices}
        for r in reps:
            if r not in old and retiring_devs.intersection(r.devices) and r.ready_at < stop:
                raise SimulationError(f"policy {self.policy.name!r} starts a replica at "
                                      f"{r.ready_at} on devices still serving until {stop}")
        self.push(stop, _STOP)
        self.replicas, self.deployment, self.busy_until = reps, new, busy
        self.records.append(ReconfigRecord(
            time=now, reasons=tuple(sorted(ctx.reasons)),
            config=new.config.key if new is not None else "none",
            moved_bytes=d.moved_bytes, transfer_time=d.transfer_time, note=d.note))

    # ------------------------------------------------------------------ result
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

    def result(self) -> SpotResult:
        return assemble_result(
            policy=self.policy.name, workload=self.w, finish=self.finish,
            dropped=self.dropped, in_flight=self.check_accounting(), restarts=self.restarts,
            lost_tokens=self.lost_tokens, recomputed_tokens=self.recomputed,
            records=tuple(self.records), cost=self.trace.cost(end=self.end), end=self.end,
            slo=self.opt.slo)


def simulate_spot(*, workload: Workload, trace: AvailabilityTrace, policy: SpotPolicy,
                  model: ModelSpec, hardware: SpotHardware,
                  options: SpotOptions | None = None,
                  profile: LLMProfile | None = None) -> SpotResult:
    """Serve ``workload`` with ``model`` on the fleet of ``trace``, reconfigured by ``policy``.

    See ``tests/test_spot.py`` and ``placement.spot.policies`` for complete examples.

    Parameters
    ----------
    workload : Workload
        Requests with ``prompt_tokens`` and ``output_tokens``, all arriving by the end of
        the window.
    trace : AvailabilityTrace
        The fleet's nodes over time, with throughput targets and ``DONE``.
    policy : SpotPolicy
        Decides every reconfiguration.
    model : ModelSpec
        The decoder served.
    hardware : SpotHardware
        The nodes' hardware (and the analytic latency model without ``profile``).
    options : SpotOptions, optional
        Simulation options (defaults of :class:`SpotOptions`).
    profile : LLMProfile, optional
        Measured per-layer latencies for the batches' prefill and decode times.

    Returns
    -------
    SpotResult
        Latencies (over all requests, unfinished ones up to the end), attainment, work
        lost, migrations and the dollars of the nodes held over the window.

    Raises
    ------
    SimulationError
        Missing token columns, an arrival after the end of the window, or an invalid
        reconfiguration from ``policy``.
    """
    return _Engine(workload, trace, policy, model, hardware, options or SpotOptions(),
                   profile).run()
