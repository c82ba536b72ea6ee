"""The replay check on real runs: pipelines, tensor parallelism and several groups.

It needs no steady host, so nothing here skips: the simulator is fed the service and handoff
times the run measured and must make every decision the runtime made and finish every
request when the runtime did. The mutation controls (a simulator predicting with the wrong
latencies, one that ignores pipelining) must fail the same check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import simulator.replay as replay_module
from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.errors import ExecutionError
from alpaserve.placement_spec import Group, Placement
from alpaserve.profiles import ProfileDB
from alpaserve.runtime.fidelity import slo_from_latency
from alpaserve.runtime.replay_check import (
    compare_replay,
    measured_handoffs,
    replay_check,
    replay_run,
)
from alpaserve.runtime.result import RunResult
from tests._fixtures_runtime import cpu_devices, gamma_workload, tiny_spec

AGREEMENT = 0.99


def models() -> tuple[Any, Any]:
    """Two models of one shape: their stages share compiled programs (the dispatcher still
    tells them apart; GPT numerics and serving are covered in test_runtime_model/serve)."""
    a = tiny_spec("a", num_layers=4, hidden_size=128, ffn_size=512, seq_len=32)
    return a, a.renamed("b")


# The three placements reuse device sets, so JAX's caches share a stage's weights generator
# and its batch-1 program between them (same shape on the same devices): pp4 on 0-3 and
# pp2 x tp2 on 4-7 wherever they appear.
def pipelines_and_tensor() -> Placement:
    """pp2 and tp2 groups of two devices and a pp4 group: three groups, both models."""
    a, b = models()
    return Placement(cluster=homogeneous_cluster(8, "cpu"), models={"a": a, "b": b}, groups=(
        Group.uniform(name="pp2", device_ids=[4, 5], pipeline_degree=2, models=[a, b]),
        Group.uniform(name="tp2", device_ids=[6, 7], pipeline_degree=1, models=[a]),
        Group.uniform(name="pp4", device_ids=[0, 1, 2, 3], pipeline_degree=4, models=[a, b])))


def tp4_and_pp2tp2() -> Placement:
    a, b = models()
    return Placement(cluster=homogeneous_cluster(8, "cpu"), models={"a": a, "b": b}, groups=(
        Group.uniform(name="tp4", device_ids=[0, 1, 2, 3], pipeline_degree=1, models=[a, b]),
        Group.uniform(name="pp2xtp2", device_ids=[4, 5, 6, 7], pipeline_degree=2,
                      models=[a, b])))


def pp2tp2_and_pp4() -> Placement:
    """Both models on a pp2 x tp2 group (batches pick the head's model), one also on pp4."""
    a, b = models()
    return Placement(cluster=homogeneous_cluster(8, "cpu"), models={"a": a, "b": b}, groups=(
        Group.uniform(name="pp2xtp2", device_ids=[4, 5, 6, 7], pipeline_degree=2,
                      models=[a, b]),
        Group.uniform(name="pp4", device_ids=[0, 1, 2, 3], pipeline_degree=4, models=[a])))


def open_runtime(placement: Placement, *, max_batch: int = 1) -> Any:
    from alpaserve.runtime.runtime import Runtime

    rt = Runtime(placement, devices=cpu_devices(), repeats=8 if max_batch == 1 else 4,
                 max_batch=max_batch)
    return rt.open()


def serve(rt: Any, *, rate: float, cv: float, seed: int, feedback: bool = True,
          slo_scale: float = 1.5) -> tuple[RunResult, ProfileDB]:
    workload = gamma_workload(rate=rate, cv=cv, n=200, models=["a", "b"], seed=seed)
    slo = slo_from_latency(rt.stage_latencies(), slo_scale)  # tight: bursts drop requests
    return rt.serve(workload, slo=slo, feedback=feedback), rt.profile


@pytest.fixture(scope="module")
def three_groups() -> tuple[Placement, RunResult, ProfileDB]:
    placement = pipelines_and_tensor()
    rt = open_runtime(placement)
    try:
        run, profile = serve(rt, rate=250.0, cv=4.0, seed=3)
    finally:
        rt.close()
    return placement, run, profile


@pytest.fixture(scope="module")
def two_groups_runtime() -> Iterator[Any]:
    """One runtime serves both the feedback and the no-feedback runs (built once)."""
    rt = open_runtime(tp4_and_pp2tp2())
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def two_groups(two_groups_runtime: Any) -> tuple[Placement, RunResult, ProfileDB]:
    run, profile = serve(two_groups_runtime, rate=200.0, cv=4.0, seed=4)
    return two_groups_runtime.placement, run, profile


@pytest.fixture(scope="module")
def batched() -> tuple[Placement, RunResult, ProfileDB]:
    """pp2 x tp2 and pp4 groups batching up to 2 under a Gamma burst."""
    placement = pp2tp2_and_pp4()
    rt = open_runtime(placement, max_batch=2)
    try:
        # every size compiled, profiled and offered to the dispatcher
        assert rt.batch_sizes == (1, 2)
        assert rt.profile.batch_sizes("a", placement.groups[0].models["a"]) == [1, 2]
        assert set(rt.batch_latencies()[0, "b"]) == {2}
        run, profile = serve(rt, rate=300.0, cv=4.0, seed=5, slo_scale=2.5)
    finally:
        rt.close()
    return placement, run, profile


@pytest.mark.parametrize("case", ["three_groups", "two_groups", "batched"])
def test_the_replay_reproduces_the_run(case: str, request: pytest.FixtureRequest) -> None:
    placement, run, profile = request.getfixturevalue(case)
    rep = replay_check(placement, profile, run)
    summary = f"{case}: {rep}"
    assert rep.rule_violations == 0, summary
    assert rep.agreement >= AGREEMENT, summary
    assert rep.status_agreement >= AGREEMENT, summary
    served = run.status == 0
    assert 0 < served.sum() < len(run), summary  # admission was exercised both ways
    assert len(set(run.group[served].tolist())) >= 2, summary  # several groups dispatched to


def test_the_trace_holds_every_stage_of_every_served_request(three_groups: Any) -> None:
    placement, run, _ = three_groups
    trace = run.trace
    assert trace is not None
    assert trace.feedback
    for i in np.flatnonzero(run.status == 0):
        depth = placement.groups[run.group[i]].num_stages
        begins, ends = trace.stage_begin[i, :depth], trace.stage_end[i, :depth]
        assert np.all(np.isfinite(begins))
        assert np.all(np.isnan(trace.stage_begin[i, depth:]))
        assert np.all(ends > begins)
        assert np.all(begins[1:] >= ends[:-1] - 1e-6)
        assert begins[0] == pytest.approx(run.start[i])
        assert ends[-1] == pytest.approx(run.finish[i])
        assert trace.decided[i] >= run.arrival[i]
    handoff = measured_handoffs(run)
    assert np.nanmin(handoff) >= -1e-6


def test_a_simulator_with_wrong_latencies_fails(three_groups: Any) -> None:
    placement, run, profile = three_groups
    halved = ProfileDB(dataclasses.replace(
        e, stage_latencies=tuple(x / 2 for x in e.stage_latencies)) for e in profile)
    rep = compare_replay(run, replay_run(placement, halved, run))
    assert rep.agreement < AGREEMENT, rep
    assert rep.status_agreement < 1.0, rep  # it admits requests the runtime dropped


def test_a_simulator_that_ignores_pipelining_fails(three_groups: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    placement, run, profile = three_groups

    def one_request_per_group(ready: float, busy: list[float], service: Any,
                              handoff: Any = None) -> list[float]:
        begins, t = [], max(ready, busy[-1])  # the group takes a request when it is empty
        for k, s in enumerate(service):
            t += handoff[k] if handoff is not None else 0.0
            begins.append(t)
            t = busy[k] = t + s
        return begins

    monkeypatch.setattr(replay_module, "run_stages", one_request_per_group)
    rep = compare_replay(run, replay_run(placement, profile, run))
    assert rep.agreement < AGREEMENT, rep


def test_without_feedback_the_replay_still_reproduces_the_run(two_groups_runtime: Any) -> None:
    placement = two_groups_runtime.placement
    run, profile = serve(two_groups_runtime, rate=120.0, cv=3.0, seed=6, feedback=False)
    assert run.trace is not None
    assert not run.trace.feedback
    rep = replay_check(placement, profile, run)
    assert rep.agreement >= AGREEMENT, rep
    assert rep.rule_violations == 0, rep


def test_a_run_without_a_trace_is_an_error(three_groups: Any) -> None:
    placement, run, profile = three_groups
    bare = dataclasses.replace(run, trace=None)
    with pytest.raises(ExecutionError, match="no trace"):
        replay_check(placement, profile, bare)
    assert compare_replay(bare, replay_run(placement, profile, run)).rule_violations == 0


def test_the_replay_reproduces_the_batches(batched: Any) -> None:
    placement, run, profile = batched
    trace = run.trace
    assert trace is not None
    assert trace.batch_size is not None
    assert trace.formed is not None
    assert trace.max_batch == 2
    served = run.status == 0
    sizes = trace.batch_size[served]
    assert sizes.max() > 1, np.bincount(sizes)
    assert set(sizes.tolist()) <= {1, 2}, np.bincount(sizes)
    for f in np.unique(trace.formed[served]):  # a batch: one model, one group, one timing
        members = np.flatnonzero(served & (trace.formed == f))
        assert len(members) == trace.batch_size[members[0]]
        assert len(set(run.model_codes[members].tolist())) == 1
        assert len(set(run.group[members].tolist())) == 1
        assert len(set(run.finish[members].tolist())) == 1
    rep = replay_check(placement, profile, run)
    assert rep.batch_agreement >= AGREEMENT, rep
    assert rep.rule_violations == 0, rep


def test_a_replay_that_ignores_batching_fails(batched: Any) -> None:
    placement, run, profile = batched
    assert run.trace is not None
    unbatched = dataclasses.replace(run, trace=dataclasses.replace(run.trace, max_batch=1))
    rep = compare_replay(run, replay_run(placement, profile, unbatched))
    assert rep.agreement < AGREEMENT, rep
    assert rep.batch_agreement < AGREEMENT, rep
