"""Run one spot-serving policy, or all four, on a workload and an availability trace.

The shared entry point of the ``alpaserve spot`` command, the benchmark and the notebook.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from alpaserve.errors import SimulationError
from alpaserve.model_spec import ModelSpec
from alpaserve.spot.config import ConfigSpace, ConfigTable, RequestShape
from alpaserve.spot.hardware import SpotHardware
from placement.spot.policies import (
    ReparallelizePolicy,
    ReroutePolicy,
    SpotServePolicy,
    on_demand_fleet,
)
from simulator.spot.policy import SpotPolicy
from simulator.spot.result import SpotResult
from simulator.spot.simulate import SpotOptions, simulate_spot
from workloads.availability import AvailabilityTrace
from workloads.workload import Workload

POLICY_NAMES = ("spotserve", "reparallelize", "reroute", "ondemand")


def request_shape(workload: Workload) -> RequestShape:
    """Mean prompt and output tokens, and the longest context, of ``workload``."""
    if workload.prompt_tokens is None or workload.output_tokens is None or not len(workload):
        raise SimulationError("the workload needs requests with prompt_tokens and "
                              "output_tokens")
    prompt, output = workload.prompt_tokens, workload.output_tokens
    return RequestShape(prompt_tokens=max(1, round(float(prompt.mean()))),
                        output_tokens=max(1, round(float(output.mean()))),
                        max_context=int((prompt + output).max()))


def build_table(*, model: ModelSpec, hardware: SpotHardware, workload: Workload,
                space: ConfigSpace | None = None) -> ConfigTable:
    return ConfigTable.build(model=model, hardware=hardware, request=request_shape(workload),
                             space=space)


def mean_rate(workload: Workload) -> float:
    return len(workload) / workload.duration if workload.duration > 0 else float(len(workload))


def make_policy(name: str, *, table: ConfigTable, trace: AvailabilityTrace,
                workload: Workload) -> SpotPolicy:
    """The policy called ``name``. Rerouting fixes the shape the optimizer picks for the
    fleet's mean size at the workload's mean rate; on-demand uses SpotServe's optimizer."""
    if name in ("spotserve", "ondemand"):
        return SpotServePolicy(table=table, name=name)
    if name == "reparallelize":
        return ReparallelizePolicy(table=table)
    if name == "reroute":
        start, end = float(workload.arrival[0]), float(workload.arrival[-1])
        gpus = trace.mean_alive(start, max(end, start + 1.0)) * table.hardware.gpus_per_node
        devices = max(table.floor, math.floor(gpus))
        choice = table.choose(num_devices=devices, arrival_rate=mean_rate(workload))
        if choice is None:
            raise SimulationError(f"no config fits {devices} devices for rerouting")
        return ReroutePolicy(table=table, shape=choice.config.with_data(1))
    raise SimulationError(f"unknown spot policy {name!r}; known: {', '.join(POLICY_NAMES)}")


def run_policies(*, names: Sequence[str], workload: Workload, trace: AvailabilityTrace,
                 model: ModelSpec, hardware: SpotHardware, options: SpotOptions,
                 table: ConfigTable | None = None) -> dict[str, SpotResult]:
    """Simulate each named policy on the same workload, ending all runs at the same time.

    ``ondemand`` runs on :func:`~placement.spot.policies.on_demand_fleet` instead of
    ``trace``.
    """
    if not len(workload):
        raise SimulationError("the workload has no requests")
    table = table or build_table(model=model, hardware=hardware, workload=workload)
    last = float(np.max(workload.arrival))
    end = (options.end_time if options.end_time is not None
           else max(last, trace.end_time) + options.drain)
    opts = replace(options, end_time=end)
    out = {}
    for name in names:
        policy = make_policy(name, table=table, trace=trace, workload=workload)
        fleet = trace
        if name == "ondemand":
            first = trace.events[0].time if len(trace) else 0.0
            fleet = on_demand_fleet(trace, start=float(workload.arrival[0]), end=last,
                                    add_at=first)
        out[name] = simulate_spot(workload=workload, trace=fleet, policy=policy, model=model,
                                  hardware=hardware, options=opts)
    return out

