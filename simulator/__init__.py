"""Discrete-event serving simulator. The rules it implements are in ``simulator.semantics``.

Two engines give identical per-request outcomes: ``"reference"`` (SimPy, written to be read)
and ``"fast"`` (numba-compiled kernels). For many placements on one workload, encode it once
with :func:`prepare` and call :func:`simulate_prepared` or the counts-only :func:`attainment`
(:func:`attainment_many` evaluates several placements on threads at once).
"""

from simulator.llm.metrics import LLMMetrics, LLMSummary
from simulator.llm.result import LLMSimResult
from simulator.llm.simulate import simulate_llm
from simulator.options import SimulationOptions
from simulator.prepared import PreparedWorkload, prepare
from simulator.result import DROPPED, SERVED, UNSERVED, AttainmentSummary, SimResult
from simulator.semantics import PlacementTables, compile_placement
from simulator.simulate import attainment, attainment_many, simulate, simulate_prepared

__all__ = [
    "DROPPED",
    "SERVED",
    "UNSERVED",
    "AttainmentSummary",
    "LLMMetrics",
    "LLMSimResult",
    "LLMSummary",
    "PlacementTables",
    "PreparedWorkload",
    "SimResult",
    "SimulationOptions",
    "attainment",
    "attainment_many",
    "compile_placement",
    "prepare",
    "simulate",
    "simulate_llm",
    "simulate_prepared",
]
