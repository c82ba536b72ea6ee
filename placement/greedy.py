"""Simulator-guided replica assignment on a fixed set of groups.

Three routines share the bookkeeping of :class:`~placement.space.Assignment`:

* :func:`construct` builds an assignment from scratch. Each step simulates the current one,
  ranks models by *unmet* requests (not served within the SLO) and either adds the replica
  of the neediest model on the least-loaded group that has room (``top_models = top_groups
  = 1``, one simulation per step, optionally several replicas per step), or scores the
  ``top_models × top_groups`` most promising additions in one compiled batch and keeps the
  best.
* :func:`~placement.local_search.local_search` (its own module; also importable from here)
  improves an assignment with *add* and *swap* moves (drop the least useful replica of a
  group to make room for a needy model), scoring a batch of moves per round and applying
  the best ones that touch disjoint groups.
* :func:`~placement.published.full_greedy` (also importable from here) is AlpaServe's
  published Algorithm 1 with beam width 1: score *every*
  feasible (model, group) addition at every step.

Everything is deterministic: ties go to the lower model index, then the lower group index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from placement import _greedy_kernel
from placement.evaluator import EvalOutcome, Evaluator
from placement.incremental import usable
from placement.space import Assignment, SearchSpace

__all__ = ["MIN_TRACED_REQUESTS", "GreedyOptions", "GreedyResult", "compiled_pays",
           "construct", "group_loads", "plain_pays"]

#: Fewest requests for which the look-ahead re-simulates traces in Python rather than
#: running compiled (see :func:`compiled_pays`): on multi-stage groups, and on
#: single-stage ones (one free time per group makes full runs cheaper)
MIN_TRACED_REQUESTS = (6_000, 16_000)


@dataclass(frozen=True, kw_only=True)
class GreedyOptions:
    """Knobs of :func:`construct` and :func:`~placement.local_search.local_search`.

    Parameters
    ----------
    top_models, top_groups : int
        Construction's look-ahead: the neediest models × the least-loaded groups that fit
        them, scored in one batch per step; both 1 means one simulation per step.
    batch : int
        With ``top_models = top_groups = 1``: replicas (of distinct models, on distinct
        groups) added per step.
    patience : int, optional
        Stop construction after that many steps without a better score; None: never.
    local_rounds : int
        Most rounds of :func:`~placement.local_search.local_search` (0: none).
    moves_per_round : int
        Most moves :func:`~placement.local_search.local_search` scores per round.
    apply_per_round : int
        Most improving moves on disjoint groups and models applied per round.

    Examples
    --------
    >>> GreedyOptions(top_models=4, top_groups=3).batch
    1
    """

    top_models: int = 1
    top_groups: int = 1
    batch: int = 1
    patience: int | None = None
    local_rounds: int = 0
    moves_per_round: int = 24
    apply_per_round: int = 4


@dataclass(frozen=True, kw_only=True)
class GreedyResult:
    """What a greedy routine ended with.

    Parameters
    ----------
    assignment : Assignment
        The best assignment.
    good : int
        Its good requests.
    steps : int
        Steps (or local-search rounds) taken.
    evaluations : int
        Simulations run.
    outcome : EvalOutcome, optional
        The routine's evaluator's outcome of ``assignment`` when its trace is still live:
        a next routine on the same evaluator starts from it instead of simulating the
        assignment again (see ``start_outcome``).

    Examples
    --------
    See :func:`construct`.
    """

    assignment: Assignment
    good: int
    steps: int
    evaluations: int
    outcome: EvalOutcome | None = None


def group_loads(assign: Assignment, rates: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Estimated utilisation of each group's slowest stage if load splits evenly on replicas.

    Parameters
    ----------
    assign : Assignment
        Which groups host which models.
    rates : numpy.ndarray of float64, shape (M,)
        Requests per second of each model.

    Returns
    -------
    numpy.ndarray of float64, shape (G,)
        Per group: the sum over its models of ``rate / replicas × slowest-stage latency``
        (busy seconds per second; above 1 means overloaded).

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> from placement.selective_replication import sr_space
    >>> a = sr_space(tiny_problem(num_models=2, num_devices=2)).empty()
    >>> a.add(0, 0); a.add(1, 0)
    >>> group_loads(a, np.array([8.0, 4.0])).tolist()  # 4 req/s x 0.1 s on each
    [0.4, 0.4]
    """
    sp = assign.space
    reps = np.maximum(assign.replica_counts(), 1)
    per_replica = rates / reps  # [m]
    return (assign.hosts * sp.bottleneck * per_replica[None, :]).sum(axis=1)


def _unmet(ev: Evaluator, good_pm: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return ev.prepared.counts - good_pm


def _model_order(unmet: npt.NDArray[np.int64], rates: npt.NDArray[np.float64],
                 mask: npt.NDArray[np.bool_]) -> list[int]:
    idx = np.flatnonzero(mask)
    order = np.lexsort((idx, -rates[idx], -unmet[idx]))
    return idx[order].tolist()


def _group_rank(loads: npt.NDArray[np.float64], free_mem: npt.NDArray[np.float64]
                ) -> npt.NDArray[np.int64]:
    """Every group, least loaded first (then most free memory, then index): a total order,
    so the order of a subset of the groups is ``rank[mask[rank]]``."""
    return np.lexsort((np.arange(loads.size), -free_mem, loads.round(12)))


def _add_moves(space: SearchSpace, gs: npt.NDArray[np.int64], ms: npt.NDArray[np.int64],
               max_stages: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                                         npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Moves adding model ``ms[k]`` on group ``gs[k]`` as ``Evaluator.evaluate_move_arrays``
    takes them (``space.latency`` is zero past a shape's stages, as it wants)."""
    lat = space.latency[space.group_shape[gs], ms, :max_stages]
    return np.full(gs.size, -1, dtype=np.int64), ms, gs, lat


def _add_on_distinct_groups(state: Assignment, models: Sequence[int],
                            fit: npt.NDArray[np.bool_], loads: npt.NDArray[np.float64],
                            free_mem: npt.NDArray[np.float64], batch: int
                            ) -> list[tuple[int, int]]:
    """Add up to ``batch`` replicas of ``models`` (in order), each on the best group that
    ``fit`` allows and this batch has not used yet. Returns the ``(group, model)`` pairs."""
    added: list[tuple[int, int]] = []
    # loads and free memory are the batch's start's, so one ranking of the groups serves
    # every model: its best group is the first in that order that fits it and is unused
    order = _group_rank(loads, free_mem)
    ranked = fit[order].T.copy()  # [m, rank]: room, groups in rank order
    for m in models:
        if len(added) >= max(1, batch):
            break
        row = ranked[m]
        first = int(row.argmax())
        if not row[first]:
            continue
        g = int(order[first])
        state.add(g, m)
        added.append((g, m))
        ranked[:, first] = False  # a group takes one replica per batch
    return added


def construct(ev: Evaluator, start: Assignment, *, options: GreedyOptions | None = None,
              stop_without_gain: bool = False, compiled: bool | None = None) -> GreedyResult:
    """Greedy construction from ``start`` (copied) until nothing fits.

    Parameters
    ----------
    ev : Evaluator
        Scores assignments.
    start : Assignment
        The starting point; not modified.
    options : GreedyOptions, optional
        Look-ahead, batch and patience; default ``GreedyOptions()``.
    stop_without_gain : bool, default False
        Selective replication's rule: revert an addition that does not raise the score and
        stop considering that model.
    compiled : bool, optional
        Without ``stop_without_gain``: True runs every step in one compiled call
        (:mod:`placement._greedy_kernel`: plain simulations, the same assignment, score and
        steps; the look-ahead takes one simulation a step fewer, and on a single group the
        plain loop scores only the states that can be the best; no ``outcome`` to start
        from), False the Python loop; None (default) picks the faster by
        :func:`compiled_pays`.

    Returns
    -------
    GreedyResult
        The best assignment passed through (it stops early once every request is good).

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> from placement.selective_replication import sr_space
    >>> p = tiny_problem(num_models=2, num_devices=2)
    >>> sp = sr_space(p)
    >>> ev = Evaluator(p.train, group_stages=sp.group_stages)
    >>> res = construct(ev, sp.empty())
    >>> 0 < res.good <= p.train.num_requests, res.evaluations >= res.steps
    (True, True)
    """
    opts = options or GreedyOptions()
    if not stop_without_gain and (compiled_pays(ev, opts) if compiled is None else compiled):
        return _construct_compiled(ev, start, opts)
    state = start.copy()
    rates = ev.prepared.rates()
    evals0 = ev.num_evaluations
    blocked = np.zeros(state.space.num_models, dtype=bool)
    best_state, best_good = state.copy(), -1
    since_best, steps = 0, 0
    # re-simulating against the previous step pays when a step changes one replica; with
    # several per step most requests change, and the plain kernel is faster
    traced = opts.batch <= 1 or opts.top_models > 1 or opts.top_groups > 1
    out = ev.evaluate(state.arrays(), trace=traced)
    best_out = out
    while True:
        if out.good > best_good:
            best_state, best_good, best_out, since_best = state.copy(), out.good, out, 0
        else:
            since_best += 1
        if best_good >= ev.prepared.num_requests:
            break  # nothing can beat serving every request
        if opts.patience is not None and since_best > opts.patience:
            break
        fit = state.fit_matrix()
        placeable = fit.any(axis=0) & ~blocked
        if not placeable.any():
            break
        unmet = _unmet(ev, out.good_per_model)
        models = _model_order(unmet, rates, placeable)
        loads = group_loads(state, rates)
        free_mem = (state.space.capacity - state.used).min(axis=1).astype(np.float64)
        steps += 1
        if opts.top_models <= 1 and opts.top_groups <= 1:
            added = _add_on_distinct_groups(state, models, fit, loads, free_mem, opts.batch)
            prev = out.good
            out = ev.evaluate(state.arrays(), reference=out, consume=True, trace=traced)
            if stop_without_gain and out.good <= prev:
                for g, m in added:
                    state.remove(g, m)
                    blocked[m] = True
                out = ev.evaluate(state.arrays(), reference=out, consume=True, trace=traced)
            continue
        rank = _group_rank(loads, free_mem)
        pairs = [(g, m) for m in models[:opts.top_models]
                 for g in rank[fit[rank, m]][:opts.top_groups].tolist()]
        gs, ms = (np.array(x, dtype=np.int64) for x in zip(*pairs, strict=True))
        goods = ev.evaluate_move_arrays(out, *_add_moves(state.space, gs, ms, ev.max_stages))
        g, m = pairs[int(np.argmax(goods))]
        state.add(g, m)
        out = ev.evaluate(state.arrays(), reference=out, consume=True)
    return GreedyResult(assignment=best_state, good=best_good, steps=steps,
                        evaluations=ev.num_evaluations - evals0,
                        outcome=best_out if usable(ev, best_out) else None)


def plain_pays(ev: Evaluator) -> bool:
    """Whether one-move candidates are scored faster by full compiled runs than by
    re-simulating the base's trace (the routines' compiled paths: look-ahead, local search,
    filling).

    Re-simulation (:mod:`placement.incremental`) walks only the requests a change reaches;
    with several groups and many requests that beats full compiled runs
    (:data:`MIN_TRACED_REQUESTS`). Measured on issue-18 cases, compiled look-ahead over
    Python: 2.9 k requests, 1.3x to 3.4x faster on every layout; 12.7 k requests, 2 to 8
    groups of 2 to 8 stages 0.5x to 1.1x, of 1 stage or a single group 1.0x to 1.8x; 25 k
    requests on single-stage groups 0.7x to 0.9x.

    Parameters
    ----------
    ev : Evaluator
        Its groups and workload.

    Returns
    -------
    bool
        True when the compiled routines should run.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> p = tiny_problem()
    >>> plain_pays(Evaluator(p.train, group_stages=[4, 4]))
    True
    """
    limit = MIN_TRACED_REQUESTS[1] if ev.max_stages == 1 else MIN_TRACED_REQUESTS[0]
    return ev.group_stages.size == 1 or ev.prepared.num_requests < limit


def compiled_pays(ev: Evaluator, opts: GreedyOptions) -> bool:
    """Whether :func:`construct`'s compiled loop is expected to be the faster.

    Always without look-ahead (the Python loop runs plain simulations too); with it, where
    :func:`plain_pays`.

    Parameters
    ----------
    ev : Evaluator
        Its groups and workload.
    opts : GreedyOptions
        Its look-ahead.

    Returns
    -------
    bool
        True when the compiled loop should run.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> ev = Evaluator(tiny_problem().train, group_stages=[4, 4])
    >>> compiled_pays(ev, GreedyOptions(batch=2)), compiled_pays(ev, GreedyOptions(top_models=4))
    (True, True)
    """
    if opts.top_models <= 1 and opts.top_groups <= 1:
        return True
    return plain_pays(ev)


def _construct_compiled(ev: Evaluator, start: Assignment, opts: GreedyOptions
                        ) -> GreedyResult:
    sp, p = start.space, ev.prepared
    hosts, good, evals, steps = _greedy_kernel.greedy(
        p.arrival, p.code, p.deadline, ev.group_stages, ev.mode, ev.options.admission,
        sp.group_latency, sp.group_memory, sp.group_feasible, sp.capacity, sp.bottleneck,
        p.rates(), p.counts, start.hosts.copy(), opts.batch, opts.top_models, opts.top_groups,
        -1 if opts.patience is None else opts.patience)
    ev.num_evaluations += int(evals)
    return GreedyResult(assignment=Assignment(sp, hosts), good=int(good), steps=int(steps),
                        evaluations=int(evals))


def __getattr__(name: str) -> Any:
    """``local_search`` and ``fill_free_memory`` from :mod:`placement.local_search` and
    ``full_greedy`` from :mod:`placement.published` (imported late: they import this).

    Parameters
    ----------
    name : str
        The attribute.

    Returns
    -------
    Any
        :func:`placement.local_search.local_search` for ``"local_search"``,
        :func:`placement.local_search.fill_free_memory` for ``"fill_free_memory"``,
        :func:`placement.published.full_greedy` for ``"full_greedy"``.

    Raises
    ------
    AttributeError
        For any other name.
    """
    home = {"local_search": "placement.local_search",
            "fill_free_memory": "placement.local_search",
            "full_greedy": "placement.published"}.get(name)
    if home is not None:
        import importlib

        return getattr(importlib.import_module(home), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
