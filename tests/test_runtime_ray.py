"""Groups in Ray actors: a local two-actor cluster serves a placement end to end."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.placement_spec import Group, Placement
from alpaserve.runtime.replay_check import replay_check
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
    burst = gamma_workload(rate=400.0, cv=4.0, n=80, models=["m"], seed=4)
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        with Runtime(placement, backend="ray", repeats=3, max_batch=2) as rt:
            lats = rt.stage_latencies()
            r = rt.serve(w, slo=0.5)
            b = rt.serve(burst, slo=0.5)  # queues build up: batches form
            profile = rt.profile
    finally:
        ray.shutdown()
    assert len(lats[(0, "m")]) == 2
    assert len(lats[(1, "m")]) == 1
    assert profile.batch_sizes("m", placement.groups[0].models["m"]) == [1, 2]
    served = r.status == RequestStatus.SERVED
    assert served.sum() >= 36
    assert set(r.group[served].tolist()) == {0, 1}
    assert np.all(r.finish[served] > r.start[served])
    assert np.all(r.start[served] >= r.arrival[served] - 1e-3)
    # batches: each stage end reaches the driver while the pipeline runs, so the batcher
    # forms the next batch when stage 0 frees; a batch is one model, group and finish
    trace = b.trace
    assert trace is not None
    assert trace.batch_size is not None
    assert trace.formed is not None
    done = b.status == RequestStatus.SERVED
    assert trace.batch_size[done].max() == 2, np.bincount(trace.batch_size[done])
    for f in np.unique(trace.formed[done]):
        members = np.flatnonzero(done & (trace.formed == f))
        assert len(members) == trace.batch_size[members[0]]
        assert len(set(b.finish[members].tolist())) == 1
    on_g0 = np.flatnonzero(done & (b.group == 0))  # stage 0 takes one batch at a time
    order = np.argsort(trace.stage_begin[on_g0, 0])
    begins, ends = trace.stage_begin[on_g0, 0][order], trace.stage_end[on_g0, 0][order]
    later = np.diff(begins) > 0
    assert np.all(begins[1:][later] >= ends[:-1][later] - 1e-3)
    # the replay reproduces the batches; not exactly every finish, since the driver maps an
    # actor's times with each call's own offset and the call's transit time is left out
    rep = replay_check(placement, profile, b)
    assert rep.batch_agreement >= 0.9, rep
    assert rep.agreement >= 0.9, rep
