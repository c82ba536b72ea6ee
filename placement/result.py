""":class:`PlanResult`: a plan, its held-out simulation, the search log and an explanation."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alpaserve.placement_spec import Placement
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

    ``placement`` is the plan (for Clockwork++ the first window's; the whole time-varying
    plan is ``schedule``). ``test_result`` simulates it on the held-out test workload
    (``test_source`` says which). ``search_log`` lists every candidate scored on the
    training workload. ``slo_warnings`` names the models whose SLO no config can meet.
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
        """The best-scoring logged candidates, best first (one per layout and phase)."""
        ranked = sorted(self.search_log, key=lambda e: (-e.attainment
                                                        if not math.isnan(e.attainment)
                                                        else 0.0, e.bucket, e.layout, e.phase))
        return ranked[:limit]

    def explain(self, *, runners_up: int = 5) -> str:
        """A readable account of the plan: groups, configs, sharing, per-model attainment."""
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
        return json.dumps(self.to_dict(), indent=indent, default=float)
