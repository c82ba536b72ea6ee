"""Baselines for many-LLM placement: dedicated groups (vLLM-style) and MuxServe.

Both build a layout without the engine in the loop (as the systems do) and return the
same :class:`~placement.llm.result.LLMPlan` as the search; :func:`placement.llm.plan_llm`
scores them on the training workload.

MuxServe (Duan et al., "MuxServe: Flexible Spatial-Temporal Multiplexing for Multiple LLM
Serving", ICML 2024) places LLMs by an enumeration-based greedy: enumerate ways to cut the
cluster into meshes, sort the LLMs by computation requirement (request rate × model size),
put each on the mesh where the estimated throughput of the meshes grows most, and keep the
mesh group with the highest estimated throughput; co-located LLMs share one KV cache (its
unified resource manager). Simplified here: a mesh runs one ``tp × pp`` shape (the most
tensor-parallel that the candidate degrees allow), not a per-LLM choice; the throughput
estimate is :mod:`placement.llm.demand`'s time-sharing model; and co-located models take
turns by iteration (our engine's round robin) instead of MuxServe's SM partitioning of
prefill and decode jobs, so the baseline gets no spatial overlap of co-located models.
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
    for sizes in candidate_partitions(problem, min_size=min_size, max_groups=len(names)):
        tried += 1
        slots = [Slot(devices=d, tp=problem.group_shapes(len(d))[0][0],
                      pp=problem.group_shapes(len(d))[0][1], kv_sharing=mode)
                 for d in assign_devices(sizes, problem)]
        ok = True
        for m in order:
            base = estimated_throughput(problem, slots, demands)
            choice: tuple[float, int, Slot] | None = None
            for i, s in enumerate(slots):
                filled = fill_slot(problem, s, [*s.models, m], loads)
                if filled is None:
                    continue
                trial = [*slots[:i], filled, *slots[i + 1:]]
                gain = estimated_throughput(problem, trial, demands) - base
                if choice is None or gain > choice[0] + 1e-12:
                    choice = (gain, i, filled)
            if choice is None:
                ok = False
                break
            slots[choice[1]] = choice[2]
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
