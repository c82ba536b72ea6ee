"""Group layouts of a many-LLM plan: device partitions, group shapes and KV budgets.

A *layout* is a list of :class:`Slot`: a group's devices, its ``tp × pp`` shape, the models
it hosts, their KV budgets and route weights. Partitions are node-aligned multisets of
power-of-two group sizes; devices are handed out largest group first, so every group inside
a node stays inside it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from alpaserve.errors import PlacementError
from placement.llm.problem import LLMPlanProblem
from simulator.llm.config import KVSharing


@dataclass(frozen=True, kw_only=True)
class Slot:
    """One group of a layout.

    Parameters
    ----------
    devices : tuple of int
        Device ids.
    tp, pp : int
        Tensor and pipeline degree (``tp * pp == len(devices)``).
    models : tuple of str
        Hosted models (may be empty while a layout is built).
    kv_blocks : tuple of int
        Each model's KV budget, in blocks.
    weights : tuple of float
        Each model's route weight.
    kv_sharing : {"partitioned", "shared"}
        The group's KV mode.
    """

    devices: tuple[int, ...]
    tp: int
    pp: int
    models: tuple[str, ...] = ()
    kv_blocks: tuple[int, ...] = ()
    weights: tuple[float, ...] = ()
    kv_sharing: KVSharing = "partitioned"

    @property
    def size(self) -> int:
        """Devices in the group."""
        return len(self.devices)


def assign_devices(sizes: Sequence[int], problem: LLMPlanProblem) -> list[tuple[int, ...]]:
    """Contiguous device ranges for groups of ``sizes`` (largest first, node-aligned).

    Parameters
    ----------
    sizes : sequence of int
        Power-of-two group sizes, within a node or whole nodes, summing to at most the
        cluster.
    problem : LLMPlanProblem
        The cluster.

    Returns
    -------
    list of tuple of int
        Device ids per group, in the order of ``sorted(sizes, reverse=True)``.

    Raises
    ------
    PlacementError
        If the sizes exceed the cluster or a size straddles nodes.
    """
    node = problem.gpus_per_node
    if sum(sizes) > problem.num_devices:
        raise PlacementError(f"group sizes {list(sizes)} exceed {problem.num_devices} devices")
    out = []
    start = 0
    for size in sorted(sizes, reverse=True):
        if size > node and size % node:
            raise PlacementError(f"a group of {size} devices straddles nodes of {node}")
        out.append(tuple(range(start, start + size)))
        start += size
    return out


def candidate_partitions(problem: LLMPlanProblem, *, min_size: int = 1,
                         max_groups: int | None = None) -> list[tuple[int, ...]]:
    """Node-aligned partitions of the cluster: each node cut evenly, or nodes pooled.

    Parameters
    ----------
    problem : LLMPlanProblem
        The cluster and its group sizes.
    min_size : int, default 1
        Smallest group size to use (e.g. the least any model fits on).
    max_groups : int, optional
        Skip partitions with more groups.

    Returns
    -------
    list of tuple of int
        Group sizes, descending, distinct partitions in a stable order.
    """
    sizes = [s for s in problem.group_sizes() if s >= min_size]
    node = min(problem.gpus_per_node, problem.num_devices)
    nodes = max(1, problem.num_devices // problem.gpus_per_node)
    within = [s for s in sizes if s <= node and node % s == 0]
    pooled = [s for s in sizes if s > node]
    seen: dict[tuple[int, ...], None] = {}
    # Pooled groups of whole nodes first (at most a few kinds), the rest of the nodes cut.
    pooled_choices: list[tuple[int, ...]] = [()]
    for big in pooled:
        for count in range(1, nodes * node // big + 1):
            pooled_choices.append((big,) * count)
    for pair in itertools.combinations(pooled, 2):
        pooled_choices.append(pair)
    for pool in pooled_choices:
        rest_nodes = nodes - sum(pool) // node
        if rest_nodes < 0:
            continue
        for cuts in itertools.combinations_with_replacement(within, rest_nodes):
            groups = list(pool)
            for s in cuts:
                groups.extend([s] * (node // s))
            key = tuple(sorted(groups, reverse=True))
            if sum(key) == problem.num_devices and (max_groups is None
                                                    or len(key) <= max_groups):
                seen[key] = None
    return list(seen)


def kv_budgets(problem: LLMPlanProblem, *, tp: int, pp: int, models: Sequence[str],
               loads: Mapping[str, float]) -> tuple[int, ...] | None:
    """KV blocks of each model co-located on a ``tp × pp`` group, or None if they do not fit.

    The memory left after the models' weights and the largest activation reserve is split
    in proportion to the models' loads (token rates), after each gets ``min_kv_blocks``.

    Parameters
    ----------
    problem : LLMPlanProblem
        Memory budget and the least KV budget.
    tp, pp : int
        The group's shape.
    models : sequence of str
        The co-located models.
    loads : mapping of str to float
        Each model's load (>= 0); all zero splits evenly.

    Returns
    -------
    tuple of int or None
        Blocks per model, or None when the weights leave less than ``min_kv_blocks`` each.
    """
    costs = problem.cost_model
    block = problem.scheduler.block_size
    free = problem.memory_budget_bytes
    block_bytes = []
    for m in models:
        free -= costs.weight_bytes(m, tp, pp)
        block_bytes.append(costs.kv_block_bytes(m, tp, pp, block))
    if not models or not math.isfinite(free):
        return None
    free -= max(costs.activation_bytes(m, tp, pp) for m in models)
    floor = problem.min_kv_blocks
    need = sum(floor * b for b in block_bytes)
    if not all(math.isfinite(b) for b in block_bytes) or free < need:
        return None
    spare = free - need
    weights = [max(0.0, float(loads.get(m, 0.0))) for m in models]
    total = sum(weights)
    shares = [w / total if total > 0 else 1.0 / len(models) for w in weights]
    return tuple(floor + int(spare * share // b) for share, b in zip(shares, block_bytes,
                                                                    strict=True))


def fill_slot(problem: LLMPlanProblem, slot: Slot, models: Sequence[str],
              loads: Mapping[str, float], *, weights: Sequence[float] | None = None,
              kv_sharing: KVSharing | None = None) -> Slot | None:
    """``slot`` hosting ``models`` with their KV budgets, or None if they do not fit.

    Parameters
    ----------
    problem : LLMPlanProblem
        Memory and scheduler.
    slot : Slot
        The group (its devices and shape).
    models : sequence of str
        Models to host.
    loads : mapping of str to float
        Loads for the KV split.
    weights : sequence of float, optional
        Route weights (default 1 each).
    kv_sharing : {"partitioned", "shared"}, optional
        KV mode (default: the slot's).

    Returns
    -------
    Slot or None
        The filled slot.
    """
    blocks = kv_budgets(problem, tp=slot.tp, pp=slot.pp, models=models, loads=loads)
    if blocks is None:
        return None
    w = tuple(float(x) for x in weights) if weights is not None else (1.0,) * len(models)
    return replace(slot, models=tuple(models), kv_blocks=blocks, weights=w,
                   kv_sharing=kv_sharing or slot.kv_sharing)


def smallest_fit(problem: LLMPlanProblem, model: str) -> tuple[int, int, int] | None:
    """The smallest group ``(size, tp, pp)`` that holds ``model`` alone.

    Parameters
    ----------
    problem : LLMPlanProblem
        Shapes and memory.
    model : str
        The model.

    Returns
    -------
    tuple of int or None
        Size and shape (most tensor-parallel first), or None if no group fits it.
    """
    for size in problem.group_sizes():
        for tp, pp in problem.group_shapes(size):
            if kv_budgets(problem, tp=tp, pp=pp, models=[model], loads={}) is not None:
                return size, tp, pp
    return None

