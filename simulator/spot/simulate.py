"""Event-driven simulation of LLM serving on a fleet whose nodes come and go.

Requests (``prompt_tokens``, ``output_tokens``) arrive per the workload and wait in one FIFO
queue; each data-parallel replica serves static batches (:mod:`simulator.spot.batch`; the
requests' and replicas' state, and what happens to a cut batch, in
:mod:`simulator.spot.serving`; this module is the event loop and re-planning).
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
from dataclasses import replace
from typing import cast

from alpaserve.cost.llm_profile import LLMProfile
from alpaserve.errors import SimulationError
from alpaserve.model_spec import ModelSpec
from alpaserve.spot.deployment import Deployment, DeviceKey
from alpaserve.spot.hardware import SpotHardware
from simulator.spot.batch import Batch
from simulator.spot.options import SpotOptions, windowed_rate
from simulator.spot.policy import (
    PolicyContext,
    Reconfiguration,
    SpotPolicy,
    check_reconfiguration,
)
from simulator.spot.result import ReconfigRecord, SpotResult, assemble_result
from simulator.spot.serving import (
    _ADD,
    _DONE,
    _NOTICE,
    _RATE,
    _READY,
    _REMOVE,
    _REPLAN,
    _STOP,
    _TARGET,
    _Replica,
    _Serving,
)
from workloads.availability import AvailabilityTrace
from workloads.workload import Workload

logger = logging.getLogger(__name__)

__all__ = ["SpotOptions", "simulate_spot"]


class _Engine(_Serving):
    def __init__(self, workload: Workload, trace: AvailabilityTrace, policy: SpotPolicy,
                 model: ModelSpec, hardware: SpotHardware, options: SpotOptions,
                 profile: LLMProfile | None) -> None:
        super().__init__(workload, model, hardware, options, profile)
        self.trace, self.policy = trace, policy
        self.trace_target: float | None = None
        self.last_queue = 0
        self.alive: dict[str, int] = {}
        self.leaving: dict[DeviceKey, float] = {}
        self.deployment: Deployment | None = None
        self.busy_until = -math.inf
        self.reasons: set[str] = set()
        self.replan_at: float | None = None
        self.last_target: float | None = None
        self.records: list[ReconfigRecord] = []
        self.end = options.run_end(workload, trace)

    # ------------------------------------------------------------------ events
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
