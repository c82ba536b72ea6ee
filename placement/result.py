""":class:`PlanResult`: a plan, its held-out simulation, the search log and an explanation."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alpaserve.placement_spec import Placement
from alpaserve.plan_file import PlanFile
from placement.alpaserve_search import LogEntry
from simulator.result import SimResult
from simulator.schedule import PlacementSchedule


def _ranges(ids: tuple[int, ...]) -> str:
    if not ids:
        return "-"
    parts, start, prev = [], ids[0], ids[0]
    for d in [*ids[1:], None]:
        if d is not None and d == prev + 1:
            prev = d
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if d is not None:
            start = prev = d
    return ",".join(parts)


def _names(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... (+{len(names) - limit})" if len(names) > limit else "")


@dataclass(frozen=True, kw_only=True, eq=False)
class PlanResult:
    """The outcome of :func:`placement.plan`.

    Parameters
    ----------
    policy : str
        The policy that planned.
    placement : Placement
        The plan (for Clockwork++ the first window's).
    schedule : PlacementSchedule or None
        The whole time-varying plan of Clockwork++; None for the other policies.
    test_result : SimResult
        The plan simulated on the held-out test workload.
    train_attainment : float
        Attainment the search reached on the training workload, in ``[0, 1]``.
    slo : Mapping[str, float]
        SLO in seconds per model.
    slo_warnings : Mapping[str, str]
        The models whose SLO no config can meet, with a message each.
    search_log : tuple of LogEntry
        Every candidate scored on the training workload.
    wall_time : float
        Seconds :func:`placement.plan` took, test simulation included.
    seed : int
        The seed the plan was made with.
    test_source : str
        Which requests ``test_result`` ran on, in words.

    Examples
    --------
    >>> from placement import plan
    >>> from placement._examples import tiny_cluster, tiny_model, tiny_profiles
    >>> from workloads.mixes import MixSpec
    >>> models = [tiny_model("a"), tiny_model("b")]
    >>> result = plan(models, tiny_cluster(2), MixSpec(model_names=("a", "b"), total_rate=8.0),
    ...               slo=0.3, duration=20.0, profiles=tiny_profiles(models), policy="sr")
    >>> result.attainment == result.test_result.attainment, result.schedule is None
    (True, True)
    """

    policy: str
    placement: Placement
    schedule: PlacementSchedule | None
    test_result: SimResult
    train_attainment: float
    slo: Mapping[str, float]
    slo_warnings: Mapping[str, str]
    search_log: tuple[LogEntry, ...]
    wall_time: float
    seed: int
    test_source: str

    @property
    def attainment(self) -> float:
        """SLO attainment on the held-out test workload."""
        return self.test_result.attainment

    def runners_up(self, limit: int = 5) -> list[LogEntry]:
        """The best-scoring logged candidates, best first (one per layout and phase).

        Parameters
        ----------
        limit : int, default 5
            Most entries returned.

        Returns
        -------
        list of LogEntry
            By training attainment, then bucket, layout and phase.

        Examples
        --------
        >>> from placement import plan
        >>> from placement._examples import tiny_cluster, tiny_model, tiny_profiles
        >>> from workloads.mixes import MixSpec
        >>> models = [tiny_model("a"), tiny_model("b")]
        >>> result = plan(models, tiny_cluster(2), MixSpec(model_names=("a", "b"), total_rate=8.0),
        ...               slo=0.3, duration=20.0, profiles=tiny_profiles(models), policy="sr")
        >>> [(e.layout, e.phase) for e in result.runners_up()]
        [('2x1 pp1-tp1', 'sr')]
        """
        ranked = sorted(self.search_log, key=lambda e: (-e.attainment
                                                        if not math.isnan(e.attainment)
                                                        else 0.0, e.bucket, e.layout, e.phase))
        return ranked[:limit]

    def explain(self, *, runners_up: int = 5) -> str:
        """A readable account of the plan: groups, configs, sharing, per-model attainment.

        Parameters
        ----------
        runners_up : int, default 5
            Best logged candidates listed at the end.

        Returns
        -------
        str
            Several lines of text, no trailing newline.

        Examples
        --------
        >>> from placement import plan
        >>> from placement._examples import tiny_cluster, tiny_model, tiny_profiles
        >>> from workloads.mixes import MixSpec
        >>> models = [tiny_model("a"), tiny_model("b")]
        >>> result = plan(models, tiny_cluster(2), MixSpec(model_names=("a", "b"), total_rate=8.0),
        ...               slo=0.3, duration=20.0, profiles=tiny_profiles(models), policy="sr")
        >>> print(result.explain().splitlines()[3])
        groups:
        """
        p = self.placement
        c = p.cluster
        r = self.test_result
        lines = [
            f"policy {self.policy}: {c.num_devices} devices ({c.num_nodes} node(s) x "
            f"{c.devices_per_node} {c.device.name}), {len(p.models)} models; "
            f"planned in {self.wall_time:.2f} s",
            f"SLO attainment {r.attainment:.4f} on {r.num_requests} held-out requests "
            f"({self.test_source}); {self.train_attainment:.4f} on the training workload",
            f"served {r.num_served}, dropped {r.num_dropped}, unserved {r.num_unserved}",
        ]
        if self.schedule is not None:
            lines.append(f"time-varying plan: {len(self.schedule.windows)} windows starting "
                         f"at {', '.join(f'{t:.0f}s' for t in self.schedule.starts[:6])}"
                         + (" ..." if len(self.schedule.windows) > 6 else "")
                         + "; the groups below are the first window's")
        lines.append("groups:")
        sources: set[str] = set()
        for g in p.groups:
            keys = sorted({cfg.key for cfg in g.models.values()})
            shape = f"{g.num_stages} stage(s) x {g.stage_meshes[0].size} device(s)"
            used, by_model = p.stage_memory(g)
            sources.update(by_model.values())
            lines.append(f"  {g.name:<5} devices {_ranges(g.device_ids):<9} {shape:<24} "
                         f"configs {','.join(keys) or '-':<10} "
                         f"weights {max(used, default=0) / 2**30:.2f} GiB/device; "
                         f"hosts {len(g.models)}: {_names(sorted(g.models))}")
        lines.append(f"memory: weights from {', '.join(sorted(sources)) or 'no model'}; "
                     f"budget {c.device.usable_memory_bytes / 2**30:.2f} GiB per device")
        sharing: dict[tuple[str, ...], list[str]] = {}
        for g in p.groups:
            if len(g.models) > 1:
                sharing.setdefault(tuple(sorted(g.models)), []).append(g.name)
        if sharing:
            lines.append("models sharing a group:")
            for models, groups in sharing.items():
                lines.append(f"  {_names(list(models))} share {', '.join(groups)}")
        lines.append("per-model attainment on the test workload (replicas):")
        for name in p.models:
            att = r.attainment_per_model.get(name, math.nan)
            reps = [g.name for g in p.groups_hosting(name)]
            warn = "  <- SLO below fastest latency" if name in self.slo_warnings else ""
            lines.append(f"  {name:<16} {att:7.4f}  {r.requests_per_model.get(name, 0):6d} req  "
                         f"slo {self.slo[name] * 1e3:7.1f} ms  {len(reps)}: "
                         f"{_names(reps, 6)}{warn}")
        for text in self.slo_warnings.values():
            lines.append(f"warning: {text}")
        if self.search_log:
            lines.append(f"candidates scored: {len(self.search_log)}; best on training (ties "
                         "go to the plan that does best under 1.5x the load):")
            for e in self.runners_up(runners_up):
                lines.append(f"  {e.attainment:.4f}  {e.bucket:<22} {e.layout:<16} {e.phase}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data (the per-request arrays are left out).

        Returns
        -------
        dict
            Policy, seed, wall time, test statistics, SLOs and warnings, the placement and
            schedule as :meth:`Placement.to_dict <alpaserve.placement_spec.Placement.to_dict>`
            gives them, and the search log.

        Examples
        --------
        >>> from placement import plan
        >>> from placement._examples import tiny_cluster, tiny_model, tiny_profiles
        >>> from workloads.mixes import MixSpec
        >>> models = [tiny_model("a"), tiny_model("b")]
        >>> result = plan(models, tiny_cluster(2), MixSpec(model_names=("a", "b"), total_rate=8.0),
        ...               slo=0.3, duration=20.0, profiles=tiny_profiles(models), policy="sr")
        >>> d = result.to_dict()
        >>> d["policy"], d["schedule"], d["num_requests"] == result.test_result.num_requests
        ('sr', None, True)
        """
        r = self.test_result
        return {
            "policy": self.policy,
            "seed": self.seed,
            "wall_time": self.wall_time,
            "test_source": self.test_source,
            "attainment": r.attainment,
            "train_attainment": self.train_attainment,
            "attainment_per_model": dict(r.attainment_per_model),
            "num_requests": r.num_requests,
            "num_served": r.num_served,
            "num_dropped": r.num_dropped,
            "num_unserved": r.num_unserved,
            "slo": dict(self.slo),
            "slo_warnings": dict(self.slo_warnings),
            "placement": self.placement.to_dict(),
            "schedule": None if self.schedule is None else [
                {"start": t, "placement": pl.to_dict()} for t, pl in self.schedule.windows],
            "search_log": [{**e.__dict__, "attainment": e.attainment}
                           for e in self.search_log],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text.

        Parameters
        ----------
        indent : int or None, default 2
            Indentation, as :func:`json.dumps` takes it; None for one line.

        Returns
        -------
        str
            The JSON text (NaN statistics are written as ``NaN``).

        Examples
        --------
        >>> from placement import plan
        >>> from placement._examples import tiny_cluster, tiny_model, tiny_profiles
        >>> from workloads.mixes import MixSpec
        >>> models = [tiny_model("a"), tiny_model("b")]
        >>> result = plan(models, tiny_cluster(2), MixSpec(model_names=("a", "b"), total_rate=8.0),
        ...               slo=0.3, duration=20.0, profiles=tiny_profiles(models), policy="sr")
        >>> json.loads(result.to_json(indent=None))["slo"]
        {'a': 0.3, 'b': 0.3}
        """
        return json.dumps(self.to_dict(), indent=indent, default=float)

    def to_plan_file(self, *, workload: Mapping[str, Any] | None = None,
                     profiles: Mapping[str, Any] | None = None) -> PlanFile:
        """The plan file of this plan: ``save`` it, read it back with ``load_plan_file``.

        Parameters
        ----------
        workload
            The workload spec it was planned for (see :mod:`alpaserve.plan_file`), if any.
        profiles
            Where the profiles came from, e.g. ``{"source": "analytic"}``.

        Returns
        -------
        PlanFile
            The placement, SLOs, workload and profiles, with this result as its summary
            (``models_without_replica`` included).

        Examples
        --------
        >>> from placement._examples import tiny_model, tiny_cluster, tiny_profiles
        >>> from placement import plan
        >>> from workloads.mixes import MixSpec
        >>> models = [tiny_model("a"), tiny_model("b")]
        >>> mix = MixSpec(model_names=("a", "b"), total_rate=4.0, cv=1.0)
        >>> result = plan(models, tiny_cluster(2), mix, slo=0.3, duration=10.0,
        ...               profiles=tiny_profiles(models), policy="sr")
        >>> pf = result.to_plan_file(workload={"kind": "mix", "rate": 4.0})
        >>> pf.summary["policy"], pf.summary["models_without_replica"]
        ('sr', [])
        """
        p = self.placement
        summary = {**self.to_dict(),
                   "models_without_replica": sorted(set(p.models) - p.hosted_models)}
        return PlanFile(placement=p, slo=dict(self.slo), workload=workload,
                        profiles=profiles, summary=summary)
