"""Small many-LLM planning problems for the placement tests: hand-built costs, toy devices."""

from __future__ import annotations

from alpaserve.device_spec import GB, DeviceSpec
from alpaserve.llm.iteration import IterationCost
from placement.llm import LLMPlanProblem, TableCosts, TableEntry
from workloads.llm_requests import gamma_arrivals, llm_workload
from workloads.workload import Workload

TOY = DeviceSpec(name="toy", peak_flops=1e14, memory_bandwidth=1e12, memory_bytes=10 * GB)
# (weights in bytes over all devices, fixed seconds per iteration, seconds per token)
MODELS = {"a": (2e9, 0.004, 2e-5), "b": (4e9, 0.008, 4e-5), "c": (12e9, 0.02, 1e-4)}
SHAPES = ((1, 1), (2, 1), (4, 1), (1, 2), (2, 2), (1, 4))


def toy_cost(fixed: float, per_token: float, tp: int, pp: int) -> IterationCost:
    """A cost that speeds up with tensor parallelism (not perfectly) and pipelines by ``pp``."""
    speed = tp ** 0.8
    return IterationCost(linear_s=[0.0, (fixed + per_token) / speed,
                                   (fixed + 2 * per_token) / speed],
                         prefill_attention_s=1e-9 / speed, decode_attention_s=2e-8 / speed,
                         overhead_s=0.001, pipeline_stages=pp, handoff_s=0.0005 if pp > 1 else 0.0,
                         source="table:toy")


def toy_costs(models: dict[str, tuple[float, float, float]] | None = None) -> TableCosts:
    """Table costs of :data:`MODELS` on every shape of :data:`SHAPES`."""
    entries = {}
    for name, (weights, fixed, per_token) in (models or MODELS).items():
        for tp, pp in SHAPES:
            entries[(name, tp, pp)] = TableEntry(
                cost=toy_cost(fixed, per_token, tp, pp), weight_bytes=weights / (tp * pp),
                kv_bytes_per_token=2e5 / (tp * pp), activation_bytes=1e8 / tp)
    return TableCosts(entries)


def toy_problem(**changes: object) -> LLMPlanProblem:
    """Models a, b, c on 4 toy devices (one node of 4)."""
    settings: dict[str, object] = {
        "models": ["a", "b", "c"], "num_devices": 4, "device": TOY, "gpus_per_node": 4,
        "ttft_slo": 0.5, "tpot_slo": 0.05, "min_kv_tokens": 512, "costs": toy_costs()}
    settings.update(changes)
    return LLMPlanProblem(**settings)  # type: ignore[arg-type]


def toy_workload(*, rates: tuple[float, ...] = (12.0, 4.0, 1.5), duration: float = 40.0,
                 seed: int = 0, cv: float = 2.0) -> Workload:
    """Gamma arrivals per model with token pairs drawn from a few shapes."""
    parts = []
    for i, (name, rate) in enumerate(zip(("a", "b", "c"), rates, strict=False)):
        arrivals = gamma_arrivals(rate=rate, cv=cv, start=0.0, end=duration, seed=seed + i)
        parts.append(llm_workload(arrivals=arrivals, seed=seed + 10 + i, model=name,
                                  token_pairs=[(128, 32), (512, 16), (64, 96)]))
    return Workload.merge(parts)
