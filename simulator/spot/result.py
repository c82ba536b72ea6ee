"""The outcome of a spot-fleet simulation: latency, SLO, work lost, migrations and dollars."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class ReconfigRecord:
    """One applied reconfiguration."""

    time: float
    reasons: tuple[str, ...]
    config: str
    moved_bytes: float
    transfer_time: float
    note: str


@dataclass(frozen=True, eq=False, kw_only=True)
class SpotResult:
    """Metrics of one run. Every request is ``finished``, ``dropped`` or ``in_flight``.

    Latencies are over finished requests (NaN when none). ``slo_attainment`` is the share of
    *all* requests that finished within their SLO (NaN without an SLO). ``lost_tokens`` are
    decoded tokens thrown away by restarts; ``recomputed_tokens`` are context tokens
    prefilled again because a KV cache was lost. Costs are dollars of node-hours held.
    """

    policy: str
    num_requests: int
    finished: int
    dropped: int
    in_flight: int
    latency_mean: float
    latency_p50: float
    latency_p90: float
    latency_p99: float
    slo_attainment: float
    tokens_served: int
    prompt_tokens_served: int
    requests_restarted: int
    restarts: int
    lost_tokens: int
    recomputed_tokens: int
    migrations: int
    moved_bytes: float
    migration_time: float
    cost_spot: float
    cost_on_demand: float
    end_time: float
    arrival: FloatArray = field(repr=False)
    finish: FloatArray = field(repr=False)
    reconfigurations: tuple[ReconfigRecord, ...] = field(repr=False, default=())

    @property
    def cost(self) -> float:
        return self.cost_spot + self.cost_on_demand

    @property
    def cost_per_1k_tokens(self) -> float:
        """Dollars per thousand generated tokens served (NaN if none)."""
        return self.cost / (self.tokens_served / 1000) if self.tokens_served else float("nan")

    @property
    def latency(self) -> FloatArray:
        """Per-request latency (NaN for requests that did not finish)."""
        return self.finish - self.arrival

    def to_dict(self) -> dict[str, Any]:
        """Scalar metrics, JSON-friendly."""
        out = {k: getattr(self, k) for k in (
            "policy", "num_requests", "finished", "dropped", "in_flight", "latency_mean",
            "latency_p50", "latency_p90", "latency_p99", "slo_attainment", "tokens_served",
            "prompt_tokens_served", "requests_restarted", "restarts", "lost_tokens",
            "recomputed_tokens", "migrations", "moved_bytes", "migration_time", "cost_spot",
            "cost_on_demand", "end_time")}
        out["cost"] = self.cost
        out["cost_per_1k_tokens"] = self.cost_per_1k_tokens
        return out


def latency_stats(latency: FloatArray) -> tuple[float, float, float, float]:
    """Mean, p50, p90 and p99 of the finite entries (NaN when there are none).

    Examples
    --------
    >>> latency_stats(np.array([1.0, 2.0, np.nan, 3.0]))[:2]
    (2.0, 2.0)
    """
    done = latency[np.isfinite(latency)]
    if done.size == 0:
        nan = float("nan")
        return nan, nan, nan, nan
    p50, p90, p99 = np.percentile(done, [50, 90, 99])
    return float(done.mean()), float(p50), float(p90), float(p99)
