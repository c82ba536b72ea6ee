"""Spot run metrics."""

from __future__ import annotations

import math

import numpy as np

from simulator.spot.result import SpotResult, latency_stats


def test_latency_stats_and_costs() -> None:
    mean, p50, _p90, p99 = latency_stats(np.array([1.0, 3.0, np.nan]))
    assert (mean, p50) == (2.0, 2.0)
    assert p99 <= 3.0
    assert all(math.isnan(x) for x in latency_stats(np.array([np.nan])))
    r = SpotResult(policy="x", num_requests=2, finished=1, dropped=0, in_flight=1,
                   unfinished=1, latency_mean=1.0, latency_p50=1.0, latency_p90=1.0,
                   latency_p99=1.0, finished_latency_p99=float("nan"), attainment=0.5,
                   tokens_served=2000, prompt_tokens_served=10,
                   requests_restarted=0, restarts=0, lost_tokens=0, recomputed_tokens=0,
                   migrations=0, moved_bytes=0.0, migration_time=0.0, cost_spot=1.0,
                   cost_on_demand=3.0, end_time=10.0, arrival=np.array([0.0, 1.0]),
                   finish=np.array([1.0, np.nan]))
    assert r.cost == 4.0
    assert r.cost_per_1k_tokens == 2.0
    assert np.isnan(r.latency[1])
    row = r.to_dict()
    assert row["cost"] == 4.0
    assert row["finished_latency_p99"] is None  # strict JSON: no NaN
    import json
    json.loads(json.dumps(row, allow_nan=False))
