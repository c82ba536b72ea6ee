"""Two models on one GPU (placement.modelless.sharing)."""

from __future__ import annotations

import pytest

from alpaserve.errors import SpecError
from alpaserve.modelless.registry import example_registry
from placement.modelless.config import InfaasConfig
from placement.modelless.experiment import run_policy
from placement.modelless.sharing import SharingExperiment


def test_two_models_on_one_gpu_interference_detection_pays() -> None:
    exp = SharingExperiment(duration=160.0, warmup=60.0, surge_at=100.0, rate_a=30.0,
                            rate_b=10.0, surge_rate=1000.0)
    reg = exp.registry(example_registry())
    assert {v.hardware for v in reg} == {"gpu-t4"}
    q = exp.queries()
    res = run_policy(exp, reg, queries=q)
    loads = [e for e in res.events if e.kind == "replica_load"]
    assert loads[0].worker == loads[1].worker  # a and b share the first GPU
    on = res.summary(exp.warmup, exp.duration)
    off = run_policy(exp, reg, queries=q, config=InfaasConfig(
        interference_factor=1e9, queue_threshold_batches=1e9)).summary(exp.warmup,
                                                                       exp.duration)
    assert on.violations < off.violations / 3
    assert on.worker_starts >= 1  # capacity moved off the shared GPU
    with pytest.raises(SpecError, match="warmup"):
        SharingExperiment(duration=10.0, warmup=10.0)
    with pytest.raises(SpecError, match="surge_at"):
        SharingExperiment(duration=100.0, warmup=10.0)
