"""The INFaaS evaluation scenario helpers."""

from __future__ import annotations

import pytest

from alpaserve.errors import SpecError
from alpaserve.modelless.registry import example_registry
from placement.modelless.experiment import ModellessExperiment, compare_with_fixed, run_policy


def test_flat_load_uses_a_cpu_variant_and_beats_accelerators() -> None:
    reg = example_registry()
    exp = ModellessExperiment(load="flat", duration=300.0, warmup=60.0)
    rows = compare_with_fixed(exp, reg, variants=["resnet50-neuron-inf1", "resnet50-trt-v100"])
    auto, inf, v100 = (r.summary for r in rows)
    assert [r.policy for r in rows] == ["infaas", "resnet50-neuron-inf1", "resnet50-trt-v100"]
    assert set(auto.cost_by_hardware) == {"cpu-c5.xlarge"}
    assert auto.violations <= inf.violations
    assert auto.cost < inf.cost < v100.cost
    assert auto.min_accuracy >= 74.0  # half the queries ask for 74%: the plan covers them
    assert rows[0].to_dict()["policy"] == "infaas"


def test_same_seed_same_result() -> None:
    reg = example_registry()
    exp = ModellessExperiment(load="flat", duration=60.0, seed=4)
    a = run_policy(exp, reg).summary()
    b = run_policy(exp, reg).summary()
    assert a == b


def test_errors() -> None:
    with pytest.raises(SpecError, match="unknown load 'bursty'"):
        ModellessExperiment(load="bursty", duration=10.0)
    with pytest.raises(SpecError, match="warmup"):
        ModellessExperiment(load="flat", duration=10.0, warmup=10.0)
    with pytest.raises(SpecError, match="unknown load 'x'"):
        ModellessExperiment.preset("x")
    assert ModellessExperiment.preset("steady").duration == 360.0
