"""The cost model: per-kernel roofline and alpha-beta primitives, per-layer kernels, stage
latency and memory of a parallel configuration, and the LLM prefill/decode model.

Modules: :mod:`alpaserve.cost.primitives`, :mod:`alpaserve.cost.layers`,
:mod:`alpaserve.cost.model` (stage latency, memory, analytic profiles) and
:mod:`alpaserve.cost.llm` (SpotServe's token-level latency and KV-cache memory).
"""
