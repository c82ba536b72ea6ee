"""Token-level simulation of many LLMs on one cluster: continuous batching over a paged KV
cache, with a compiled engine and a SimPy reference that follow the same rules
(:mod:`simulator.llm.semantics`).
"""
