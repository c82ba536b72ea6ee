"""simulate_llm: the entry point over either engine."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from alpaserve.errors import SimulationError
from simulator import LLMSimResult, simulate_llm
from tests._fixtures_llm_engine import one_group, random_llm_workload
from workloads.workload import Workload


def test_compiled_engine(rng: np.random.Generator) -> None:
    w = random_llm_workload(rng, 50, rate=20.0)
    r = simulate_llm(one_group(), w)
    assert isinstance(r, LLMSimResult)
    assert r.engine == "compiled"
    assert len(r) == 50
    assert np.all(np.isfinite(r.finish))


@pytest.mark.skipif(importlib.util.find_spec("simulator.llm.reference") is None,
                    reason="the SimPy reference is not on this branch")
def test_reference_engine_agrees(rng: np.random.Generator) -> None:
    w = random_llm_workload(rng, 30, rate=20.0)
    dep = one_group(kv_blocks=16)
    a = simulate_llm(dep, w)
    b = simulate_llm(dep, w, engine="reference")
    assert np.array_equal(a.finish, b.finish)
    assert np.array_equal(a.preemptions,
                                                                 b.preemptions)


def test_bad_inputs() -> None:
    w = Workload.from_arrays(arrival=[0.0], model="m", prompt_tokens=[5], output_tokens=[2])
    with pytest.raises(SimulationError, match="engine must be"):
        simulate_llm(one_group(), w, engine="fast")  # type: ignore[arg-type]
    with pytest.raises(SimulationError, match="LLMDeployment"):
        simulate_llm("plan.json", w)  # type: ignore[arg-type]
    no_tokens = Workload.from_arrays(arrival=[0.0], model="m")
    with pytest.raises(SimulationError, match="prompt_tokens"):
        simulate_llm(one_group(), no_tokens)
    other = Workload.from_arrays(arrival=[0.0], model="z", prompt_tokens=[5],
                                 output_tokens=[2])
    with pytest.raises(SimulationError, match="no group hosts"):
        simulate_llm(one_group(), other)
