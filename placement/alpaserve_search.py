"""AlpaServe-style placement search: group layouts × simulator-guided replica assignment.

For each bucket of models (one bucket unless latencies differ a lot, see
:mod:`placement.buckets`) and each split of the devices between buckets:

1. **Screen** every layout (equal power-of-two groups plus leftovers, every pipeline ×
   tensor shape whose stages stay within a node) with a cheap greedy that adds the
   neediest models' replicas, several per simulation.
2. **Refine** the best ``refine_top`` layouts (those screened within ``refine_gap`` of the
   best): a look-ahead greedy from scratch that scores
   the ``top_models × top_groups`` most promising additions per step in one compiled batch,
   then add/swap local search on both that result and the screened one.

Buckets have disjoint models and devices, so their good-request counts add up exactly.
The published policy (:mod:`placement.published`) shares the layouts and bucketing but runs
AlpaServe's exhaustive per-step greedy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np

from alpaserve.placement_spec import Group, Placement
from placement.buckets import Layout, device_splits, layouts, model_buckets
from placement.evaluator import Evaluator, EvalWorkload
from placement.greedy import GreedyOptions, construct
from placement.local_search import fill_free_memory, local_search
from placement.problem import Problem, subset_workload
from placement.robust_pick import pick_robust, stressed
from placement.search_types import BucketResult, LogEntry, SearchOptions, SearchOutcome
from placement.space import Assignment, SearchSpace
from placement.task_pool import MIN_THREADED_REQUESTS, map_tasks, search_threads

__all__ = ["MIN_THREADED_REQUESTS", "BucketResult", "LogEntry", "SearchOptions",
           "SearchOutcome", "alpaserve_search",
           "bucketed_search", "pick_robust", "refine_layout", "screen_layout",
           "search_threads", "solve_bucket", "stressed"]

logger = logging.getLogger(__name__)


# A solver scores one layout for one bucket: (space, workload, options) -> [(phase, result)]
Solver = Callable[[SearchSpace, EvalWorkload, Problem, SearchOptions],
                  list[tuple[str, Assignment, int, int]]]


def _evaluator(space: SearchSpace, work: EvalWorkload, problem: Problem,
               threads: int = 1) -> Evaluator:
    return Evaluator(work, group_stages=space.group_stages, options=problem.options,
                     threads=threads)


def screen_layout(space: SearchSpace, work: EvalWorkload, problem: Problem,
                  opts: SearchOptions) -> list[tuple[str, Assignment, int, int]]:
    """The cheap greedy: several replicas of the neediest models per simulation.

    Parameters
    ----------
    space : SearchSpace
        One layout's groups and the bucket's models.
    work : EvalWorkload
        The bucket's training workload (see :func:`~placement.problem.subset_workload`).
    problem : Problem
        The placement problem (its ``options`` score the plans).
    opts : SearchOptions
        The search's knobs.

    Returns
    -------
    list of (str, Assignment, int, int)
        One entry: ``"screen"``, the plan, its good training requests and the
        simulations it took.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> from placement.selective_replication import sr_space
    >>> p = tiny_problem(num_models=2, num_devices=2)
    >>> [(phase, good) for phase, _, good, _ in
    ...  screen_layout(sr_space(p), p.train, p, SearchOptions())]
    [('screen', 266)]
    """
    ev = _evaluator(space, work, problem)
    batch = opts.screen_batch or max(1, space.num_groups // 2)
    res = construct(ev, space.empty(), options=GreedyOptions(batch=batch))
    return [("screen", res.assignment, res.good, res.evaluations)]


def refine_layout(space: SearchSpace, work: EvalWorkload, problem: Problem,
                  opts: SearchOptions, start: Assignment, *, threads: int = 1
                  ) -> list[tuple[str, Assignment, int, int]]:
    """Look-ahead greedy from scratch, then local search on it and on ``start``.

    The look-ahead costs ``top_models × top_groups`` simulations per replica, so it runs only
    when the screened plan has at most ``lookahead_max_replicas`` replicas; larger problems
    rely on local search from the screened plan. Every local-search result is then filled
    with replicas that use leftover memory (:func:`~placement.greedy.fill_free_memory`).

    Parameters
    ----------
    space : SearchSpace
        One layout's groups and the bucket's models.
    work : EvalWorkload
        The bucket's training workload (see :func:`~placement.problem.subset_workload`).
    problem : Problem
        The placement problem (its ``options`` score the plans).
    opts : SearchOptions
        The search's knobs.
    start : Assignment
        The screened plan of this layout.
    threads : int, default 1
        Threads a batch of candidates may be split over (``Evaluator.threads``); the plans
        are the same for any number.

    Returns
    -------
    list of (str, Assignment, int, int)
        Per phase: its name, the plan, its good training requests and the simulations it
        took.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> from placement.selective_replication import sr_space
    >>> p = tiny_problem(num_models=2, num_devices=2)
    >>> sp = sr_space(p)
    >>> screened = screen_layout(sp, p.train, p, SearchOptions())[0][1]
    >>> [phase for phase, *_ in refine_layout(sp, p.train, p, SearchOptions(), screened)]
    ['lookahead', 'lookahead+local+fill', 'screen+local+fill']
    """
    return (_refine_part(space, work, problem, opts, start, "lookahead", threads)
            + _refine_part(space, work, problem, opts, start, "screen", threads))


def _refine_part(space: SearchSpace, work: EvalWorkload, problem: Problem,
                 opts: SearchOptions, start: Assignment, part: str, threads: int = 1
                 ) -> list[tuple[str, Assignment, int, int]]:
    """One independent half of :func:`refine_layout` (threads may run the halves apart):
    ``"lookahead"`` (the look-ahead greedy, then local search on it) or ``"screen"``
    (local search on the screened plan)."""
    ev = _evaluator(space, work, problem, threads)
    greedy = GreedyOptions(top_models=opts.top_models, top_groups=opts.top_groups,
                           local_rounds=opts.local_rounds)
    out = []
    if part == "screen":
        phase, begin = "screen+local", start
        known = None
    elif start.num_replicas <= opts.lookahead_max_replicas:
        built = construct(ev, space.empty(), options=greedy)
        out.append(("lookahead", built.assignment, built.good, built.evaluations))
        phase, begin, known = "lookahead+local", built.assignment, built.outcome
    else:
        return out
    # each routine starts from the previous one's outcome: no placement simulated twice
    res = local_search(ev, begin, options=greedy, start_outcome=known)
    filled = fill_free_memory(ev, res.assignment, batch=max(1, space.num_groups // 2),
                              start_outcome=res.outcome, start_good=res.good)
    out.append((phase + "+fill", filled.assignment, filled.good,
                res.evaluations + filled.evaluations))
    return out


def _run_screen(task: tuple[Layout, Problem, Sequence[int], EvalWorkload, SearchOptions]
                ) -> tuple[SearchSpace | None, list[tuple[str, Assignment, int, int]], float]:
    layout, problem, model_idx, work, opts = task
    t0 = time.perf_counter()
    groups = layout.groups()
    if not problem.can_host(groups, model_idx):  # no replica fits: no space to build
        return None, [], time.perf_counter() - t0
    space = problem.search_space(groups, model_idx)
    return space, screen_layout(space, work, problem, opts), time.perf_counter() - t0


def _run_refine(task: tuple[SearchSpace, Problem, EvalWorkload, SearchOptions, Assignment,
                            str, int]) -> tuple[list[tuple[str, Assignment, int, int]], float]:
    space, problem, work, opts, start, part, threads = task
    t0 = time.perf_counter()
    out = _refine_part(space, work, problem, opts, start, part, threads)
    return out, time.perf_counter() - t0


def solve_bucket(problem: Problem, model_idx: Sequence[int], device_ids: Sequence[int],
                 opts: SearchOptions, *, label: str = "all") -> BucketResult:
    """Our search on one bucket: screen every layout, refine the best few.

    Parameters
    ----------
    problem : Problem
        The placement problem.
    model_idx : Sequence[int]
        The bucket's models (indices into ``problem.models``).
    device_ids : Sequence[int]
        The bucket's devices.
    opts : SearchOptions
        The search's knobs.
    label : str, default "all"
        The bucket's name in the log and the progress bars.

    Returns
    -------
    BucketResult
        The best plan (ties broken by :func:`pick_robust`) and the log.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> p = tiny_problem(num_models=2, num_devices=2)
    >>> res = solve_bucket(p, [0, 1], [0, 1], SearchOptions())
    >>> 0 < res.good <= p.train.num_requests, res.assignment.num_replicas >= 2
    (True, True)
    """
    work = subset_workload(problem.train, model_idx)
    max_size = opts.max_group_size or min(len(device_ids), 4 * problem.cluster.devices_per_node)
    lays = layouts(problem.cluster, device_ids, max_size)
    # larger groups take more screening steps: scored first, threads balance better
    first = sorted(range(len(lays)), key=lambda i: -max(lays[i].partition.sizes))
    tasks = [(lays[i], problem, list(model_idx), work, opts) for i in first]
    done = dict(zip(first, map_tasks(_run_screen, tasks, opts, f"screen {label}",
                                     requests=work.num_requests), strict=True))
    screened = [done[i] for i in range(len(lays))]  # back in layout order
    log: list[LogEntry] = []
    ranked: list[tuple[int, int, Layout, SearchSpace, Assignment]] = []
    for lay, (space, results, secs) in zip(lays, screened, strict=True):
        for phase, assign, good, evals in results:
            log.append(LogEntry(bucket=label, devices=len(device_ids), layout=lay.key,
                                phase=phase, good=good, requests=work.num_requests,
                                evaluations=evals, seconds=secs))
            ranked.append((-good, len(ranked), lay, space, assign))
    if not ranked:
        return BucketResult(good=0, assignment=None, log=log)
    ranked.sort(key=lambda r: (r[0], r[1]))
    top = ranked[:max(1, opts.refine_top)]
    if opts.refine_gap is not None:  # layouts screened far below the best rarely win
        floor = -ranked[0][0] - opts.refine_gap * work.num_requests
        kept = [r for r in top if -r[0] >= floor]
        if len(kept) < len(top):
            logger.debug("%s: %d of %d layouts to refine screened over %.1f%% below the "
                         "best; not refined", label, len(top) - len(kept), len(top),
                         100 * opts.refine_gap)
        top = kept
    # each layout's two halves are independent tasks, the (longer) look-ahead ones first:
    # threads balance better; threads the halves leave idle split their candidate batches
    halves = 2 * len(top)
    spare = 1 if opts.n_jobs > 1 else max(
        1, search_threads(opts, None, work.num_requests) // halves)
    parts = map_tasks(_run_refine, [(sp, problem, work, opts, a, part, spare)
                                    for part in ("lookahead", "screen")
                                    for _, _, _, sp, a in top],
                      opts, f"refine {label}", requests=work.num_requests)
    k = len(top)
    refined = [(parts[i][0] + parts[k + i][0], parts[i][1] + parts[k + i][1])
               for i in range(k)]
    finalists = [(-ranked[0][0], ranked[0][4])]
    for (_, _, lay, _, _), (results, secs) in zip(top, refined, strict=True):
        for phase, assign, good, evals in results:
            log.append(LogEntry(bucket=label, devices=len(device_ids), layout=lay.key,
                                phase=phase, good=good, requests=work.num_requests,
                                evaluations=evals, seconds=secs))
            finalists.append((good, assign))
    best_good, best = pick_robust(finalists, work, problem)
    return BucketResult(good=best_good, assignment=best, log=log)


BucketSolver = Callable[[Problem, Sequence[int], Sequence[int], SearchOptions, str],
                        BucketResult]


def _solve_bucket_kw(problem: Problem, model_idx: Sequence[int], device_ids: Sequence[int],
                     opts: SearchOptions, label: str) -> BucketResult:
    return solve_bucket(problem, model_idx, device_ids, opts, label=label)


def bucketed_search(problem: Problem, opts: SearchOptions, solver: BucketSolver) -> SearchOutcome:
    """Try one bucket and, when latencies differ enough, latency buckets on split devices.

    Parameters
    ----------
    problem : Problem
        The placement problem.
    opts : SearchOptions
        ``bucketing`` and ``bucket_ratio`` decide the buckets; the rest go to ``solver``.
    solver : BucketSolver
        ``solver(problem, model_idx, device_ids, opts, label)`` searches one bucket.

    Returns
    -------
    SearchOutcome
        The placement with the most good training requests over every split tried.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> p = tiny_problem(num_models=2, num_devices=2)
    >>> def solver(problem, model_idx, device_ids, opts, label):
    ...     return solve_bucket(problem, model_idx, device_ids, opts, label=label)
    >>> out = bucketed_search(p, SearchOptions(bucketing=False), solver)
    >>> out.requests == p.train.num_requests, [e.bucket for e in out.log][:1]
    (True, ['all'])
    """
    n_dev = problem.cluster.num_devices
    all_idx = list(range(len(problem.models)))
    log: list[LogEntry] = []
    single = solver(problem, all_idx, list(range(n_dev)), opts, "all")
    log += single.log
    best_good = single.good
    best_parts: list[Assignment | None] = [single.assignment]
    ref = problem.reference_latency()
    latency = np.array([ref[m.name] for m in problem.models])
    buckets = model_buckets(latency, opts.bucket_ratio) if opts.bucketing else [all_idx]
    if len(buckets) > 1 and n_dev >= len(buckets):
        rates = problem.train.rates()
        weights = np.array([m.weight_bytes for m in problem.models], dtype=np.float64)
        load = [float((rates[b] * latency[b]).sum()) for b in buckets]
        mem = [float(weights[b].sum()) for b in buckets]
        shares = [load, mem, [a / sum(load) + b / sum(mem) for a, b in zip(load, mem,
                                                                           strict=True)]]
        unit = problem.cluster.devices_per_node if n_dev >= 2 * len(buckets) * \
            problem.cluster.devices_per_node else 1
        for split in device_splits(n_dev, shares, [1] * len(buckets), unit):
            parts: list[Assignment | None] = []
            total, start = 0, 0
            for k, (b, count) in enumerate(zip(buckets, split, strict=True)):
                ids = list(range(start, start + count))
                start += count
                res = solver(problem, b, ids, opts, f"bucket{k}/{len(buckets)}@{split}")
                log += res.log
                total += res.good
                parts.append(res.assignment)
            if total > best_good:
                best_good, best_parts = total, parts
    groups: list[Group] = []
    for part in best_parts:
        if part is not None:
            groups += part.groups(offset=len(groups))
    placement = Placement(cluster=problem.cluster, models={m.name: m for m in problem.models},
                          groups=tuple(groups), profiles=problem.profiles)
    return SearchOutcome(placement=placement, good=best_good,
                         requests=problem.train.num_requests, log=tuple(log))


def alpaserve_search(problem: Problem, options: SearchOptions | None = None) -> SearchOutcome:
    """Our AlpaServe search (see the module docstring).

    Parameters
    ----------
    problem : Problem
        Models, cluster, profiles, SLOs and the training workload.
    options : SearchOptions, optional
        The search's knobs; default ``SearchOptions()``.

    Returns
    -------
    SearchOutcome
        The best placement, its training score and the log of every candidate.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> out = alpaserve_search(tiny_problem(num_models=2, num_devices=2))
    >>> 0 < out.attainment <= 1, sorted(out.placement.hosted_models)
    (True, ['m0', 'm1'])
    """
    return bucketed_search(problem, options or SearchOptions(), _solve_bucket_kw)
