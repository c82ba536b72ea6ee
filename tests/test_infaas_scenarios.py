"""INFaaS's scenarios (placement.modelless.scenarios): the loads and the trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from alpaserve.errors import SpecError
from alpaserve.modelless.production import write_synthetic_functions_trace
from alpaserve.modelless.registry import example_registry
from placement.modelless.experiment import compare_policies, run_policy
from placement.modelless.scenarios import ModellessExperiment, TraceExperiment


def test_plan_ahead_starts_workers_before_the_first_query() -> None:
    reg = example_registry()
    ahead = ModellessExperiment(load="flat", duration=120.0, warmup=40.0)
    cold = ModellessExperiment(load="flat", duration=120.0, warmup=40.0, plan_ahead=False)
    first = float(ahead.queries().arrival[0])
    assert first > 0.0
    starts = [e.time for e in run_policy(ahead, reg).events if e.kind == "worker_start"]
    assert starts[0] == 0.0 < first
    late = [e.time for e in run_policy(cold, reg).events if e.kind == "worker_start"]
    assert late[0] == pytest.approx(first)
    assert cold.expectations() == ()


def test_trace_experiment_runs_every_policy(tmp_path: Path) -> None:
    p = write_synthetic_functions_trace(tmp_path / "d01.csv", functions=30, mean_rate=15.0,
                                        seed=0)
    exp = TraceExperiment(path=p, applications=3, minutes=(600, 604), warmup=60.0)
    reg = exp.registry(example_registry())
    assert {e.task for e in exp.expectations()} == {"app0", "app1", "app2"}
    rows = compare_policies(exp, reg, variants=["resnet50-neuron-inf1"])
    assert [r.policy for r in rows] == ["infaas", "clipper+", "sm+", "resnet50-neuron-inf1"]
    for r in rows:
        assert r.summary.queries == rows[0].summary.queries > 0
        assert r.decision_ms > 0
    with pytest.raises(SpecError, match="warmup"):
        TraceExperiment(path=p, minutes=(0, 1), warmup=60.0)
