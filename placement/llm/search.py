"""``plan_llm``: simulator-guided placement of many LLMs (AlpaServe's search, token level).

1. Start points, in families: the dedicated and MuxServe layouts
   (:mod:`placement.llm.baselines`) and a dedicated layout at twice each model's smallest
   group, so the search never scores below them on the training workload; AlpaServe-style
   *pooled* layouts (:mod:`.pooled`: equal large groups, each shared by several models, the
   candidates where model parallelism buys statistical multiplexing); and *partitions*:
   node-aligned multisets of power-of-two groups (:func:`.layout.candidate_partitions`),
   each filled by a greedy on the analytic estimate (models by request rate × size onto the
   group they load least, then spare groups take replicas of the most loaded models), the
   best few by estimated throughput simulated.
2. Local search (best improvement) from the best start point of each family, then the best
   others (``climbs`` in all), over the moves of :mod:`.moves` for the models that miss most
   requests: give a group or half of it to a model, split a group into halves, merge buddy
   groups, reshape ``tp × pp``, co-locate, evict a neighbour, flip a KV mode, swap two
   groups' models; plus, each step, the best *compound* moves (:mod:`.compound`): two
   simulated moves on disjoint groups joined when their summed per-model changes predict a
   gain (near the dedicated layout every single move hurts some model; a pair can pay the
   donor back). Layouts are ranked by :class:`.score.Objective`: goodput, with no model
   below ``fairness`` times the dedicated layout's worst model, and a gain must exceed
   ``min_gain`` of the requests (replay noise does not carry over to held-out requests).
   Layouts met twice are simulated once.

Every candidate is scored by the token-level engine on the training workload (a random time
window of ``max_requests`` requests when it is larger); the plan reports how many, and its
notes list each start point's score and the moves simulated/accepted by kind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from alpaserve.errors import PlacementError, SpecError
from placement.llm.baselines import dedicated_layout, fits_of, muxserve_layout
from placement.llm.compound import compound_moves
from placement.llm.demand import (
    ModelDemand,
    estimated_throughput,
    model_demands,
    reweight,
    route_shares,
    slot_utilisation,
)
from placement.llm.layout import Slot, assign_devices, candidate_partitions, fill_slot
from placement.llm.moves import Move, MoveGenerator
from placement.llm.pooled import pooled_layouts
from placement.llm.problem import LLMPlanProblem
from placement.llm.result import LLMPlan, plan_from_slots
from placement.llm.score import Engine, Objective, Score, Scorer
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
    return reweight(problem, [s for s in slots if s.models], demands)


def plan_llm(problem: LLMPlanProblem, workload: Workload, *, method: str = "search",
             seed: int = 0, max_simulations: int = 200, max_requests: int = 20000,
             simulate_partitions: int = 4, move_width: int = 3, moves_per_step: int = 24,
             climbs: int = 4, fairness: float = 0.9, min_gain: float = 0.002,
             loads: tuple[float, ...] = (1.0,), pooled: int = 3, compounds: int = 3,
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
    max_simulations : int, default 200
        Most engine runs of the search (the baselines' included); a layout met twice is
        simulated once.
    max_requests : int, default 20000
        Larger workloads are cut to a random window of this many requests.
    simulate_partitions : int, default 4
        Partitions simulated after ranking them by estimated throughput.
    move_width : int, default 3
        Worst models the local search tries to help per step.
    moves_per_step : int, default 24
        Most neighbours simulated per step of the local search (the best one is taken).
    climbs : int, default 4
        Local searches: from the best start point of each family (dedicated, MuxServe,
        wider dedicated, pooled, partition), best first, then from the best others.
    fairness : float, default 0.9
        No model's attainment may fall below this fraction of the worst model's under the
        dedicated layout (:class:`Objective`); 0 maximises goodput alone, which may starve
        the large models.
    min_gain : float, default 0.002
        A layout replaces a fair one only when it gains more than this fraction of the
        training requests (:class:`Objective`); 0 takes any gain.
    loads : tuple of float, default (1.0,)
        Rate factors the training workload is scored at, summed (:class:`.score.Scorer`);
        e.g. ``(1.0, 0.75, 0.5)`` hedges against a lighter future than the training window.
        Each counts as one simulation.
    pooled : int, default 3
        Shared-group start points (:func:`.pooled.pooled_layouts`) simulated; 0 for none.
    compounds : int, default 3
        Compound moves (:func:`.compound.compound_moves`) simulated per step; 0 for none.
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
                        ("move_width", move_width), ("moves_per_step", moves_per_step),
                        ("climbs", climbs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SpecError(f"plan_llm: {name} must be a positive int, got {value!r}")
    for name, value in (("pooled", pooled), ("compounds", compounds)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SpecError(f"plan_llm: {name} must be a non-negative int, got {value!r}")
    for name, frac in (("fairness", fairness), ("min_gain", min_gain)):
        if isinstance(frac, bool) or not isinstance(frac, int | float) or not 0 <= frac <= 1:
            raise SpecError(f"plan_llm: {name} must be in [0, 1], got {frac!r}")
    if (not isinstance(loads, tuple) or not loads or any(
            isinstance(x, bool) or not isinstance(x, int | float) or not 0 < x < float("inf")
            for x in loads)):
        raise SpecError(f"plan_llm: loads must be a non-empty tuple of positive factors, "
                        f"got {loads!r}")
    if not isinstance(workload, Workload) or len(workload) == 0:
        raise PlacementError("plan_llm needs a non-empty Workload of LLM requests")
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    train = training_window(workload, max_requests, rng)
    notes: tuple[str, ...] = ()
    if len(train) < len(workload):
        notes = (f"scored on a window of {len(train)} of {len(workload)} training requests",)
    demands = model_demands(train, problem.model_names)
    scorer = Scorer(problem, train, engine=engine, max_simulations=max_simulations,
                    loads=loads)
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
        # Its placement with our best KV mode (see placement.llm.baselines).
        options = [slots]
        if "partitioned" in problem.kv_sharing and any(
                len(s.models) > 1 and s.kv_sharing == "shared" for s in slots):
            flipped = [fill_slot(problem, replace(s, kv_sharing="partitioned"), s.models,
                                 {m: d.token_rate for m, d in demands.items()})
                       if len(s.models) > 1 else s for s in slots]
            if all(s is not None for s in flipped):
                options.append(reweight(problem, [s for s in flipped if s is not None],
                                        demands))
        scores = [scorer(plan_from_slots(o, problem=problem, method=method).deployment)
                  for o in options]
        pick = max(range(len(options)), key=lambda i: (scores[i].good, -i))
        if len(options) > 1:
            notes = (*notes, f"KV: shared {scores[0].good}, partitioned {scores[1].good} "
                             f"good; kept {('shared', 'partitioned')[pick]}")
        return plan_from_slots(options[pick], problem=problem, method=method,
                               train=scores[pick], simulations=scorer.simulations,
                               candidates=tried, wall_s=time.perf_counter() - started,
                               notes=notes)
    return _search(problem, demands, scorer, started=started, notes=notes,
                   simulate_partitions=simulate_partitions, move_width=move_width,
                   moves_per_step=moves_per_step, climbs=climbs, fairness=fairness,
                   min_gain=min_gain, pooled=pooled, compounds=compounds)


def _layout_key(slots: list[Slot]) -> tuple[tuple[object, ...], ...]:
    return tuple(sorted((s.devices, s.tp, s.pp, s.models, s.kv_sharing) for s in slots))


def _search(problem: LLMPlanProblem, demands: Mapping[str, ModelDemand], scorer: Scorer, *,
            started: float, notes: tuple[str, ...], simulate_partitions: int,
            move_width: int, moves_per_step: int, climbs: int, fairness: float,
            min_gain: float, pooled: int, compounds: int) -> LLMPlan:
    seen: dict[tuple[tuple[object, ...], ...], Score] = {}
    stats: dict[str, list[int]] = {}  # move kind -> [simulated, accepted]

    def evaluate(slots: list[Slot]) -> Score:
        key = _layout_key(slots)
        if key not in seen:
            seen[key] = scorer(plan_from_slots(slots, problem=problem,
                                               method="search").deployment)
        return seen[key]

    pool, candidates = _start_points(problem, demands,
                                     simulate_partitions=simulate_partitions, pooled=pooled)
    if not pool:
        raise PlacementError("no layout of the cluster hosts every model")
    first = evaluate(pool[0][1])
    objective = Objective(fairness, first if pool[0][0] == "dedicated" else None,
                          min_gain=min_gain)
    scored: list[tuple[tuple[bool, float, int, float], int, str, list[Slot], Score]] = [
        (objective.key(first), 0, pool[0][0], pool[0][1], first)]
    for label, layout in pool[1:]:
        if scorer.exhausted:
            break
        s = evaluate(layout)
        scored.append((objective.key(s), -len(scored), label, layout, s))
    best = scored[0][3:]  # the first start (dedicated) unless beaten by the margin
    start_note = "start points: " + ", ".join(
        f"{label} {s.good}/{s.requests}" for *_, label, _, s in scored)
    generator = MoveGenerator(problem, demands)
    for label, current in _restarts(scored, climbs):
        tag = label.split(" ")[0]
        while not scorer.exhausted and current[1].good < current[1].requests:
            improved: tuple[list[Slot], Score, str] | None = None
            tried: list[tuple[Move, Score]] = []
            for move in generator.neighbours(current[0], current[1], move_width):
                if scorer.exhausted or len(tried) >= moves_per_step:
                    break
                if _layout_key(move.layout) in seen:
                    continue
                candidates += 1
                s = evaluate(move.layout)
                tried.append((move, s))
                stats.setdefault(move.kind, [0, 0])[0] += 1
                if objective.better(s, improved[1] if improved else current[1]):
                    improved = (move.layout, s, move.kind)
            for move in compound_moves(problem, demands, current[0], current[1], tried,
                                       objective, width=compounds):
                if scorer.exhausted:
                    break
                if _layout_key(move.layout) in seen:
                    continue
                candidates += 1
                s = evaluate(move.layout)
                stats.setdefault("compound", [0, 0])[0] += 1
                if objective.better(s, improved[1] if improved else current[1]):
                    improved = (move.layout, s, "compound")
            if improved is None:
                break
            stats[improved[2]][1] += 1
            logger.info("plan_llm: climb from %s: %s move -> %d/%d good", tag, improved[2],
                        improved[1].good, improved[1].requests)
            current = improved[:2]
        if objective.better(current[1], best[1]):
            best = current
    wall = time.perf_counter() - started
    moves_note = "moves simulated/accepted: " + (", ".join(
        f"{k} {v[0]}/{v[1]}" for k, v in sorted(stats.items())) or "none")
    logger.info("plan_llm: %d simulations (%d layouts), %d candidates, %.2f s, goodput %d/%d; "
                "%s; %s", scorer.simulations, len(seen), candidates, wall, best[1].good,
                best[1].requests, start_note, moves_note)
    return plan_from_slots(best[0], problem=problem, method="search", train=best[1],
                           simulations=scorer.simulations, candidates=candidates,
                           wall_s=wall, notes=(*notes, start_note, moves_note))


def _start_points(problem: LLMPlanProblem, demands: Mapping[str, ModelDemand], *,
                  simulate_partitions: int, pooled: int
                  ) -> tuple[list[tuple[str, list[Slot]]], int]:
    """Labelled start layouts (dedicated first) and how many layouts were built."""
    starts: list[tuple[str, list[Slot]]] = []
    fits = fits_of(problem)
    wider = {m: 2 * f[0] for m, f in fits.items() if 2 * f[0] in problem.group_sizes()}
    for name, build in (("dedicated", lambda: dedicated_layout(problem, demands)),
                        ("MuxServe", lambda: muxserve_layout(problem, demands)[0]),
                        ("wider-dedicated", lambda: dedicated_layout(problem, demands,
                                                                     sizes=wider))):
        try:
            starts.append((name, reweight(problem, build(), demands)))
        except PlacementError as exc:
            logger.info("no %s start point: %s", name, exc)
    tried = len(starts)
    starts += pooled_layouts(problem, demands, limit=pooled)
    min_size = min(f[0] for f in fits.values())
    ranked: list[tuple[float, int, tuple[int, ...], list[Slot]]] = []
    for sizes in candidate_partitions(problem, min_size=min_size):
        layout = construct(problem, sizes, demands)
        tried += 1
        if layout is not None:
            ranked.append((-estimated_throughput(problem, layout, demands), len(ranked),
                           sizes, layout))
    ranked.sort(key=lambda t: t[:2])
    starts += [(f"partition {'+'.join(map(str, t[2]))}", t[3])
               for t in ranked[:simulate_partitions]]
    return starts, tried + pooled


def _restarts(scored: list[tuple[tuple[bool, float, int, float], int, str, list[Slot], Score]],
              climbs: int) -> list[tuple[str, tuple[list[Slot], Score]]]:
    """Start points of the climbs: the best of each family first, then the best others."""
    order = sorted(scored, key=lambda t: t[:2], reverse=True)
    chosen: list[int] = []
    families: set[str] = set()
    for i, t in enumerate(order):
        family = t[2].split(" ")[0]
        if family not in families:
            families.add(family)
            chosen.append(i)
    chosen += [i for i in range(len(order)) if i not in chosen]
    # Family leaders ranked by their score, so the best start climbs first.
    return [(order[i][2], (order[i][3], order[i][4])) for i in chosen[:climbs]]
