"""Metrics of one token-level simulation, per model and overall, JSON-ready.

Per request: TTFT is the first token's time minus the arrival; TPOT is
``(finish - first_token) / (output - 1)`` (0 for a one-token output); a request is *good*
when it finished with TTFT and TPOT within its model's SLOs (a rejected one never is).
Percentiles are NumPy's linear ones over finished requests. Rates (goodput per second,
tokens per second) divide by the span from the first arrival to the last event. KV
utilisation is a group's block-seconds in use over its blocks times that span; the overall
figure weighs the groups by their blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

PERCENTILES = (50, 90, 99)


@dataclass(frozen=True, kw_only=True)
class LLMRun:
    """A routed workload, its outcome and the deployment it ran on.

    Parameters
    ----------
    deployment : LLMDeployment
        Groups and models.
    prepared : PreparedLLM
        The routed requests.
    outcome : LLMOutcome
        What the engine returned.
    """

    deployment: Any
    prepared: Any
    outcome: Any


def _pct(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return {f"p{q}": None for q in PERCENTILES}
    return {f"p{q}": float(v) for q, v in zip(PERCENTILES, np.percentile(values, PERCENTILES),
                                              strict=True)}


def _block(mask: np.ndarray, finished: np.ndarray, good: np.ndarray, ttft: np.ndarray,
           tpot: np.ndarray, ttft_ok: np.ndarray, tpot_ok: np.ndarray, output: np.ndarray,
           preemptions: np.ndarray, span: float) -> dict[str, Any]:
    n = int(mask.sum())
    done = mask & finished
    out: dict[str, Any] = {"requests": n, "finished": int(done.sum()),
                           "rejected": int((mask & ~finished).sum())}
    for name, values in (("ttft", ttft), ("tpot", tpot)):
        out.update({f"{name}_{k}": v for k, v in _pct(values[done]).items()})
    frac = (lambda m: float(m.sum()) / n) if n else (lambda m: float("nan"))
    out.update({"ttft_attainment": frac(mask & ttft_ok), "tpot_attainment": frac(mask & tpot_ok),
                "goodput": frac(mask & good), "good": int((mask & good).sum()),
                "goodput_rps": float((mask & good).sum()) / span,
                "tokens_per_s": float(output[done].sum()) / span,
                "preemptions": int(preemptions[mask].sum())})
    return out


def run_metrics(run: LLMRun, *, model_names: tuple[str, ...], ttft_slo: Mapping[str, float],
                tpot_slo: Mapping[str, float]) -> dict[str, Any]:
    """Per-model and overall metrics of a simulation.

    Parameters
    ----------
    run : LLMRun
        The simulation.
    model_names : tuple of str
        The models to report, in order (those without requests get a row of zeros).
    ttft_slo, tpot_slo : mapping of str to float
        SLOs per model, seconds.

    Returns
    -------
    dict
        ``{"overall": {...}, "per_model": {model: {...}}, "groups": [...]}``: request counts,
        TTFT/TPOT p50/p90/p99, attainment on each SLO, goodput (fraction and per second),
        tokens per second, preemptions, rejections; per group its KV utilisation.
    """
    from simulator.llm.semantics import LLMRequestStatus

    prepared, outcome, deployment = run.prepared, run.outcome, run.deployment
    lookup = [[s.model for s in g.models] for g in deployment.groups]
    model = np.array([lookup[g][s] for g, s in zip(prepared.group.tolist(),
                                                   prepared.slot.tolist(), strict=True)],
                     dtype=object)
    index = {m: k for k, m in enumerate(model_names)}
    code = np.array([index.get(m, -1) for m in model], dtype=np.int64)
    arrival, output = prepared.arrival, prepared.output
    finished = outcome.status == int(LLMRequestStatus.FINISHED)
    with np.errstate(invalid="ignore", divide="ignore"):
        ttft = outcome.first_token - arrival
        tpot = np.where(output > 1, (outcome.finish - outcome.first_token)
                        / np.maximum(output - 1, 1), 0.0)
    ttft_cap = np.array([ttft_slo[m] for m in model_names] + [np.inf])[code]
    tpot_cap = np.array([tpot_slo[m] for m in model_names] + [np.inf])[code]
    ttft_ok = finished & (ttft <= ttft_cap)
    tpot_ok = finished & (tpot <= tpot_cap)
    good = ttft_ok & tpot_ok
    start = float(arrival[0]) if arrival.size else 0.0
    span = max(float(outcome.end_time) - start, 1e-12)
    common = (finished, good, ttft, tpot, ttft_ok, tpot_ok, output, outcome.preemptions, span)
    per_model = {m: _block(code == k, *common) for k, m in enumerate(model_names)}
    overall = _block(np.ones(len(prepared), dtype=bool), *common)
    groups = []
    for g, grp in enumerate(deployment.groups):
        blocks = sum(s.kv_blocks for s in grp.models)
        groups.append({"group": grp.name, "devices": grp.num_devices,
                       "models": list(grp.model_names), "kv_blocks": blocks,
                       "iterations": int(outcome.iterations[g]),
                       "busy": float(outcome.busy_s[g]) / span,
                       "kv_utilization": float(outcome.kv_block_seconds[g]) / (blocks * span)})
    total_blocks = sum(x["kv_blocks"] for x in groups)
    overall["kv_utilization"] = float(np.sum(outcome.kv_block_seconds)) / (total_blocks * span)
    for m, row in per_model.items():
        hosts = [x for x in groups if m in x["models"] and len(x["models"]) == 1]
        # a model's own KV utilisation is defined where it has groups to itself
        row["kv_utilization"] = (sum(x["kv_utilization"] * x["kv_blocks"] for x in hosts)
                                 / sum(x["kv_blocks"] for x in hosts)) if hosts else None
    return {"overall": overall, "per_model": per_model, "groups": groups}
