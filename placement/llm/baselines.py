"""Baselines for many-LLM placement: dedicated groups (vLLM-style) and MuxServe.

Both build a layout without the engine in the loop (as the systems do) and return the
same :class:`~placement.llm.result.LLMPlan` as the search; :func:`placement.llm.plan_llm`
scores them on the training workload.

MuxServe (Duan et al., "MuxServe: Flexible Spatial-Temporal Multiplexing for Multiple LLM
Serving", ICML 2024) places LLMs by an enumeration-based greedy: enumerate ways to cut every
node into meshes, sort the LLMs by computation requirement (request rate × model size), put
each LLM (once: MuxServe does not replicate) on the mesh where the estimated throughput
grows most, and keep the mesh group with the highest estimated throughput; co-located LLMs
share one KV cache (its unified resource manager). As in its public implementation, meshes
stay inside a node and use tensor parallelism only (a mesh spans more than a node only when
some model fits no node). Simplified here: every node is cut the same way (MuxServe mixes
cuts per node); the throughput estimate is :mod:`placement.llm.demand`'s time-sharing model
rather than MuxServe's profiled SM-fraction (MPS) tables; at most one mesh per LLM (further
meshes would stay idle).

Why it scores low in our engine, and what is fair. MuxServe's premise is *spatial*
multiplexing: co-located LLMs run concurrently on SM partitions of the same GPUs (one
model's decode beside another's prefill, each decode at a fraction of the SMs, which costs
little since decoding is memory-bound). Our engine (:mod:`simulator.llm.semantics`) runs one
model's iteration at a time on a group, round robin, so co-location only time-shares: with
``k`` busy models each model's time per output token grows about ``k``-fold, and a model's
decode waits behind its neighbours' long prefills (the code trace's prompts run to
thousands of tokens). MuxServe's placement packs popular and unpopular models together
precisely because it expects that overlap, so replaying its placement here misses the TPOT
objective far more often than MuxServe itself would. This baseline is therefore MuxServe's
*placement* under our engine's scheduling, not MuxServe's system. To be fair to the
placement it gets our best KV mode: :func:`placement.llm.plan_llm` scores it with the
shared pool and with partitioned budgets and keeps the better (its notes say which).
Modelling spatial sharing would need an engine change (a group running several models'
batches at once, each slowed by its SM share), outside the placement layer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from alpaserve.errors import PlacementError
from placement.llm.demand import (
    ModelDemand,
    estimated_throughput,
    reweight,
    route_shares,
    slot_utilisation,
)
from placement.llm.layout import (
    Slot,
    assign_devices,
    candidate_partitions,
    fill_slot,
    kv_budgets,
    smallest_fit,
)
from placement.llm.problem import LLMPlanProblem
from placement.llm.result import LLMPlan
from simulator.llm.config import KVSharing
from workloads.workload import Workload

logger = logging.getLogger(__name__)


def fits_of(problem: LLMPlanProblem) -> dict[str, tuple[int, int, int]]:
    """Each model's smallest group ``(size, tp, pp)``.

    Parameters
    ----------
    problem : LLMPlanProblem
        Models, shapes and memory.

    Returns
    -------
    dict of str to (int, int, int)
        Per model.

    Raises
    ------
    PlacementError
        If a model fits no group, naming it.
    """
    out = {}
    for m in problem.model_names:
        fit = smallest_fit(problem, m)
        if fit is None:
            raise PlacementError(f"model {m!r} fits no group of up to {problem.num_devices} "
                                 f"{problem.device.name} devices (weights plus "
                                 f"{problem.min_kv_tokens} KV tokens)")
        out[m] = fit
    return out


def dedicated_layout(problem: LLMPlanProblem, demands: Mapping[str, ModelDemand], *,
                     sizes: Mapping[str, int] | None = None) -> list[Slot]:
    """One model per group: devices split by load × size, each model at its smallest shape.

    Parameters
    ----------
    problem : LLMPlanProblem
        The problem.
    demands : mapping of str to ModelDemand
        Per-model request statistics.
    sizes : mapping of str to int, optional
        Group size of some models (at the most tensor-parallel shape that fits); the
        search's start points use larger groups than the smallest fit. A size where the
        model does not fit is ignored.

    Returns
    -------
    list of Slot
        Groups of one model each.

    Raises
    ------
    PlacementError
        If a model fits nowhere or the cluster cannot hold one replica of each.
    """
    fits = fits_of(problem)
    names = problem.model_names
    for m, size in (sizes or {}).items():
        shape = next((sh for sh in problem.group_shapes(size) if kv_budgets(
            problem, tp=sh[0], pp=sh[1], models=[m], loads={}) is not None), None)
        if m in fits and shape is not None:
            fits[m] = (size, *shape)
    need = sum(fits[m][0] for m in names)
    if need > problem.num_devices:
        raise PlacementError(f"one dedicated replica of each model needs {need} devices, "
                             f"the cluster has {problem.num_devices}")
    weight = {m: demands[m].rate * problem.cost_model.weight_bytes(m, fits[m][1], fits[m][2])
              * fits[m][0] for m in names}
    total = sum(weight.values())
    replicas = {m: 1 for m in names}
    free = problem.num_devices - need

    def want(m: str) -> float:  # devices it deserves over devices it has
        target = problem.num_devices * (weight[m] / total if total > 0 else 1 / len(names))
        return target / (replicas[m] * fits[m][0])

    while True:
        ranked = sorted((m for m in names if fits[m][0] <= free),
                        key=lambda m: (-want(m), names.index(m)))
        if not ranked or (total > 0 and want(ranked[0]) <= 0):
            break
        replicas[ranked[0]] += 1
        free -= fits[ranked[0]][0]
    groups = [(fits[m][0], i, m) for i, m in enumerate(names) for _ in range(replicas[m])]
    groups.sort(key=lambda t: (-t[0], t[1]))
    devices = assign_devices([s for s, _, _ in groups], problem)
    slots = []
    loads = {m: demands[m].token_rate for m in names}
    for (_, _, m), devs in zip(groups, devices, strict=True):
        _, tp, pp = fits[m]
        slot = fill_slot(problem, Slot(devices=devs, tp=tp, pp=pp), [m], loads)
        if slot is None:  # smallest_fit found it fits: a cost model that disagrees with itself
            raise PlacementError(f"model {m!r} no longer fits tp={tp}, pp={pp}")
        slots.append(slot)
    return slots


def muxserve_layout(problem: LLMPlanProblem, demands: Mapping[str, ModelDemand]
                    ) -> tuple[list[Slot], int]:
    """MuxServe's enumeration-based greedy (see the module docstring).

    Parameters
    ----------
    problem : LLMPlanProblem
        The problem.
    demands : mapping of str to ModelDemand
        Per-model request statistics.

    Returns
    -------
    tuple of (list of Slot, int)
        The best layout by estimated throughput, and the number of mesh groups tried.

    Raises
    ------
    PlacementError
        If no mesh group hosts every model.
    """
    fits = fits_of(problem)
    names = problem.model_names
    mode: KVSharing = "shared" if "shared" in problem.kv_sharing else "partitioned"
    loads = {m: demands[m].token_rate for m in names}
    order = sorted(names, key=lambda m: (
        -demands[m].rate * problem.cost_model.weight_bytes(m, fits[m][1], fits[m][2])
        * fits[m][0], names.index(m)))
    best: tuple[float, float, list[Slot]] | None = None
    tried = 0
    min_size = min(f[0] for f in fits.values())
    meshes = candidate_partitions(problem, min_size=min_size, max_groups=len(names))
    within = [p for p in meshes if max(p) <= problem.gpus_per_node]
    if max(f[0] for f in fits.values()) <= problem.gpus_per_node and within:
        meshes = within
    for sizes in meshes:
        tried += 1
        slots = [Slot(devices=d, tp=problem.group_shapes(len(d))[0][0],
                      pp=problem.group_shapes(len(d))[0][1], kv_sharing=mode)
                 for d in assign_devices(sizes, problem)]
        ok = True
        for m in order:
            base = estimated_throughput(problem, slots, demands)
            choice: tuple[float, float, int, Slot] | None = None
            for i, s in enumerate(slots):
                filled = fill_slot(problem, s, [*s.models, m], loads)
                if filled is None:
                    continue
                trial = [*slots[:i], filled, *slots[i + 1:]]
                gain = estimated_throughput(problem, trial, demands) - base
                # Equal gains (both meshes keep up): the mesh with the least computation
                # placed per device, as MuxServe orders its meshes.
                busy = sum(demands[x].rate * problem.cost_model.weight_bytes(x, s.tp, s.pp)
                           for x in s.models) / s.size
                if choice is None or gain > choice[0] + 1e-9 * max(1.0, base) or (
                        gain >= choice[0] - 1e-9 * max(1.0, base) and busy < choice[1]):
                    choice = (gain, busy, i, filled)
            if choice is None:
                ok = False
                break
            slots[choice[2]] = choice[3]
        if not ok:
            continue
        slots = [s for s in slots if s.models]
        value = estimated_throughput(problem, slots, demands)
        shares = route_shares(slots)
        peak = max(slot_utilisation(problem, s, demands, shares) / s.size for s in slots)
        # Once every layout serves the whole demand, prefer the one with most headroom.
        if best is None or value > best[0] * (1 + 1e-6) or (
                value >= best[0] * (1 - 1e-6) and peak < best[1]):
            best = (value, peak, slots)
    if best is None:
        raise PlacementError("no mesh group of the cluster hosts every model (MuxServe)")
    logger.info("muxserve: %d mesh groups, best estimate %.3f req/s", tried, best[0])
    return reweight(problem, best[2], demands), tried


def dedicated_plan(problem: LLMPlanProblem, workload: Workload, **options: Any) -> LLMPlan:
    """The dedicated-groups baseline, scored on ``workload``.

    Parameters
    ----------
    problem : LLMPlanProblem
        The problem.
    workload : Workload
        Training requests.
    **options
        Passed to :func:`placement.llm.plan_llm` (``engine``, ``max_requests``, ...).

    Returns
    -------
    LLMPlan
        ``method="dedicated"``.
    """
    from placement.llm.search import plan_llm
    return plan_llm(problem, workload, method="dedicated", **options)


def muxserve_plan(problem: LLMPlanProblem, workload: Workload, **options: Any) -> LLMPlan:
    """The MuxServe-style baseline, scored on ``workload``.

    Parameters
    ----------
    problem : LLMPlanProblem
        The problem.
    workload : Workload
        Training requests.
    **options
        Passed to :func:`placement.llm.plan_llm`.

    Returns
    -------
    LLMPlan
        ``method="muxserve"``.
    """
    from placement.llm.search import plan_llm
    return plan_llm(problem, workload, method="muxserve", **options)
