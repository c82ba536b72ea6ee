"""Small LLM deployments and workloads for the token-level engines' tests.

Costs and times are multiples of powers of two, so completions, stage-free times and
arrivals often coincide exactly: the order of events at one instant gets exercised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from alpaserve.llm.iteration import IterationCost
from simulator.llm.config import EngineGroup, LLMDeployment, SchedulerConfig, ServedModel
from workloads.workload import Workload

MODEL_NAMES = ("a", "b", "c")


def flat_cost(stage_s: float, *, stages: int = 1, table: int = 256) -> IterationCost:
    """A cost whose every iteration (up to ``table - 1`` tokens) takes ``stage_s`` per stage."""
    work = stage_s * stages
    return IterationCost(linear_s=[0.0] + [work] * (table - 1), prefill_attention_s=0.0,
                         decode_attention_s=0.0, pipeline_stages=stages)


def one_group(*served: ServedModel, scheduler: SchedulerConfig | None = None,
              kv_sharing: str = "partitioned", swap: bool = False) -> LLMDeployment:
    """A deployment of one group hosting ``served``."""
    group = EngineGroup(name="g0", num_devices=1, models=tuple(served),
                        scheduler=scheduler or SchedulerConfig(), kv_sharing=kv_sharing,  # type: ignore[arg-type]
                        swap=swap)
    return LLMDeployment(groups=(group,))


def dyadic(lo: int, hi: int, denom: int) -> st.SearchStrategy[float]:
    """Multiples of ``1 / denom`` from ``lo / denom`` to ``hi / denom``."""
    return st.integers(lo, hi).map(lambda k: k / denom)


@st.composite
def costs(draw: st.DrawFn, stages: int, *, free_steps: bool = False) -> IterationCost:
    """A random iteration cost with ``stages`` pipeline stages (``free_steps``: some token
    counts cost nothing more, so an iteration may take no time at all)."""
    steps = draw(st.lists(st.integers(-1 if free_steps else 0, 8), min_size=1, max_size=5))
    table = np.concatenate([[0.0], np.cumsum([(s + 1) / 64 for s in steps])])
    return IterationCost(
        linear_s=table,
        prefill_attention_s=draw(st.sampled_from([0.0, 1 / 1024, 1 / 4096])),
        decode_attention_s=draw(st.sampled_from([0.0, 1 / 512, 1 / 2048])),
        overhead_s=draw(dyadic(0, 4, 64)),
        pipeline_stages=stages,
        handoff_s=draw(dyadic(0, 2, 128)) if stages > 1 else 0.0,
        handoff_s_per_token=draw(st.sampled_from([0.0, 1 / 4096])) if stages > 1 else 0.0)


@st.composite
def groups(draw: st.DrawFn, index: int, *, chunked: bool | None = None,
           stages: tuple[int, ...] = (1, 2, 3), free_steps: bool = False) -> EngineGroup:
    """A random group hosting 1-3 of :data:`MODEL_NAMES`."""
    names = draw(st.lists(st.sampled_from(MODEL_NAMES), min_size=1, max_size=3, unique=True))
    p = draw(st.sampled_from(stages))
    max_seqs = draw(st.integers(1, 6))
    sched = SchedulerConfig(
        max_num_seqs=max_seqs, max_batched_tokens=draw(st.integers(max(max_seqs, 4), 48)),
        block_size=draw(st.sampled_from([1, 2, 4, 8])),
        chunked_prefill=draw(st.booleans()) if chunked is None else chunked)
    served = tuple(ServedModel(model=name, cost=draw(costs(p, free_steps=free_steps)),
                               kv_blocks=draw(st.integers(1, 24)),
                               route_weight=draw(st.sampled_from([1.0, 2.0, 3.0])),
                               load_s=draw(dyadic(0, 32, 16)))
                   for name in names)
    return EngineGroup(name=f"g{index}", num_devices=p, models=served, scheduler=sched,
                       kv_sharing=draw(st.sampled_from(["partitioned", "shared"])),
                       swap=len(names) > 1 and draw(st.booleans()))


@dataclass(frozen=True)
class Case:
    """A deployment and a workload over its models."""

    deployment: LLMDeployment
    workload: Workload


@st.composite
def cases(draw: st.DrawFn, *, max_requests: int = 30, max_groups: int = 3,
          chunked: bool | None = None, stages: tuple[int, ...] = (1, 2, 3),
          min_prompt: int = 1, max_output: int = 12, free_steps: bool = False) -> Case:
    """A random deployment of 1-``max_groups`` groups and up to ``max_requests`` requests
    (prompts of ``min_prompt`` to 40 tokens, outputs of 1 to ``max_output``)."""
    count = draw(st.integers(1, max_groups))
    deployment = LLMDeployment(groups=tuple(
        draw(groups(g, chunked=chunked, stages=stages, free_steps=free_steps))
        for g in range(count)))
    hosted = deployment.model_names
    n = draw(st.integers(0, max_requests))
    gaps = draw(st.lists(st.sampled_from([0.0, 0.0, 1 / 16, 1 / 4, 1.0, 3.0]),
                         min_size=n, max_size=n))
    workload = Workload.from_arrays(
        arrival=np.cumsum(gaps) if n else np.empty(0),
        model=draw(st.lists(st.sampled_from(hosted), min_size=n, max_size=n)) if n else [],
        model_names=hosted,
        prompt_tokens=draw(st.lists(st.integers(min_prompt, 40), min_size=n, max_size=n)),
        output_tokens=draw(st.lists(st.integers(1, max_output), min_size=n, max_size=n)))
    return Case(deployment=deployment, workload=workload)
