"""Add/swap local search on a fixed set of groups (see :mod:`placement.greedy`).

Each round scores a batch of moves at once (add a needy model's replica where it fits, or
swap out a group's least useful replica for it) and applies the best ones that touch
disjoint groups and models; it stops when no move improves the score.
"""

from __future__ import annotations

import numpy as np

from placement.assignment import Assignment
from placement.evaluator import EvalOutcome, Evaluator
from placement.greedy import (
    GreedyOptions,
    GreedyResult,
    _group_rank,
    _model_order,
    _unmet,
    group_loads,
)
from placement.incremental import usable


def local_search(ev: Evaluator, start: Assignment, *, options: GreedyOptions | None = None,
                 top_models: int = 4, top_groups: int = 3, swaps_per_group: int = 2,
                 start_outcome: EvalOutcome | None = None) -> GreedyResult:
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
