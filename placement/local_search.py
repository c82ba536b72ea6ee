"""Add/swap local search and memory filling on a fixed set of groups (see
:mod:`placement.greedy`).

Each round of :func:`local_search` scores a batch of moves at once (add a needy model's
replica where it fits, or swap out a group's least useful replica for it) and applies the
best ones that touch disjoint groups and models; it stops when no move improves the score.
:func:`fill_free_memory` then adds replicas where memory is left and the score does not
drop. Both run in one compiled call (:mod:`placement._local_kernel`) where
:func:`~placement.greedy.plain_pays`; the plans are the same either way.
"""

from __future__ import annotations

import numpy as np

from placement import _local_kernel
from placement.assignment import Assignment
from placement.evaluator import EvalOutcome, Evaluator
from placement.greedy import (
    GreedyOptions,
    GreedyResult,
    _add_on_distinct_groups,
    _group_rank,
    _model_order,
    _unmet,
    group_loads,
    plain_pays,
)
from placement.incremental import usable

__all__ = ["fill_free_memory", "local_search"]


def local_search(ev: Evaluator, start: Assignment, *, options: GreedyOptions | None = None,
                 top_models: int = 4, top_groups: int = 3, swaps_per_group: int = 2,
                 start_outcome: EvalOutcome | None = None, compiled: bool | None = None
                 ) -> GreedyResult:
    """Hill-climb with add and swap moves for ``options.local_rounds`` rounds at most.

    Stops early when every request is good or no move improves the score.

    Parameters
    ----------
    ev : Evaluator
        Scores assignments.
    start : Assignment
        The starting point; not modified.
    options : GreedyOptions, optional
        ``local_rounds``, ``moves_per_round`` and ``apply_per_round``; default
        ``GreedyOptions()`` (no rounds).
    top_models : int, default 4
        Neediest models considered per round.
    top_groups : int, default 3
        Groups tried per needy model.
    swaps_per_group : int, default 2
        Swap moves tried per group (dropping its least useful replicas).
    start_outcome : EvalOutcome, optional
        ``ev``'s outcome of ``start`` (e.g. :attr:`GreedyResult.outcome` of the routine
        that built it): used instead of simulating ``start`` again when its trace is live.
    compiled : bool, optional
        True runs the rounds in one compiled call (plain simulations, the same plan; no
        ``outcome``, and ``start`` simulated again), False in Python; None (default)
        compiled where :func:`~placement.greedy.plain_pays`.

    Returns
    -------
    GreedyResult
        The improved assignment; ``steps`` counts rounds.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> from placement.selective_replication import sr_space
    >>> p = tiny_problem(num_models=2, num_devices=2)
    >>> sp = sr_space(p)
    >>> ev = Evaluator(p.train, group_stages=sp.group_stages)
    >>> start = sp.empty(); start.add(0, 0); start.add(1, 1)
    >>> res = local_search(ev, start, options=GreedyOptions(local_rounds=5))
    >>> res.good >= ev.evaluate(start.arrays()).good
    True
    """
    opts = options or GreedyOptions()
    if plain_pays(ev) if compiled is None else compiled:
        sp, p = start.space, ev.prepared
        hosts, good, sims, rounds = _local_kernel.local_search(
            p.arrival, p.code, p.deadline, ev.group_stages, ev.mode, ev.options.admission,
            sp.group_latency, sp.group_memory, sp.group_feasible, sp.capacity,
            sp.bottleneck, p.rates(), p.counts, start.hosts.copy(), opts.local_rounds,
            top_models, top_groups, swaps_per_group, opts.moves_per_round,
            opts.apply_per_round)
        ev.num_evaluations += int(sims)
        return GreedyResult(assignment=Assignment(sp, hosts), good=int(good),
                            steps=int(rounds), evaluations=int(sims))
    state = start.copy()
    rates = ev.prepared.rates()
    evals0 = ev.num_evaluations
    if start_outcome is not None and usable(ev, start_outcome):
        out = start_outcome
        arrays = out.arrays
    else:
        arrays = state.arrays()
        out = ev.evaluate(arrays)
    rounds = 0
    for _ in range(opts.local_rounds):
        rounds += 1
        unmet = _unmet(ev, out.good_per_model)
        if not unmet.any():
            break
        index = {mg: i for i, mg in enumerate(zip(arrays.model.tolist(),
                                                   arrays.group.tolist(), strict=True))}
        rep_good, unmet_of = out.good_per_replica.tolist(), unmet.tolist()
        allowed = state.space.replica_mask() & ~state.hosts
        needy = _model_order(unmet, rates, (unmet > 0) & allowed.any(axis=0))[:top_models]
        loads = group_loads(state, rates)
        free_mem = (state.space.capacity - state.used).min(axis=1).astype(np.float64)
        skips: list[int] = []  # the moves, as Evaluator.evaluate_move_arrays takes them
        touched: list[tuple[int, int, int]] = []  # (group, added model, removed model)
        rank = _group_rank(loads, free_mem)
        for a in needy:
            tried = 0
            for g in rank[allowed[rank, a]].tolist():
                if tried >= top_groups or len(skips) >= opts.moves_per_round:
                    break
                if state.fits(g, a):
                    skips.append(-1)
                    touched.append((g, a, -1))
                    tried += 1
                    continue
                useful = sorted(np.flatnonzero(state.hosts[g]).tolist(),
                                key=lambda b: (rep_good[index[(b, g)]], -unmet_of[b], b))
                n_swaps = 0
                for b in useful:
                    if n_swaps >= swaps_per_group:
                        break
                    if state.fits(g, a, removing=b):
                        skips.append(index[(b, g)])
                        touched.append((g, a, b))  # b: a model index
                        n_swaps += 1
                if n_swaps:
                    tried += 1
        if not skips:
            break
        gs = np.array([t[0] for t in touched], dtype=np.int64)
        ms = np.array([t[1] for t in touched], dtype=np.int64)
        # space latencies are zero past a group's stages, as the evaluator wants
        goods = ev.evaluate_move_arrays(out, np.array(skips, dtype=np.int64), ms, gs,
                                        state.space.group_latency[gs, ms])
        order = np.lexsort((np.arange(len(goods)), -goods))
        if goods[order[0]] <= out.good:
            break
        chosen: list[int] = []
        groups_used: set[int] = set()
        models_used: set[int] = set()
        for i in order[:opts.moves_per_round]:
            if goods[i] <= out.good or len(chosen) >= opts.apply_per_round:
                break
            g, a, b = touched[int(i)]
            if g in groups_used or a in models_used or b in models_used:
                continue
            chosen.append(int(i))
            groups_used.add(g)
            models_used.update({a, b} - {-1})
        trial = state.copy()
        for i in chosen:
            g, a, b = touched[i]
            if b >= 0:
                trial.remove(g, b)
            trial.add(g, a)
        trial_out = ev.evaluate(trial.arrays(), reference=out)
        if len(chosen) > 1 and trial_out.good < goods[order[0]]:
            trial = state.copy()
            g, a, b = touched[int(order[0])]
            if b >= 0:
                trial.remove(g, b)
            trial.add(g, a)
            trial_out = ev.evaluate(trial.arrays(), reference=out)
        if trial_out.good <= out.good:
            break
        state, out = trial, trial_out
        arrays = out.arrays
    return GreedyResult(assignment=state, good=out.good, steps=rounds,
                        evaluations=ev.num_evaluations - evals0,
                        outcome=out if usable(ev, out) else None)


def fill_free_memory(ev: Evaluator, start: Assignment, *, batch: int = 1,
                     start_outcome: EvalOutcome | None = None, start_good: int | None = None,
                     compiled: bool | None = None) -> GreedyResult:
    """Use leftover memory: add replicas where they do not lower the score.

    A search that serves every training request stops early and leaves memory idle; extra
    replicas of the models with the most load per replica make the plan more robust on
    unseen bursts. Additions (``batch`` at a time, on distinct groups) are kept when the
    number of good requests does not drop; otherwise they are undone one model at a time.

    Parameters
    ----------
    ev : Evaluator
        Scores assignments.
    start : Assignment
        The starting point; not modified.
    batch : int, default 1
        Replicas added per step (falls back to 1 after a rejected batch).
    start_outcome : EvalOutcome, optional
        ``ev``'s outcome of ``start`` (e.g. a previous routine's
        :attr:`GreedyResult.outcome`): used, and taken over, instead of simulating
        ``start`` again when its trace is live.
    start_good : int, optional
        ``start``'s good requests when known (e.g. a compiled routine's
        :attr:`GreedyResult.good`): the compiled path then does not simulate it.
    compiled : bool, optional
        True runs the steps in one compiled call (plain simulations, the same plan; a
        rejected step's state is not simulated again; no ``outcome``), False in Python;
        None (default) compiled where :func:`~placement.greedy.plain_pays`.

    Returns
    -------
    GreedyResult
        The filled assignment and its good requests.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> from placement.selective_replication import sr_space
    >>> p = tiny_problem(num_models=2, num_devices=2)
    >>> sp = sr_space(p)
    >>> ev = Evaluator(p.train, group_stages=sp.group_stages)
    >>> start = sp.empty(); start.add(0, 0); start.add(1, 1)
    >>> res = fill_free_memory(ev, start)
    >>> res.good >= ev.evaluate(start.arrays()).good, res.assignment.num_replicas >= 2
    (True, True)
    """
    if plain_pays(ev) if compiled is None else compiled:
        sp, p = start.space, ev.prepared
        known = start_outcome.good if start_outcome is not None else start_good
        hosts, good, sims, steps = _local_kernel.fill_free_memory(
            p.arrival, p.code, p.deadline, ev.group_stages, ev.mode, ev.options.admission,
            sp.group_latency, sp.group_memory, sp.group_feasible, sp.capacity,
            sp.bottleneck, p.rates(), start.hosts.copy(), max(1, batch),
            -1 if known is None else int(known))
        ev.num_evaluations += int(sims)
        return GreedyResult(assignment=Assignment(sp, hosts), good=int(good),
                            steps=int(steps), evaluations=int(sims))
    state = start.copy()
    rates = ev.prepared.rates()
    evals0 = ev.num_evaluations
    out = start_outcome if start_outcome is not None and usable(ev, start_outcome) \
        else ev.evaluate(state.arrays())
    blocked = np.zeros(state.space.num_models, dtype=bool)
    steps = 0
    while True:
        fit = state.fit_matrix()
        fit[:, blocked] = False
        if not fit.any():
            break
        steps += 1
        per_replica = rates / np.maximum(state.replica_counts(), 1)
        cand = np.flatnonzero(fit.any(axis=0))
        models = [int(m) for m in cand[np.lexsort((cand, -per_replica[cand]))]]
        loads = group_loads(state, rates)
        free_mem = (state.space.capacity - state.used).min(axis=1).astype(np.float64)
        added = _add_on_distinct_groups(state, models, fit, loads, free_mem, batch)
        trial = ev.evaluate(state.arrays(), reference=out, consume=True)
        if trial.good >= out.good:
            out = trial
            continue
        for g, m in added:
            state.remove(g, m)
        if len(added) == 1:
            blocked[added[0][1]] = True
        else:
            batch = 1
        out = ev.evaluate(state.arrays(), reference=trial, consume=True)
    return GreedyResult(assignment=state, good=out.good, steps=steps,
                        evaluations=ev.num_evaluations - evals0,
                        outcome=out if usable(ev, out) else None)
