"""Small LLM deployments and workloads for the compiled engine's tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from alpaserve.llm.iteration import IterationCost
from simulator.llm.config import EngineGroup, LLMDeployment, SchedulerConfig, ServedModel
from workloads.workload import Workload


def llm_cost(*, stages: int = 1, handoff: float = 0.0, table: int = 64) -> IterationCost:
    """A llama-7B-on-A100-like cost: 12 ms + 0.05 ms per token, attention terms."""
    linear = 0.012 + 5e-5 * np.arange(table, dtype=np.float64)
    linear[0] = 0.0
    return IterationCost(linear_s=linear, prefill_attention_s=2e-9, decode_attention_s=1e-7,
                         overhead_s=0.001, pipeline_stages=stages, handoff_s=handoff)


def one_group(*, kv_blocks: int = 512, models: tuple[str, ...] = ("m",),
              cost: IterationCost | None = None, load_s: float = 0.0,
              **kwargs: Any) -> LLMDeployment:
    """One group hosting ``models`` (same cost and KV budget each)."""
    sched = kwargs.pop("scheduler", SchedulerConfig(max_num_seqs=8, max_batched_tokens=256))
    cost = cost or llm_cost()
    served = tuple(ServedModel(model=m, cost=cost, kv_blocks=kv_blocks, load_s=load_s)
                   for m in models)
    return LLMDeployment(groups=(EngineGroup(name="g0", num_devices=1, models=served,
                                             scheduler=sched, **kwargs),))


def random_llm_workload(rng: np.random.Generator, n: int, *, models: tuple[str, ...] = ("m",),
                        rate: float = 20.0, max_prompt: int = 200,
                        max_output: int = 40) -> Workload:
    """Poisson arrivals with uniform token counts over ``models``."""
    arrival = np.cumsum(rng.exponential(1.0 / rate, n))
    return Workload.from_arrays(arrival=arrival, model=list(rng.choice(models, n)),
                                prompt_tokens=rng.integers(1, max_prompt, n),
                                output_tokens=rng.integers(1, max_output, n),
                                model_names=models)

