"""``plan_llm``: simulator-guided placement of many LLMs (AlpaServe's search, token level).

1. Start points: the dedicated and MuxServe layouts (:mod:`placement.llm.baselines`), so the search never
   scores below either on the training workload.
2. Partitions: node-aligned multisets of power-of-two groups (:func:`.layout.candidate_partitions`);
   each is filled by a greedy on the analytic estimate (models by request rate × size onto
   the group they load least, then spare groups take replicas of the most loaded models),
   and the best few by estimated throughput are simulated.
3. Local search from the best simulated layouts: for the models that miss most requests,
   try adding a replica on another group, moving a co-located model off their group, and
   flipping a group's KV mode; keep the best move while it raises the number of good
   requests and simulations remain.

Every candidate is scored by the token-level engine on the training workload (a random time
window of ``max_requests`` requests when it is larger); the plan reports how many.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from alpaserve.errors import PlacementError, SpecError
from placement.llm.baselines import dedicated_layout, fits_of, muxserve_layout
from placement.llm.demand import (
    ModelDemand,
    estimated_throughput,
    model_demands,
    route_shares,
    service_time,
    slot_utilisation,
)
from placement.llm.layout import Slot, assign_devices, candidate_partitions, fill_slot
from placement.llm.problem import LLMPlanProblem
from placement.llm.result import LLMPlan, plan_from_slots
from placement.llm.score import Engine, Score, Scorer
from simulator.llm.config import KVSharing
from workloads.workload import Workload

logger = logging.getLogger(__name__)

METHODS = ("search", "dedicated", "muxserve")


def training_window(workload: Workload, max_requests: int,
                    rng: np.random.Generator) -> Workload:
    """``workload``, or a random contiguous window of ``max_requests`` of its requests.

    Parameters
    ----------
    workload : Workload
        The training requests.
    max_requests : int
        Most requests to keep.
    rng : numpy.random.Generator
        Picks the window's start.

    Returns
    -------
    Workload
        The window (times unchanged).
    """
    n = len(workload)
    if n <= max_requests:
        return workload
    start = int(rng.integers(0, n - max_requests + 1))
    t0 = float(workload.arrival[start])
    t1 = float(workload.arrival[start + max_requests - 1])
    return workload.window(t0, np.nextafter(t1, np.inf))


def _reweight(problem: LLMPlanProblem, slots: list[Slot],
              demands: Mapping[str, ModelDemand]) -> list[Slot]:
    """Route weights ∝ estimated capacity; KV budgets recomputed by load."""
    out = []
    for s in slots:
        weights = tuple(1.0 / max(service_time(problem, m, s, b, demands[m]), 1e-12)
                        for m, b in zip(s.models, s.kv_blocks, strict=True))
        out.append(replace(s, weights=weights))
    return out


def construct(problem: LLMPlanProblem, sizes: tuple[int, ...],
              demands: Mapping[str, ModelDemand]) -> list[Slot] | None:
    """Fill a partition greedily on the analytic estimate (None if a model fits nowhere).

    Parameters
    ----------
    problem : LLMPlanProblem
        The problem.
    sizes : tuple of int
        Group sizes of the partition.
    demands : mapping of str to ModelDemand
        Per-model request statistics.

    Returns
    -------
    list of Slot or None
        The layout (empty groups dropped).
    """
    names = problem.model_names
    costs = problem.cost_model
    loads = {m: demands[m].token_rate for m in names}
    mode = problem.kv_sharing[0]
    slots = [Slot(devices=d, tp=problem.group_shapes(len(d))[0][0],
                  pp=problem.group_shapes(len(d))[0][1], kv_sharing=mode)
             for d in assign_devices(sizes, problem)]
    order = sorted(names, key=lambda m: (-demands[m].rate * min(
        costs.weight_bytes(m, s.tp, s.pp) * s.size for s in slots), names.index(m)))
    for m in order:
        best: tuple[float, int, int, Slot] | None = None
        for i, s in enumerate(slots):
            filled = fill_slot(problem, s, [*s.models, m], loads)
            if filled is None:
                continue
            util = slot_utilisation(problem, filled, demands, {})
            key = (util / filled.size, -filled.size if not s.models else 0, i)
            if best is None or key < best[:3]:
                best = (key[0], key[1], key[2], filled)
        if best is None:
            return None
        slots[best[2]] = best[3]
    # Spare groups take replicas of the most loaded models that fit them.
    for i, s in enumerate(slots):
        if s.models:
            continue
        shares = route_shares([x for x in slots if x.models])
        ranked = sorted(names, key=lambda m: -max(
            (slot_utilisation(problem, x, demands, shares) / x.size
             for x in slots if m in x.models), default=0.0))
        for m in ranked:
            filled = fill_slot(problem, s, [m], loads)
            if filled is not None:
                slots[i] = filled
                break
    return _reweight(problem, [s for s in slots if s.models], demands)


def _moves(problem: LLMPlanProblem, slots: list[Slot], score: Score,
           demands: Mapping[str, ModelDemand], width: int) -> list[list[Slot]]:
    """Neighbouring layouts that may help the models that miss most requests."""
    names = problem.model_names
    loads = {m: demands[m].token_rate for m in names}
    worst = [m for m in sorted(names, key=lambda m: (-score.missed(m), names.index(m)))
             if score.missed(m) > 0][:width]
    shares = route_shares(slots)
    util = [slot_utilisation(problem, s, demands, shares) / s.size for s in slots]
    out: list[list[Slot]] = []
    for m in worst:
        adds = []
        for i, s in enumerate(slots):
            if m in s.models:
                continue
            filled = fill_slot(problem, s, [*s.models, m], loads, kv_sharing=s.kv_sharing)
            if filled is not None:
                adds.append((util[i], i, filled))
        for _, i, filled in sorted(adds, key=lambda t: t[:2])[:2]:
            out.append([*slots[:i], filled, *slots[i + 1:]])
        for i, s in enumerate(slots):  # move a neighbour off m's busiest group
            if m not in s.models or len(s.models) < 2:
                continue
            for other in s.models:
                if other == m:
                    continue
                rest = [x for x in s.models if x != other]
                left = fill_slot(problem, s, rest, loads)
                if left is None:
                    continue
                homes = [(util[j], j) for j, t in enumerate(slots)
                         if j != i and other not in t.models]
                for _, j in sorted(homes)[:1]:
                    moved = fill_slot(problem, slots[j], [*slots[j].models, other], loads)
                    if moved is not None:
                        trial = list(slots)
                        trial[i], trial[j] = left, moved
                        out.append(trial)
                if any(other in t.models for j, t in enumerate(slots) if j != i):
                    trial = list(slots)  # or drop the neighbour's replica here
                    trial[i] = left
                    out.append(trial)
    if len(problem.kv_sharing) > 1:
        for i, s in enumerate(slots):
            if len(s.models) > 1:
                flip: KVSharing = "shared" if s.kv_sharing == "partitioned" else "partitioned"
                out.append([*slots[:i], replace(s, kv_sharing=flip), *slots[i + 1:]])
    return [_reweight(problem, t, demands) for t in out]


def plan_llm(problem: LLMPlanProblem, workload: Workload, *, method: str = "search",
             seed: int = 0, max_simulations: int = 120, max_requests: int = 20000,
             simulate_partitions: int = 4, move_width: int = 3,
             engine: Engine | None = None) -> LLMPlan:
    """Place the problem's LLMs on its cluster, scored by the token-level engine.

    Parameters
    ----------
    problem : LLMPlanProblem
        Models, cluster, scheduler, SLOs and the search space.
    workload : Workload
        Training requests with token counts; every model requested must be served.
    method : {"search", "dedicated", "muxserve"}, default "search"
        The simulator-guided search, or a baseline (scored once).
    seed : int, default 0
        Picks the training window when the workload is subsampled.
    max_simulations : int, default 120
        Most engine runs of the search (the baselines' included).
    max_requests : int, default 20000
        Larger workloads are cut to a random window of this many requests.
    simulate_partitions : int, default 4
        Partitions simulated after ranking them by estimated throughput.
    move_width : int, default 3
        Worst models the local search tries to help per step.
    engine : callable, optional
        ``engine(deployment, workload) -> (PreparedLLM, LLMOutcome)``; default the
        compiled engine.

    Returns
    -------
    LLMPlan
        The best layout found, its training score and the search statistics.

    Raises
    ------
    SpecError
        If an argument is out of range.
    PlacementError
        If a model fits nowhere or the workload requests an unknown model.
    """
    if method not in METHODS:
        raise SpecError(f"method must be one of {METHODS}, got {method!r}")
    for name, value in (("max_simulations", max_simulations), ("max_requests", max_requests),
                        ("simulate_partitions", simulate_partitions),
                        ("move_width", move_width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SpecError(f"plan_llm: {name} must be a positive int, got {value!r}")
    if not isinstance(workload, Workload) or len(workload) == 0:
        raise PlacementError("plan_llm needs a non-empty Workload of LLM requests")
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    train = training_window(workload, max_requests, rng)
    notes: tuple[str, ...] = ()
    if len(train) < len(workload):
        notes = (f"scored on a window of {len(train)} of {len(workload)} training requests",)
    demands = model_demands(train, problem.model_names)
    scorer = Scorer(problem, train, engine=engine, max_simulations=max_simulations)
    fits_of(problem)  # names a model that fits nowhere
    if method == "dedicated":
        slots = dedicated_layout(problem, demands)
        return plan_from_slots(slots, problem=problem, method=method,
                               train=scorer(plan_from_slots(slots, problem=problem,
                                                            method=method).deployment),
                               simulations=scorer.simulations, candidates=1,
                               wall_s=time.perf_counter() - started, notes=notes)
    if method == "muxserve":
        slots, tried = muxserve_layout(problem, demands)
        return plan_from_slots(slots, problem=problem, method=method,
                               train=scorer(plan_from_slots(slots, problem=problem,
                                                            method=method).deployment),
                               simulations=scorer.simulations, candidates=tried,
                               wall_s=time.perf_counter() - started, notes=notes)
    return _search(problem, demands, scorer, started=started, notes=notes,
                   simulate_partitions=simulate_partitions, move_width=move_width)


def _search(problem: LLMPlanProblem, demands: Mapping[str, ModelDemand], scorer: Scorer, *,
            started: float, notes: tuple[str, ...], simulate_partitions: int,
            move_width: int) -> LLMPlan:
    def evaluate(slots: list[Slot]) -> Score:
        return scorer(plan_from_slots(slots, problem=problem, method="search").deployment)

    scored: list[tuple[int, int, list[Slot], Score]] = []  # (-good, order, slots, score)
    starts = [dedicated_layout(problem, demands)]
    try:
        mux, _ = muxserve_layout(problem, demands)
        starts.append(mux)
    except PlacementError as exc:
        logger.info("no MuxServe start point: %s", exc)
    candidates = len(starts)
    min_size = min(f[0] for f in fits_of(problem).values())
    ranked: list[tuple[float, int, list[Slot]]] = []
    for sizes in candidate_partitions(problem, min_size=min_size):
        layout = construct(problem, sizes, demands)
        candidates += 1
        if layout is not None:
            ranked.append((-estimated_throughput(problem, layout, demands), len(ranked),
                           layout))
    ranked.sort(key=lambda t: t[:2])
    pool = starts + [t[2] for t in ranked[:simulate_partitions]]
    for layout in pool:
        if scorer.exhausted:
            break
        s = evaluate(layout)
        scored.append((-s.good, len(scored), layout, s))
    scored.sort(key=lambda t: t[:2])
    best = scored[0]
    for start in scored[:2]:
        current = start
        while not scorer.exhausted and current[3].good < current[3].requests:
            improved = None
            for trial in _moves(problem, current[2], current[3], demands, move_width):
                if scorer.exhausted:
                    break
                candidates += 1
                s = evaluate(trial)
                if s.good > (improved[3].good if improved else current[3].good):
                    improved = (-s.good, 0, trial, s)
            if improved is None:
                break
            current = improved
        if current[3].good > best[3].good:
            best = current
    wall = time.perf_counter() - started
    logger.info("plan_llm: %d simulations, %d candidates, %.2f s, goodput %d/%d",
                scorer.simulations, candidates, wall, best[3].good, best[3].requests)
    return plan_from_slots(best[2], problem=problem, method="search", train=best[3],
                           simulations=scorer.simulations, candidates=candidates,
                           wall_s=wall, notes=notes)
