"""The cost model: per-kernel roofline and alpha-beta primitives, per-layer kernels, stage
latency and memory of a parallel configuration, and the LLM prefill/decode model.

Modules: :mod:`alpaserve.cost.primitives`, :mod:`alpaserve.cost.kernels` (operators),
:mod:`alpaserve.cost.layers` (a layer's operators), :mod:`alpaserve.cost.stage` (stage latency
and memory), :mod:`alpaserve.cost.model` (configs that fit, analytic profiles; the cost
model's front door) and :mod:`alpaserve.cost.llm` (SpotServe's token-level latency and
KV-cache memory).
"""
