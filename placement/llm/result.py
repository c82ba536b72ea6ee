"""The result of many-LLM planning: an :class:`LLMPlan` and its plan-file form.

The plan file records *how* the deployment was built, not its arrays: the groups (devices,
``tp × pp``, models, KV blocks, route weights, KV mode), the problem's settings and the cost
model's description (:meth:`~placement.llm.costs.LLMCostModel.to_dict`). :meth:`LLMPlan.from_dict`
rebuilds the same deployment from them, bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from alpaserve.errors import SpecError
from placement.llm.costs import LLMCostModel, costs_from_dict
from placement.llm.validate import check_layout, group_fields
from simulator.llm.config import EngineGroup, KVSharing, LLMDeployment, SchedulerConfig, ServedModel

FORMAT = "alpaserve-llm-plan/1"


@dataclass(frozen=True, kw_only=True)
class GroupPlan:
    """One group of a plan.

    Parameters
    ----------
    name : str
        The engine group's name.
    devices : tuple of int
        Device ids.
    tp, pp : int
        Tensor and pipeline degree.
    models : tuple of str
        Hosted models.
    kv_blocks : tuple of int
        Each model's KV budget, in blocks.
    route_weights : tuple of float
        Each model's route weight.
    kv_sharing : {"partitioned", "shared"}
        KV mode.
    cost_source : str
        Where the iteration costs come from (``IterationCost.source``; ``model=source``
        pairs joined by ``"; "`` when co-located models' sources differ).
    """

    name: str
    devices: tuple[int, ...]
    tp: int
    pp: int
    models: tuple[str, ...]
    kv_blocks: tuple[int, ...]
    route_weights: tuple[float, ...]
    kv_sharing: KVSharing
    cost_source: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields.

        Returns
        -------
        dict
            Every field, tuples as lists.
        """
        return {"name": self.name, "devices": list(self.devices), "tp": self.tp, "pp": self.pp,
                "models": list(self.models), "kv_blocks": list(self.kv_blocks),
                "route_weights": list(self.route_weights), "kv_sharing": self.kv_sharing,
                "cost_source": self.cost_source}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupPlan:
        """Rebuild from :meth:`to_dict`.

        Parameters
        ----------
        data : mapping
            The fields.

        Returns
        -------
        GroupPlan
            The group.

        Raises
        ------
        SpecError
            If a field is missing or malformed.
        """
        return cls(**group_fields(data, 0))


def cost_source(costs: LLMCostModel, models: tuple[str, ...], tp: int, pp: int) -> str:
    """Where a group's iteration costs come from, as :class:`GroupPlan` records it.

    Parameters
    ----------
    costs : LLMCostModel
        The cost model.
    models : tuple of str
        The group's models.
    tp, pp : int
        Its shape.

    Returns
    -------
    str
        The models' common ``IterationCost.source``, or ``model=source`` pairs joined by
        ``"; "`` when they differ.
    """
    sources = [costs.iteration_cost(m, tp, pp).source for m in models]
    if len(set(sources)) == 1:
        return sources[0]
    return "; ".join(f"{m}={s}" for m, s in zip(models, sources, strict=True))


def build_deployment(groups: tuple[GroupPlan, ...], costs: LLMCostModel,
                     scheduler: SchedulerConfig) -> LLMDeployment:
    """The engine deployment of ``groups`` with costs from ``costs``.

    Parameters
    ----------
    groups : tuple of GroupPlan
        The plan's groups.
    costs : LLMCostModel
        Builds each model's iteration cost on its group's shape.
    scheduler : SchedulerConfig
        Every group's scheduler.

    Returns
    -------
    LLMDeployment
        The deployment.
    """
    engine_groups = []
    for g in groups:
        served = tuple(ServedModel(model=m, cost=costs.iteration_cost(m, g.tp, g.pp),
                                   kv_blocks=b, route_weight=w)
                       for m, b, w in zip(g.models, g.kv_blocks, g.route_weights, strict=True))
        engine_groups.append(EngineGroup(name=g.name, num_devices=len(g.devices),
                                         models=served, scheduler=scheduler,
                                         kv_sharing=g.kv_sharing))
    return LLMDeployment(groups=tuple(engine_groups))


@dataclass(frozen=True, kw_only=True)
class LLMPlan:
    """A many-LLM deployment, how it was found and how it scored on the training workload.

    Parameters
    ----------
    deployment : LLMDeployment
        What the engine runs.
    groups : tuple of GroupPlan
        The groups' description (same order and names as the deployment's).
    method : str
        ``"search"``, ``"dedicated"`` or ``"muxserve"``.
    settings : dict
        The problem's settings (:meth:`LLMPlanProblem.describe`).
    costs : dict
        The cost model's description (:meth:`LLMCostModel.to_dict`).
    train_good : int
        Training requests meeting both SLOs (-1 when not simulated).
    train_requests : int
        Training requests simulated (0 when not simulated).
    train_per_model : dict of str to (int, int)
        Good and total training requests per model.
    simulations : int
        Engine runs during planning.
    candidates : int
        Layouts considered (estimated or simulated).
    wall_s : float
        Planning wall time, seconds.
    notes : tuple of str
        What the planner reports (unused devices, subsampling, ...).
    """

    deployment: LLMDeployment
    groups: tuple[GroupPlan, ...]
    method: str
    settings: dict[str, Any]
    costs: dict[str, Any]
    train_good: int = -1
    train_requests: int = 0
    train_per_model: dict[str, tuple[int, int]] = field(default_factory=dict)
    simulations: int = 0
    candidates: int = 0
    wall_s: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def train_goodput(self) -> float:
        """Fraction of training requests meeting both SLOs (NaN when not simulated)."""
        return self.train_good / self.train_requests if self.train_requests else float("nan")

    @property
    def ttft_slo(self) -> dict[str, float]:
        """Per-model TTFT SLO, seconds."""
        return dict(self.settings["ttft_slo"])

    @property
    def tpot_slo(self) -> dict[str, float]:
        """Per-model TPOT SLO, seconds."""
        return dict(self.settings["tpot_slo"])

    @property
    def num_devices(self) -> int:
        """Devices the plan uses."""
        return sum(len(g.devices) for g in self.groups)

    def explain(self) -> str:
        """A readable summary: groups, models, KV budgets and the training score.

        Returns
        -------
        str
            Several lines of text.
        """
        lines = [f"LLM plan ({self.method}): {len(self.groups)} groups on {self.num_devices} "
                 f"of {self.settings.get('num_devices', '?')} devices"]
        for g in self.groups:
            models = ", ".join(f"{m} ({b} blocks, w={w:g})" for m, b, w in
                               zip(g.models, g.kv_blocks, g.route_weights, strict=True))
            lines.append(f"  {g.name}: devices {g.devices[0]}-{g.devices[-1]} tp={g.tp} "
                         f"pp={g.pp} {g.kv_sharing} [{g.cost_source}]: {models}")
        if self.train_requests:
            lines.append(f"training goodput {self.train_goodput:.4f} "
                         f"({self.train_good}/{self.train_requests})")
            for m, (good, total) in self.train_per_model.items():
                share = good / total if total else float("nan")
                lines.append(f"  {m}: {share:.4f} ({good}/{total})")
        lines.append(f"{self.simulations} simulations, {self.candidates} candidates, "
                     f"{self.wall_s:.2f} s")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The plan file's content (strict JSON once through :func:`alpaserve.strict_json.strict`).

        Returns
        -------
        dict
            ``format``, ``method``, ``groups``, ``settings``, ``costs`` and the statistics.
        """
        return {"format": FORMAT, "method": self.method,
                "groups": [g.to_dict() for g in self.groups],
                "settings": self.settings, "costs": self.costs,
                "train": {"good": self.train_good, "requests": self.train_requests,
                          "per_model": {m: list(v) for m, v in self.train_per_model.items()}},
                "search": {"simulations": self.simulations, "candidates": self.candidates,
                           "wall_s": self.wall_s},
                "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, costs: LLMCostModel | None = None) -> LLMPlan:
        """Rebuild a plan, and its deployment, from :meth:`to_dict`.

        Parameters
        ----------
        data : mapping
            The plan file's content.
        costs : LLMCostModel, optional
            The cost model to build iteration costs with; by default the one the file
            describes.

        Returns
        -------
        LLMPlan
            The same plan; its deployment equals the original's.

        Raises
        ------
        SpecError
            If the format is unknown or a field is missing or malformed.
        """
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            got = data.get("format") if isinstance(data, Mapping) else data
            raise SpecError(f"not an LLM plan: format {got!r}, expected {FORMAT!r}")
        raw_groups = data.get("groups")
        if not isinstance(raw_groups, list):
            raise SpecError(f"'groups' must be a list, got {type(raw_groups).__name__}")
        groups = tuple(GroupPlan(**group_fields(g, k)) for k, g in enumerate(raw_groups))
        if not isinstance(data.get("settings"), Mapping):
            raise SpecError("'settings' must be an object")
        check_layout(groups, data["settings"])
        try:
            settings = dict(data["settings"])
            scheduler = SchedulerConfig(**settings["scheduler"])
            model = costs if costs is not None else costs_from_dict(data["costs"])
            for g in groups:  # the file's cost sources must be what its cost model builds
                source = cost_source(model, g.models, g.tp, g.pp)
                if source != g.cost_source:
                    raise SpecError(f"group {g.name!r} says its costs come from "
                                    f"{g.cost_source!r}, but the plan's cost model gives "
                                    f"{source!r}")
            train = data.get("train", {})
            search = data.get("search", {})
            return cls(deployment=build_deployment(groups, model, scheduler), groups=groups,
                       method=str(data["method"]), settings=settings,
                       costs=dict(data["costs"]),
                       train_good=int(train.get("good", -1)),
                       train_requests=int(train.get("requests", 0)),
                       train_per_model={m: (int(v[0]), int(v[1]))
                                        for m, v in train.get("per_model", {}).items()},
                       simulations=int(search.get("simulations", 0)),
                       candidates=int(search.get("candidates", 0)),
                       wall_s=float(search.get("wall_s") or 0.0),
                       notes=tuple(str(n) for n in data.get("notes", ())))
        except (KeyError, TypeError, ValueError) as exc:
            raise SpecError(f"malformed LLM plan: {exc!r}") from None


def plan_from_slots(slots: Any, *, problem: Any, method: str, train: Any = None,
                    simulations: int = 0, candidates: int = 0, wall_s: float = 0.0,
                    notes: tuple[str, ...] = ()) -> LLMPlan:
    """An :class:`LLMPlan` of a layout's non-empty groups, named ``g0, g1, ...``.

    Parameters
    ----------
    slots : sequence of placement.llm.layout.Slot
        The layout.
    problem : LLMPlanProblem
        The problem (settings, costs, scheduler).
    method : str
        The method's name.
    train : placement.llm.score.Score, optional
        Its training score.
    simulations, candidates : int, default 0
        Search statistics.
    wall_s : float, default 0
        Planning time.
    notes : tuple of str, default ()
        Notes to carry.

    Returns
    -------
    LLMPlan
        The plan and its deployment.

    Raises
    ------
    SpecError
        If no slot hosts a model.
    """
    costs = problem.cost_model
    groups: list[GroupPlan] = []
    for slot in slots:
        if not slot.models:
            continue
        source = cost_source(costs, tuple(slot.models), slot.tp, slot.pp)
        groups.append(GroupPlan(name=f"g{len(groups)}", devices=tuple(slot.devices),
                                tp=slot.tp, pp=slot.pp, models=tuple(slot.models),
                                kv_blocks=tuple(slot.kv_blocks),
                                route_weights=tuple(slot.weights), kv_sharing=slot.kv_sharing,
                                cost_source=source))
    if not groups:
        raise SpecError("the layout hosts no model")
    unused = problem.num_devices - sum(len(g.devices) for g in groups)
    if unused:
        notes = (*notes, f"{unused} devices unused")
    kwargs: dict[str, Any] = {}
    if train is not None:
        kwargs = {"train_good": train.good, "train_requests": train.requests,
                  "train_per_model": dict(train.per_model)}
    return LLMPlan(deployment=build_deployment(tuple(groups), costs, problem.scheduler),
                   groups=tuple(groups), method=method, settings=problem.describe(),
                   costs=costs.to_dict(), simulations=simulations, candidates=candidates,
                   wall_s=wall_s, notes=notes, **kwargs)
