"""Neighbouring layouts for the local search of :func:`placement.llm.plan_llm`.

Each move changes one or two groups of a layout and keeps every model served, every group
node-aligned and within memory (KV budgets are recomputed by :func:`.layout.fill_slot`):

* ``give``: a group of the models that miss least is handed (whole, or half of it) to a
  model that misses most, as a new replica;
* ``split``: a group becomes its two halves, each hosting the same models (more replicas at
  a smaller tensor degree) or half of them each;
* ``merge``: two buddy groups (aligned halves of a larger one) become one, hosting both
  groups' models at the larger shape (lower latency per token, one KV pool);
* ``reshape``: a group keeps its devices and models at another ``tp × pp`` shape (e.g. a
  pipeline for a 70B model);
* ``colocate``: a model that misses adds a replica on a group it does not use;
* ``evict``: a co-located neighbour of a missing model moves to another group, or drops
  this replica when it has others;
* ``kv``: a group with several models flips its KV mode;
* ``swap``: a group of a missing model and a group of another size (or shape) exchange
  their models, each at the shape that fits it best.

Every move records the groups it replaced (``Move.changes``), so the search can join two
moves on disjoint groups into one compound step (:mod:`.compound`).

Moves are generated for the ``width`` models that miss most requests and ranked cheapest
first; the search simulates them, so the estimate only orders them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from placement.llm.demand import ModelDemand, reweight, route_shares, slot_utilisation
from placement.llm.layout import Slot, fill_slot
from placement.llm.problem import LLMPlanProblem
from placement.llm.score import Score
from simulator.llm.config import KVSharing

Layout = list[Slot]


@dataclass(frozen=True, kw_only=True)
class Move:
    """One neighbouring layout and how it was reached.

    Parameters
    ----------
    kind : str
        ``"give"``, ``"split"``, ``"merge"``, ``"reshape"``, ``"colocate"``, ``"evict"``,
        ``"kv"``, ``"swap"``, or ``"a+b"`` for a compound of two moves.
    layout : list of Slot
        The layout after the move (route weights set).
    changes : dict of int to tuple of Slot, optional
        Index of each replaced group of the layout the move started from, and the groups
        (zero, one or two) that replace it.
    """

    kind: str
    layout: Layout
    changes: Mapping[int, tuple[Slot, ...]] = field(default_factory=dict)


def shaped(problem: LLMPlanProblem, devices: tuple[int, ...], models: Sequence[str],
           loads: Mapping[str, float], *, kv_sharing: KVSharing,
           skip: tuple[int, int] | None = None) -> Slot | None:
    """``models`` on ``devices`` at the most tensor-parallel shape that fits them.

    Parameters
    ----------
    problem : LLMPlanProblem
        Shapes and memory.
    devices : tuple of int
        The group's devices.
    models : sequence of str
        Models to host.
    loads : mapping of str to float
        Loads for the KV split.
    kv_sharing : {"partitioned", "shared"}
        The group's KV mode.
    skip : (int, int), optional
        A shape not to use (the current one, for a reshape).

    Returns
    -------
    Slot or None
        The filled group, or None when no shape fits.
    """
    for tp, pp in problem.group_shapes(len(devices)):
        if (tp, pp) == skip:
            continue
        slot = fill_slot(problem, Slot(devices=devices, tp=tp, pp=pp, kv_sharing=kv_sharing),
                         list(models), loads)
        if slot is not None:
            return slot
    return None


def _replicas(slots: Layout) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in slots:
        for m in s.models:
            out[m] = out.get(m, 0) + 1
    return out


def apply_changes(slots: Layout, changes: Mapping[int, Sequence[Slot]]) -> Layout:
    """``slots`` with group ``i`` replaced by ``changes[i]`` (zero, one or two groups).

    Parameters
    ----------
    slots : list of Slot
        A layout.
    changes : mapping of int to sequence of Slot
        Replacements by group index.

    Returns
    -------
    list of Slot
        The new layout (route weights as given).
    """
    out: Layout = []
    for i, s in enumerate(slots):
        out.extend(changes.get(i, (s,)))
    return out


def _mv(kind: str, slots: Layout, changes: Mapping[int, Sequence[Slot]]) -> Move:
    frozen = {i: tuple(v) for i, v in changes.items()}
    return Move(kind=kind, layout=apply_changes(slots, frozen), changes=frozen)


class MoveGenerator:
    """Builds the neighbours of a layout for the models that miss most.

    Parameters
    ----------
    problem : LLMPlanProblem
        The problem.
    demands : mapping of str to ModelDemand
        Per-model statistics of the training workload.
    """

    def __init__(self, problem: LLMPlanProblem, demands: Mapping[str, ModelDemand]) -> None:
        self.problem = problem
        self.demands = demands
        self.loads = {m: d.token_rate for m, d in demands.items()}

    def _fill(self, devices: tuple[int, ...], models: Sequence[str], mode: KVSharing,
              skip: tuple[int, int] | None = None) -> Slot | None:
        return shaped(self.problem, devices, models, self.loads, kv_sharing=mode, skip=skip)

    def neighbours(self, slots: Layout, score: Score, width: int) -> list[Move]:
        """Moves that may help the ``width`` models missing most requests.

        Parameters
        ----------
        slots : list of Slot
            The current layout.
        score : Score
            Its training score (per-model misses).
        width : int
            How many of the worst models to help.

        Returns
        -------
        list of Move
            Distinct neighbours, in a deterministic order.
        """
        names = self.problem.model_names
        worst = [m for m in sorted(names, key=lambda m: (-score.missed(m), names.index(m)))
                 if score.missed(m) > 0][:width]
        lists: list[list[Move]] = []
        for m in worst:
            lists += [self._give(slots, score, m), self._split(slots, m),
                      self._merge(slots, m), self._reshape(slots, m),
                      self._colocate(slots, m), self._evict(slots, m),
                      self._swap(slots, score, m)]
        lists.append(self._kv(slots))
        # Round robin over (model, kind) so a capped step still sees every kind of move.
        moves = [lst[k] for k in range(max(map(len, lists), default=0)) for lst in lists
                 if k < len(lst)]
        seen: set[tuple[tuple[object, ...], ...]] = set()
        out = []
        for mv in moves:
            key = tuple(sorted((s.devices, s.tp, s.pp, s.models, s.kv_sharing)
                               for s in mv.layout))
            if key not in seen:
                seen.add(key)
                out.append(replace(mv, layout=reweight(self.problem, mv.layout, self.demands)))
        return out

    def _donors(self, slots: Layout, score: Score, m: str) -> list[int]:
        """Groups without ``m``, those of the models missing least first."""

        def miss(x: str) -> float:
            _, total = score.per_model.get(x, (0, 0))
            return score.missed(x) / total if total else 0.0

        ranked = [(max(miss(x) for x in s.models), -s.size, i) for i, s in enumerate(slots)
                  if m not in s.models]
        return [i for _, _, i in sorted(ranked)]

    def _give(self, slots: Layout, score: Score, m: str) -> list[Move]:
        count = _replicas(slots)
        out = []
        for i in self._donors(slots, score, m)[:3]:
            s = slots[i]
            # The whole group only when its models keep a replica elsewhere.
            whole = self._fill(s.devices, [m], s.kv_sharing) if all(
                count[x] > 1 for x in s.models) else None
            if whole is not None:
                out.append(_mv("give", slots, {i: [whole]}))
            half = s.size // 2
            if half and half in self.problem.group_sizes():
                keep = self._fill(s.devices[:half], s.models, s.kv_sharing)
                take = self._fill(s.devices[half:], [m], s.kv_sharing)
                if keep is not None and take is not None:
                    out.append(_mv("give", slots, {i: [keep, take]}))
        return out

    def _halves(self, s: Slot) -> list[tuple[Slot, Slot]]:
        half = s.size // 2
        if not half or half not in self.problem.group_sizes():
            return []
        a, b = s.devices[:half], s.devices[half:]
        out = []
        same = (self._fill(a, s.models, s.kv_sharing), self._fill(b, s.models, s.kv_sharing))
        if same[0] is not None and same[1] is not None:
            out.append((same[0], same[1]))
        if len(s.models) > 1:  # models dealt by load, heaviest first, to the lighter half
            load = {m: self.demands[m].rate * self.demands[m].mean_output for m in s.models}
            parts: tuple[list[str], list[str]] = ([], [])
            for m in sorted(s.models, key=lambda m: (-load[m], s.models.index(m))):
                side = min((0, 1), key=lambda k: (sum(load[x] for x in parts[k]), k))
                parts[side].append(m)
            one = self._fill(a, parts[0], s.kv_sharing)
            two = self._fill(b, parts[1], s.kv_sharing)
            if one is not None and two is not None:
                out.append((one, two))
        return out

    def _split(self, slots: Layout, m: str) -> list[Move]:
        out = []
        for i, s in enumerate(slots):
            if m in s.models:
                out += [_mv("split", slots, {i: list(pair)})
                        for pair in self._halves(s)]
        return out

    def _buddy(self, slots: Layout, i: int) -> int | None:
        s = slots[i]
        size = 2 * s.size
        if size not in self.problem.group_sizes():
            return None
        start = s.devices[0] - s.devices[0] % size
        for j, t in enumerate(slots):
            if j != i and t.size == s.size and {t.devices[0], s.devices[0]} == {
                    start, start + s.size}:
                return j
        return None

    def _merge(self, slots: Layout, m: str) -> list[Move]:
        out = []
        for i, s in enumerate(slots):
            j = self._buddy(slots, i) if m in s.models else None
            if j is None:
                continue
            t = slots[j]
            models = list(dict.fromkeys((*s.models, *t.models)))
            devices = tuple(sorted((*s.devices, *t.devices)))
            mode: KVSharing = s.kv_sharing if len(models) == 1 or s.kv_sharing == "shared" \
                else t.kv_sharing
            merged = self._fill(devices, models, mode)
            if merged is not None:
                out.append(_mv("merge", slots, {i: [merged], j: []}))
        return out

    def _reshape(self, slots: Layout, m: str) -> list[Move]:
        out = []
        for i, s in enumerate(slots):
            if m not in s.models:
                continue
            for tp, pp in self.problem.group_shapes(s.size):
                if (tp, pp) == (s.tp, s.pp):
                    continue
                other = fill_slot(self.problem, replace(s, tp=tp, pp=pp), s.models, self.loads)
                if other is not None:
                    out.append(_mv("reshape", slots, {i: [other]}))
        return out

    def _colocate(self, slots: Layout, m: str) -> list[Move]:
        shares = route_shares(slots)
        util = [slot_utilisation(self.problem, s, self.demands, shares) / s.size
                for s in slots]
        adds = []
        for i, s in enumerate(slots):
            if m in s.models:
                continue
            filled = fill_slot(self.problem, s, [*s.models, m], self.loads)
            if filled is not None:
                adds.append((util[i], i, filled))
        return [_mv("colocate", slots, {i: [f]})
                for _, i, f in sorted(adds, key=lambda t: t[:2])[:2]]

    def _evict(self, slots: Layout, m: str) -> list[Move]:
        shares = route_shares(slots)
        util = [slot_utilisation(self.problem, s, self.demands, shares) / s.size
                for s in slots]
        count = _replicas(slots)
        out = []
        for i, s in enumerate(slots):
            if m not in s.models or len(s.models) < 2:
                continue
            for other in s.models:
                if other == m:
                    continue
                left = fill_slot(self.problem, s, [x for x in s.models if x != other],
                                 self.loads)
                if left is None:
                    continue
                homes = sorted((util[j], j) for j, t in enumerate(slots)
                               if j != i and other not in t.models)
                for _, j in homes[:1]:
                    moved = fill_slot(self.problem, slots[j], [*slots[j].models, other],
                                      self.loads)
                    if moved is not None:
                        out.append(_mv("evict", slots, {i: [left], j: [moved]}))
                if count[other] > 1:
                    out.append(_mv("evict", slots, {i: [left]}))
        return out

    def _swap(self, slots: Layout, score: Score, m: str) -> list[Move]:
        """``m``'s group and a group of another size (models missing least first) trade."""
        out = []
        donors = self._donors(slots, score, m)
        for i, s in enumerate(slots):
            if m not in s.models:
                continue
            for j in donors:
                t = slots[j]
                if t.size == s.size or set(s.models) & set(t.models):
                    continue
                here = self._fill(s.devices, t.models, t.kv_sharing)
                there = self._fill(t.devices, s.models, s.kv_sharing)
                if here is not None and there is not None:
                    out.append(_mv("swap", slots, {i: [here], j: [there]}))
                if len(out) >= 3:
                    return out
        return out

    def _kv(self, slots: Layout) -> list[Move]:
        if len(self.problem.kv_sharing) < 2:
            return []
        out = []
        for i, s in enumerate(slots):
            if len(s.models) > 1:
                flip: KVSharing = "shared" if s.kv_sharing == "partitioned" else "partitioned"
                out.append(_mv("kv", slots, {i: [replace(s, kv_sharing=flip)]}))
        return out
