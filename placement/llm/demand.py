"""What each model asks of the cluster, and an analytic estimate of what a group serves.

The estimate is the cost-table reasoning a placer without a simulator uses (MuxServe's):
a model's per-request service time on a group is its prefill iteration plus its share of
the decode iterations at the batch its KV budget allows; models co-located on a group share
its time, so the group serves ``sum(rate) * min(1, 1 / utilisation)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from alpaserve.errors import PlacementError
from placement.llm.layout import Slot
from placement.llm.problem import LLMPlanProblem
from workloads.workload import Workload


@dataclass(frozen=True, kw_only=True)
class ModelDemand:
    """Request statistics of one model in a workload.

    Parameters
    ----------
    requests : int
        Requests.
    rate : float
        Requests per second over the workload's span.
    mean_prompt, mean_output : float
        Mean prompt and output tokens (0 when no request).
    """

    requests: int
    rate: float
    mean_prompt: float
    mean_output: float

    @property
    def token_rate(self) -> float:
        """Prompt plus output tokens per second (the KV split's load)."""
        return self.rate * (self.mean_prompt + self.mean_output)


def model_demands(workload: Workload, models: tuple[str, ...]) -> dict[str, ModelDemand]:
    """Per-model statistics of ``workload`` for each of ``models``.

    Parameters
    ----------
    workload : Workload
        Requests with token counts.
    models : tuple of str
        The served models; every model of the workload must be among them.

    Returns
    -------
    dict of str to ModelDemand
        One entry per served model (zeros for a model without requests).

    Raises
    ------
    PlacementError
        If the workload has no token counts or requests an unknown model.
    """
    if workload.prompt_tokens is None or workload.output_tokens is None:
        raise PlacementError("the workload has no prompt_tokens/output_tokens")
    unknown = [m for m, c in workload.counts_by_model().items() if c and m not in models]
    if unknown:
        raise PlacementError(f"the workload requests models the problem does not serve: "
                             f"{unknown}")
    span = max(float(workload.duration), 1e-9)
    codes = np.asarray(workload.model_codes)
    out = {}
    for m in models:
        idx = np.flatnonzero(codes == workload.model_code(m)) if m in workload.model_names \
            else np.empty(0, dtype=np.int64)
        n = int(idx.size)
        out[m] = ModelDemand(
            requests=n, rate=n / span,
            mean_prompt=float(np.mean(workload.prompt_tokens[idx])) if n else 0.0,
            mean_output=float(np.mean(np.maximum(workload.output_tokens[idx], 1))) if n else 0.0)
    return out


def service_time(problem: LLMPlanProblem, model: str, slot: Slot, kv_blocks: int,
                 demand: ModelDemand) -> float:
    """Estimated seconds of group time one request of ``model`` takes on ``slot``.

    Parameters
    ----------
    problem : LLMPlanProblem
        Costs and scheduler.
    model : str
        The model.
    slot : Slot
        Its group (shape).
    kv_blocks : int
        Its KV budget there.
    demand : ModelDemand
        Its mean prompt and output.

    Returns
    -------
    float
        The prefill's stage time plus ``output`` decode stage times over the batch size.
    """
    cost = problem.cost_model.iteration_cost(model, slot.tp, slot.pp)
    sched = problem.scheduler
    prompt = int(min(max(demand.mean_prompt, 1.0), sched.max_batched_tokens))
    prefill = cost.stage_s(n_tokens=prompt, prefill_units=prompt * (prompt + 1) // 2,
                           decode_kv_tokens=0)
    context = max(1.0, demand.mean_prompt + demand.mean_output / 2)
    batch = int(max(1, min(sched.max_num_seqs, kv_blocks * sched.block_size // context)))
    decode = cost.stage_s(n_tokens=batch, prefill_units=0,
                          decode_kv_tokens=int(batch * context))
    return prefill + max(demand.mean_output - 1.0, 0.0) * decode / batch


def slot_utilisation(problem: LLMPlanProblem, slot: Slot,
                     demands: Mapping[str, ModelDemand],
                     shares: Mapping[tuple[str, tuple[int, ...]], float]) -> float:
    """Estimated busy fraction of ``slot`` (above 1: overloaded).

    Parameters
    ----------
    problem : LLMPlanProblem
        Costs and scheduler.
    slot : Slot
        The group with its models and KV budgets.
    demands : mapping of str to ModelDemand
        Per-model statistics.
    shares : mapping of (model, devices) to float
        Fraction of each model's requests routed to each group.

    Returns
    -------
    float
        ``sum(rate * share * service time)``.
    """
    return sum(demands[m].rate * shares.get((m, slot.devices), 1.0)
               * service_time(problem, m, slot, b, demands[m])
               for m, b in zip(slot.models, slot.kv_blocks, strict=True))


def route_shares(slots: list[Slot]) -> dict[tuple[str, tuple[int, ...]], float]:
    """Fraction of each model's requests each group receives (by route weight).

    Parameters
    ----------
    slots : list of Slot
        The layout.

    Returns
    -------
    dict of (model, devices) to float
        Shares summing to 1 per model.
    """
    totals: dict[str, float] = {}
    for s in slots:
        for m, w in zip(s.models, s.weights, strict=True):
            totals[m] = totals.get(m, 0.0) + w
    return {(m, s.devices): w / totals[m] for s in slots
            for m, w in zip(s.models, s.weights, strict=True)}


def estimated_throughput(problem: LLMPlanProblem, slots: list[Slot],
                         demands: Mapping[str, ModelDemand]) -> float:
    """Requests per second the layout serves by the analytic estimate.

    Parameters
    ----------
    problem : LLMPlanProblem
        Costs and scheduler.
    slots : list of Slot
        The layout.
    demands : mapping of str to ModelDemand
        Per-model statistics.

    Returns
    -------
    float
        Sum over groups of the routed rate times ``min(1, 1 / utilisation)``.
    """
    shares = route_shares(slots)
    total = 0.0
    for s in slots:
        if not s.models:
            continue
        util = slot_utilisation(problem, s, demands, shares)
        rate = sum(demands[m].rate * shares[(m, s.devices)] for m in s.models)
        total += rate * (1.0 if util <= 1.0 else 1.0 / util)
    return total


def reweight(problem: LLMPlanProblem, slots: list[Slot],
             demands: Mapping[str, ModelDemand]) -> list[Slot]:
    """Route weights in proportion to each replica's estimated capacity.

    Each model's weights are relative to its fastest replica and rounded to three decimals,
    so replicas of one shape get exactly equal weights (the router's smooth round robin
    then cycles them exactly rather than by floating-point ties).

    Parameters
    ----------
    problem : LLMPlanProblem
        Costs and scheduler.
    slots : list of Slot
        The layout.
    demands : mapping of str to ModelDemand
        Per-model statistics.

    Returns
    -------
    list of Slot
        The same groups with new weights.
    """
    raw = [[1.0 / max(service_time(problem, m, s, b, demands[m]), 1e-12)
            for m, b in zip(s.models, s.kv_blocks, strict=True)] for s in slots]
    top: dict[str, float] = {}
    for s, ws in zip(slots, raw, strict=True):
        for m, w in zip(s.models, ws, strict=True):
            top[m] = max(top.get(m, 0.0), w)
    return [replace(s, weights=tuple(max(round(w / top[m], 3), 0.001)
                                     for m, w in zip(s.models, ws, strict=True)))
            for s, ws in zip(slots, raw, strict=True)]
