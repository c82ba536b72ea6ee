"""The compiled token-level engine: one numba event loop per group
(:mod:`simulator.llm.semantics`), no per-request objects."""

from simulator.llm.engine.driver import run_compiled

__all__ = ["run_compiled"]
