"""Run one spot-serving policy, or all four, on a workload and an availability trace.

The shared entry point of the ``alpaserve spot`` command, the benchmark and the notebook.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from alpaserve.cost.llm_profile import LLMProfile
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

logger = logging.getLogger(__name__)

POLICY_NAMES = ("spotserve", "reparallelize", "reroute", "on-demand")


def request_shape(workload: Workload) -> RequestShape:
    """The request the optimizer plans for.

    Parameters
    ----------
    workload : Workload
        Requests with ``prompt_tokens`` and ``output_tokens``.

    Returns
    -------
    RequestShape
        Mean prompt and output tokens (rounded, >= 1) and the longest context.

    Raises
    ------
    SimulationError
        The workload is empty or lacks token counts.
    """
    if workload.prompt_tokens is None or workload.output_tokens is None or not len(workload):
        raise SimulationError("the workload needs requests with prompt_tokens and "
                              "output_tokens")
    prompt, output = workload.prompt_tokens, workload.output_tokens
    return RequestShape(prompt_tokens=max(1, round(float(prompt.mean()))),
                        output_tokens=max(1, round(float(output.mean()))),
                        max_context=int((prompt + output).max()))


def build_table(*, model: ModelSpec, hardware: SpotHardware, workload: Workload,
                space: ConfigSpace | None = None,
                profile: LLMProfile | None = None) -> ConfigTable:
    """The optimizer's table for ``workload``'s requests.

    Parameters
    ----------
    model : ModelSpec
        The decoder served.
    hardware : SpotHardware
        The nodes' hardware.
    workload : Workload
        Requests with token counts (:func:`request_shape`).
    space : ConfigSpace, optional
        Candidate degrees.
    profile : LLMProfile, optional
        Measured latencies (else the analytic model).

    Returns
    -------
    ConfigTable
        Latency and throughput of every feasible replica shape.
    """
    return ConfigTable.build(model=model, hardware=hardware, request=request_shape(workload),
                             space=space, profile=profile)


def mean_rate(workload: Workload) -> float:
    """Requests per second over the workload's span.

    Parameters
    ----------
    workload : Workload
        The requests.

    Returns
    -------
    float
        ``len / duration`` (the count itself when all arrive at once).
    """
    return len(workload) / workload.duration if workload.duration > 0 else float(len(workload))


def make_policy(name: str, *, table: ConfigTable, trace: AvailabilityTrace,
                workload: Workload, options: SpotOptions | None = None) -> SpotPolicy:
    """The policy called ``name``.

    Rerouting fixes the shape the optimizer picks for the fleet's mean size at the run's
    throughput target (``required_tpt`` of the options or the trace's first, else the mean
    rate with headroom); ``on-demand`` uses SpotServe's optimizer.

    Parameters
    ----------
    name : str
        One of :data:`POLICY_NAMES`.
    table : ConfigTable
        The optimizer's table.
    trace : AvailabilityTrace
        The spot fleet.
    workload : Workload
        The requests.
    options : SpotOptions, optional
        The run's options (for the target).

    Returns
    -------
    SpotPolicy
        The policy.

    Raises
    ------
    SimulationError
        An unknown name, or no config fits the mean fleet for rerouting.
    """
    opts = options or SpotOptions()
    if name in ("spotserve", "on-demand"):
        return SpotServePolicy(table=table, name=name)
    if name == "reparallelize":
        return ReparallelizePolicy(table=table)
    if name == "reroute":
        start, end = float(workload.arrival[0]), float(workload.arrival[-1])
        gpus = trace.mean_alive(start, max(end, start + 1.0)) * table.hardware.gpus_per_node
        devices = max(table.floor, math.floor(gpus))
        target = (opts.required_tpt or (trace.targets[0][1] if trace.targets else None)
                  or mean_rate(workload) * (1.0 + opts.headroom))
        choice = table.choose(num_devices=devices, arrival_rate=target)
        if choice is None:
            raise SimulationError(f"no config fits {devices} devices for rerouting")
        return ReroutePolicy(table=table, shape=choice.config.with_data(1))
    raise SimulationError(f"unknown spot policy {name!r}; known: {', '.join(POLICY_NAMES)}")


def window_end(trace: AvailabilityTrace, workload: Workload, options: SpotOptions) -> float:
    """End of the measurement window shared by every policy.

    Parameters
    ----------
    trace : AvailabilityTrace
        The spot fleet.
    workload : Workload
        The requests.
    options : SpotOptions
        ``end_time`` if set; else the trace's ``DONE``; else the last arrival or event plus
        ``drain``.

    Returns
    -------
    float
        Seconds.
    """
    if options.end_time is not None:
        return options.end_time
    if trace.stop_time is not None:
        return trace.stop_time
    last = float(np.max(workload.arrival)) if len(workload) else 0.0
    return max(last, trace.end_time) + options.drain


def run_policies(*, names: Sequence[str], workload: Workload, trace: AvailabilityTrace,
                 model: ModelSpec, hardware: SpotHardware, options: SpotOptions,
                 table: ConfigTable | None = None,
                 profile: LLMProfile | None = None) -> dict[str, SpotResult]:
    """Simulate each named policy on the same requests over the same window.

    ``on-demand`` runs on :func:`~placement.spot.policies.on_demand_fleet` instead of
    ``trace``. Requests arriving after the window's end (:func:`window_end`) are left out
    and their number logged; every policy sees the same requests and is billed over the
    same window.

    Parameters
    ----------
    names : sequence of str
        Policies to run (:data:`POLICY_NAMES`).
    workload : Workload
        Requests with token counts.
    trace : AvailabilityTrace
        The spot fleet.
    model : ModelSpec
        The decoder served.
    hardware : SpotHardware
        The nodes' hardware.
    options : SpotOptions
        Simulation options; ``end_time`` is set to the shared window's end.
    table : ConfigTable, optional
        The optimizer's table (built from the workload by default).
    profile : LLMProfile, optional
        Measured latencies for the optimizer and the simulator.

    Returns
    -------
    dict of str to SpotResult
        One result per name, in order.

    Raises
    ------
    SimulationError
        No request inside the window, or an unknown policy.
    """
    if not len(workload):
        raise SimulationError("the workload has no requests")
    end = window_end(trace, workload, options)
    if not float(workload.arrival[0]) < end:
        raise SimulationError(f"no request arrives before the end of the window ({end}s)")
    inside = workload.window(float(workload.arrival[0]), end)
    if len(inside) < len(workload):
        logger.warning("%d of %d requests arrive after the end of the window (%.0f s) and "
                       "are left out", len(workload) - len(inside), len(workload), end)
    table = table or build_table(model=model, hardware=hardware, workload=inside,
                                 profile=profile)
    opts = replace(options, end_time=end)
    last = float(np.max(inside.arrival))
    out = {}
    for name in names:
        policy = make_policy(name, table=table, trace=trace, workload=inside, options=opts)
        fleet = trace
        if name == "on-demand":
            first = trace.events[0].time if len(trace) else 0.0
            fleet = on_demand_fleet(trace, start=float(inside.arrival[0]),
                                    end=max(last, float(inside.arrival[0]) + 1.0),
                                    add_at=first)
        out[name] = simulate_spot(workload=inside, trace=fleet, policy=policy, model=model,
                                  hardware=hardware, options=opts, profile=profile)
    return out
