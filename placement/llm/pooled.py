"""AlpaServe-style start points: a few large groups, each shared by several models.

AlpaServe's observation (Li et al., OSDI 2023) is that under bursty traffic a large
model-parallel group hosting several models can beat small dedicated groups: a burst of one
model gets the whole group's devices (lower latency per token, a larger KV pool) while the
other models are quiet, i.e. model parallelism buys statistical multiplexing. The dedicated
start points and the local search's single moves rarely reach such layouts (every step from
a dedicated layout towards them hurts some model), so the search seeds them directly.

:func:`pooled_layouts` cuts the cluster into equal groups of each candidate size and deals
every model to ``replicas`` of them (models by load × size, heaviest first, each replica to
the group with the least load per device that still fits it, at the most tensor-parallel
shape that fits; one shared KV pool per group by default). Only layouts where some group
hosts two or more models are returned: the rest are dedicated layouts the search already
has.
"""

from __future__ import annotations

from collections.abc import Mapping

from placement.llm.demand import (
    ModelDemand,
    estimated_throughput,
    reweight,
    route_shares,
    slot_utilisation,
)
from placement.llm.layout import Slot, assign_devices
from placement.llm.moves import shaped
from placement.llm.problem import LLMPlanProblem
from simulator.llm.config import KVSharing


def deal(problem: LLMPlanProblem, size: int, replicas: int,
         demands: Mapping[str, ModelDemand], *, kv_sharing: KVSharing) -> list[Slot] | None:
    """Every model on ``replicas`` of the cluster's equal groups of ``size`` devices.

    Parameters
    ----------
    problem : LLMPlanProblem
        The problem.
    size : int
        Devices per group (a candidate group size dividing the cluster).
    replicas : int
        Groups each model is placed on (at most the number of groups).
    demands : mapping of str to ModelDemand
        Per-model request statistics.
    kv_sharing : {"partitioned", "shared"}
        Every group's KV mode.

    Returns
    -------
    list of Slot or None
        The layout with route weights set (groups left empty dropped), or None when a
        model does not fit on enough groups.
    """
    groups = problem.num_devices // size
    if size not in problem.group_sizes() or groups * size != problem.num_devices or not (
            1 <= replicas <= groups):
        return None
    names = problem.model_names
    costs = problem.cost_model
    loads = {m: demands[m].token_rate for m in names}
    devices = assign_devices([size] * groups, problem)
    hosted: list[list[str]] = [[] for _ in devices]
    slots: list[Slot | None] = [None] * groups
    pressure = [0.0] * groups  # load x bytes per device
    tp, pp = problem.group_shapes(size)[0]

    def weight(m: str) -> float:
        return demands[m].rate * costs.weight_bytes(m, tp, pp) * size

    for m in sorted(names, key=lambda m: (-weight(m), names.index(m))):
        for _ in range(replicas):
            order = sorted((pressure[g], g) for g in range(groups) if m not in hosted[g])
            for _, g in order:
                slot = shaped(problem, devices[g], [*hosted[g], m], loads,
                              kv_sharing=kv_sharing)
                if slot is not None:
                    hosted[g].append(m)
                    slots[g] = slot
                    pressure[g] += weight(m) / replicas / size
                    break
            else:
                return None
    layout = [s for s in slots if s is not None]
    if all(len(s.models) < 2 for s in layout):
        return None
    return reweight(problem, layout, demands)


def pooled_layouts(problem: LLMPlanProblem, demands: Mapping[str, ModelDemand], *,
                   limit: int) -> list[tuple[str, list[Slot]]]:
    """One shared-group layout per group size (its best replication), best ``limit`` sizes.

    Layouts are ranked by the analytic estimate, then by the lowest peak utilisation per
    device (headroom once every layout serves the whole demand); one per size keeps the
    start points diverse.

    Parameters
    ----------
    problem : LLMPlanProblem
        The problem.
    demands : mapping of str to ModelDemand
        Per-model request statistics.
    limit : int
        Most layouts to return.

    Returns
    -------
    list of (str, list of Slot)
        ``("pooled <groups>x<size> r<replicas>", layout)``, best first; empty when no size
        hosts two models on a group.
    """
    mode: KVSharing = "shared" if "shared" in problem.kv_sharing else problem.kv_sharing[0]
    found: list[tuple[float, float, int, str, list[Slot]]] = []
    for size in sorted(problem.group_sizes(), reverse=True):
        groups = problem.num_devices // size
        if groups * size != problem.num_devices:
            continue
        best: tuple[float, float, str, list[Slot]] | None = None
        for replicas in sorted({1, 2, groups}):
            layout = deal(problem, size, replicas, demands, kv_sharing=mode)
            if layout is None:
                continue
            shares = route_shares(layout)
            key = (-estimated_throughput(problem, layout, demands),
                   max(slot_utilisation(problem, s, demands, shares) / s.size for s in layout))
            if best is None or key < best[:2]:
                best = (*key, f"pooled {groups}x{size} r{replicas}", layout)
        if best is not None:
            found.append((best[0], best[1], len(found), best[2], best[3]))
    found.sort(key=lambda t: t[:3])
    return [(label, layout) for *_, label, layout in found[:limit]]
