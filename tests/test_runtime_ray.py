"""Groups in Ray actors: a local two-actor cluster serves a placement end to end."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.placement_spec import Group, Placement
from alpaserve.runtime.result import RequestStatus
from tests._fixtures_runtime import gamma_workload, tiny_spec

ray = pytest.importorskip("ray", reason="the Ray backend needs the 'ray' extra")
pytest.importorskip("jax", reason="the runtime needs the 'runtime' extra (jax)")


@pytest.mark.slow
def test_two_groups_in_ray_actors() -> None:
    from alpaserve.runtime.runtime import Runtime

    spec = tiny_spec("m", family="gpt", num_layers=2, hidden_size=32, num_heads=2,
                     ffn_size=64, vocab_size=64, seq_len=8)
    placement = Placement(cluster=homogeneous_cluster(4, "cpu"), models={"m": spec}, groups=(
        Group.uniform(name="g0", device_ids=[0, 1], pipeline_degree=2, models=[spec]),
        Group.uniform(name="g1", device_ids=[2, 3], pipeline_degree=1, models=[spec])))
    w = gamma_workload(rate=80.0, cv=2.0, n=40, models=["m"], seed=3)
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        with Runtime(placement, backend="ray", repeats=3) as rt:
            lats = rt.stage_latencies()
            r = rt.serve(w, slo=0.5)
    finally:
        ray.shutdown()
    assert len(lats[(0, "m")]) == 2
    assert len(lats[(1, "m")]) == 1
    served = r.status == RequestStatus.SERVED
    assert served.sum() >= 36
    assert set(r.group[served].tolist()) == {0, 1}
    assert np.all(r.finish[served] > r.start[served])
    assert np.all(r.start[served] >= r.arrival[served] - 1e-3)
