"""Compound moves: two simulated moves on disjoint groups, joined into one step.

Near a dedicated layout every single move hurts some model: giving devices to the model
that misses most takes them from another. A pair of moves can compensate (``give`` to one
model, and ``split`` the donor's other group to win its loss back), but the pairs are too
many to simulate. They need not be: routing does not look at load, so groups evolve
independently and a layout's per-model good requests are, to a good approximation, the sum
of what each group contributes. Two moves that replace disjoint groups therefore change the
per-model counts by about the sum of their separate changes, which the search has already
simulated. :func:`compound_moves` ranks every disjoint pair by that prediction (under the
search's :class:`~placement.llm.score.Objective`) and returns the few best, to be simulated
like any other move. The prediction is approximate when the moves change a model's number
of replicas (its route shares move on the untouched groups too), which simulating the pair
corrects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from placement.llm.demand import ModelDemand, reweight
from placement.llm.layout import Slot
from placement.llm.moves import Move, apply_changes
from placement.llm.problem import LLMPlanProblem
from placement.llm.score import Objective, Score


def predicted(current: Score, one: Score, two: Score) -> Score:
    """The score of doing two independent moves, by adding their per-model changes.

    Parameters
    ----------
    current : Score
        The layout both moves start from.
    one, two : Score
        The two moves' simulated scores.

    Returns
    -------
    Score
        Per model ``one + two - current`` good requests, clipped to ``[0, total]``.

    Examples
    --------
    >>> cur = Score(good=10, requests=20, per_model={"a": (5, 10), "b": (5, 10)})
    >>> a = Score(good=11, requests=20, per_model={"a": (8, 10), "b": (3, 10)})
    >>> b = Score(good=12, requests=20, per_model={"a": (5, 10), "b": (7, 10)})
    >>> predicted(cur, a, b).per_model
    {'a': (8, 10), 'b': (5, 10)}
    """
    per_model = {}
    for m, (good, total) in current.per_model.items():
        gain = one.per_model.get(m, (good, total))[0] + two.per_model.get(m, (good, total))[0]
        per_model[m] = (min(total, max(0, gain - good)), total)
    return Score(good=sum(g for g, _ in per_model.values()), requests=current.requests,
                 per_model=per_model)


def compound_moves(problem: LLMPlanProblem, demands: Mapping[str, ModelDemand],
                   slots: list[Slot], current: Score, tried: Sequence[tuple[Move, Score]],
                   objective: Objective, *, width: int) -> list[Move]:
    """The ``width`` most promising joins of two simulated moves on disjoint groups.

    A pair qualifies when its moves replace disjoint groups, the joined layout still serves
    every model, and the predicted score (:func:`predicted`) beats the current layout and
    both moves alone under ``objective``.

    Parameters
    ----------
    problem : LLMPlanProblem
        The problem.
    demands : mapping of str to ModelDemand
        Per-model statistics (route weights of the joined layout).
    slots : list of Slot
        The layout the moves start from.
    current : Score
        Its score.
    tried : sequence of (Move, Score)
        Simulated moves of this step with their scores.
    objective : Objective
        The search's ranking.
    width : int
        Most compounds to return.

    Returns
    -------
    list of Move
        Kind ``"<kind1>+<kind2>"``, best predicted first (ties: the order tried).
    """
    names = set(problem.model_names)
    ranked = []
    for a in range(len(tried)):
        for b in range(a + 1, len(tried)):
            (one, s1), (two, s2) = tried[a], tried[b]
            if not one.changes or not two.changes or set(one.changes) & set(two.changes):
                continue
            guess = predicted(current, s1, s2)
            if not (objective.better(guess, current) and objective.better(guess, s1)
                    and objective.better(guess, s2)):
                continue
            ranked.append((objective.key(guess), -a, -b, a, b))
    ranked.sort(key=lambda t: t[:3], reverse=True)
    out: list[Move] = []
    for *_, a, b in ranked:
        if len(out) >= width:
            break
        one, two = tried[a][0], tried[b][0]
        changes = {**one.changes, **two.changes}
        layout = apply_changes(slots, changes)
        if {m for s in layout for m in s.models} != names:
            continue
        out.append(Move(kind=f"{one.kind}+{two.kind}",
                        layout=reweight(problem, layout, demands), changes=changes))
    return out
