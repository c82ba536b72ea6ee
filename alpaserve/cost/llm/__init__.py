"""Token-level latency and memory of a decoder LLM under a (data, pipeline, tensor) config.

A request is a *prefill* of its prompt (compute-bound: every prompt token goes through every
weight) followed by one *decode step* per output token (bound by memory bandwidth: each step
reads the stage's weights and the KV cache of every active request).

Per pipeline stage and micro-batch the time is the roofline of its FLOPs and bytes on one
device of the tensor-parallel group (``alpaserve.cost.primitives.roofline_time``), plus two ring
all-reduces per layer of the micro-batch's activations (Megatron-style tensor parallelism).
A batch split into ``M`` micro-batches over ``P`` stages takes the pipeline formula
``(stage time + inter-stage transfer) × (P + M − 1)``, where the stage time is that of one
micro-batch (= the full-batch stage time / M when compute-bound).

The tied LM head runs on the last stage (only on the last prompt token during the prefill);
with ``P > 1`` that stage holds its own copy of the embedding matrix, as in Megatron.

Modules: :mod:`~alpaserve.cost.llm.config` (:class:`LLMConfig`),
:mod:`~alpaserve.cost.llm.stages` (per-stage costs), :mod:`~alpaserve.cost.llm.latency`
(prefill, decode steps, requests, throughput) and :mod:`~alpaserve.cost.llm.memory` (device
memory and the smallest fit); every name is importable from this package.
"""

from __future__ import annotations

from alpaserve.cost.llm.config import LLMConfig
from alpaserve.cost.llm.latency import (
    FloatLike,
    decode_step_time,
    prefill_time,
    request_latency,
    throughput,
)
from alpaserve.cost.llm.memory import device_memory_bytes, fits_memory, memory_floor
from alpaserve.cost.llm.stages import StageCost, StagePlan, stage_plan

__all__ = ["FloatLike", "LLMConfig", "StageCost", "StagePlan", "decode_step_time",
           "device_memory_bytes", "fits_memory", "memory_floor", "prefill_time",
           "request_latency", "stage_plan", "throughput"]
