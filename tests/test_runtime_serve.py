"""The Runtime serves a two-group placement end to end on 8 virtual CPU devices."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.errors import ExecutionError, ProfileError
from alpaserve.placement_spec import Group, Placement
from alpaserve.profiles import ProfileDB
from alpaserve.runtime.result import RequestStatus
from tests._fixtures_runtime import cpu_devices, gamma_workload, tiny_spec


@pytest.fixture(scope="module")
def devices() -> list:
    return cpu_devices()


def two_group_placement() -> Placement:
    a = tiny_spec("a", num_layers=2, hidden_size=32, ffn_size=64, seq_len=8)
    b = tiny_spec("b", family="gpt", num_layers=2, hidden_size=32, ffn_size=64, seq_len=8)
    return Placement(cluster=homogeneous_cluster(8, "cpu"), models={"a": a, "b": b, "c": a
                     .renamed("c")}, groups=(
        Group.uniform(name="g0", device_ids=[0, 1, 2, 3], pipeline_degree=2, models=[a, b]),
        Group.uniform(name="g1", device_ids=[4], pipeline_degree=1, models=[a])))


@pytest.fixture(scope="module")
def runtime(devices: list):
    from alpaserve.runtime.runtime import Runtime

    with Runtime(two_group_placement(), devices=devices, repeats=3) as rt:
        yield rt


def test_two_groups_serve_a_gamma_workload(runtime) -> None:
    w = gamma_workload(rate=60.0, cv=2.0, n=80, models=["a", "b", "c"], seed=1,
                       weights=[0.6, 0.3, 0.1])
    r = runtime.serve(w, slo=0.5)
    status = r.status
    is_c = w.model_codes == w.model_code("c")
    assert np.all(status[is_c] == RequestStatus.UNSERVED)  # no group hosts c
    served = status == RequestStatus.SERVED
    assert served.sum() >= 0.8 * (~is_c).sum()
    assert set(r.group[served].tolist()) == {0, 1}  # both groups did work
    assert np.all(r.group[w.model_codes == w.model_code("b")][served[w.model_codes
                                                                     == w.model_code("b")]]
                  == 0)  # b lives on g0 only
    assert np.all(r.finish[served] > r.start[served])
    assert np.all(r.start[served] >= r.arrival[served] - 1e-6)
    np.testing.assert_allclose(r.arrival, w.arrival)
    assert r.group_names == ("g0", "g1")
    # a stage runs one request at a time: on g1 (one stage) executions never overlap
    on_g1 = np.argsort(r.start[r.group == 1])
    starts, finishes = r.start[r.group == 1][on_g1], r.finish[r.group == 1][on_g1]
    assert np.all(starts[1:] >= finishes[:-1] - 1e-6)


def test_time_scale_stretches_arrivals(runtime) -> None:
    w = gamma_workload(rate=50.0, cv=1.0, n=10, models=["a"], seed=2)
    r = runtime.serve(w, slo=1.0, time_scale=2.0)
    np.testing.assert_allclose(r.arrival, 2.0 * w.arrival)
    assert r.count(RequestStatus.SERVED) == 10


def test_measured_profile_covers_every_hosted_model(runtime) -> None:
    prof = runtime.profile
    assert {e.model for e in prof} == {"a", "b"}
    assert all(e.source == "measured" for e in prof)
    lats = runtime.stage_latencies()
    assert set(lats) == {(0, "a"), (0, "b"), (1, "a")}
    assert len(lats[(0, "a")]) == 2
    assert len(lats[(1, "a")]) == 1
    assert runtime.kernel_profile is not None
    assert len(runtime.kernel_profile) == 3


def test_a_given_profile_must_cover_the_placement(devices: list) -> None:
    from alpaserve.runtime.runtime import Runtime

    with pytest.raises(ProfileError, match="no profile for model"):
        Runtime(two_group_placement(), devices=devices, profile=ProfileDB()).open()


def test_serving_needs_an_open_runtime(devices: list) -> None:
    from alpaserve.runtime.runtime import Runtime

    w = gamma_workload(rate=10.0, cv=1.0, n=2, models=["a"], seed=0)
    with pytest.raises(ExecutionError, match="not open"):
        Runtime(two_group_placement(), devices=devices).serve(w, slo=1.0)


def test_recalibrating_probes_and_then_predicts_with_the_result(runtime) -> None:
    before = runtime.profile
    probe = runtime.measure_serving_path()
    assert {e.key for e in probe} == {e.key for e in before}
    assert runtime.profile is before  # a probe is not predicted with
    fresh = runtime.recalibrate()
    assert runtime.profile is fresh
    assert set(runtime.stage_latencies()) == {(0, "a"), (0, "b"), (1, "a")}


def test_probing_needs_an_open_runtime(devices: list) -> None:
    from alpaserve.runtime.runtime import Runtime

    rt = Runtime(two_group_placement(), devices=devices)
    with pytest.raises(ExecutionError, match="not open"):
        rt.measure_serving_path()
    with pytest.raises(ExecutionError, match="not open"):
        rt.recalibrate()


def test_batches_run_as_one_array_with_the_weights_and_programs_reused(devices: list) -> None:
    import threading

    from alpaserve.runtime.executor import LocalGroupExecutor

    a = two_group_placement().models["a"]
    group = Group.uniform(name="pp2", device_ids=[0, 1], pipeline_degree=2, models=[a])
    ex = LocalGroupExecutor(group=group, specs={"a": a}, seed=0,
                            device_map=dict(enumerate(devices)), batch_sizes=(3,))
    with counting_compiles() as built:
        ex.build()
    pipe = ex._pipelines["a"]
    params = [stage.params for stage in pipe.stages]
    assert built  # (JAX's cache may hold sizes compiled by other tests' stages)
    done: dict[int, float] = {}
    stages: list[tuple[int, int, float, float]] = []
    finished = threading.Event()

    def on_done(rid: int, start: float, finish: float, err: BaseException | None) -> None:
        assert err is None
        done[rid] = finish
        if len(done) == 4:
            finished.set()

    with counting_compiles() as served:
        ex.start(on_done, lambda rid, k, b, e: stages.append((rid, k, b, e)))
        ex.submit_batch([7, 8, 9], "a")
        ex.submit(10, "a")
        assert finished.wait(60)
        ex.stop()
    assert served == []  # sizes 1 and 3 were compiled at build: serving compiles nothing
    assert done[7] == done[8] == done[9] != done[10]  # one batch, one finish
    by_stage = {(rid, k): (b, e) for rid, k, b, e in stages}
    assert by_stage[7, 1] == by_stage[9, 1]
    assert all(stage.params is before for stage, before in zip(pipe.stages, params,
                                                                strict=True))
    with counting_compiles() as again:
        out = pipe.forward(ex._tokens_for("a", 3))
    assert out.shape == (3, 8, 32)
    assert again == []
    with counting_compiles() as fresh:  # a size never built does compile: the count works
        pipe.forward(ex._tokens_for("a", 5)).block_until_ready()
    assert len(fresh) == 2
    ex.close()


@contextlib.contextmanager
def counting_compiles() -> Iterator[list[float]]:
    """The durations of the XLA compilations JAX runs inside the block."""
    import jax.monitoring

    seen: list[float] = []

    def listen(event: str, duration: float, **kw: object) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            seen.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        yield seen
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)


def test_batching_is_checked(devices: list) -> None:
    from alpaserve.errors import SpecError
    from alpaserve.runtime.runtime import Runtime

    with pytest.raises(SpecError, match="max_batch must be an integer >= 1"):
        Runtime(two_group_placement(), devices=devices, max_batch=0)
    assert Runtime(two_group_placement(), backend="ray", max_batch=2).batch_sizes == (1, 2)


def test_a_group_that_hosts_nothing_is_built_calibrated_and_idle(devices: list) -> None:
    # `alpaserve plan` leaves spare devices as empty groups; serving must take them as they are
    from alpaserve.runtime.runtime import Runtime

    a = tiny_spec("a", num_layers=2, hidden_size=32, ffn_size=64, seq_len=8)
    p = Placement(cluster=homogeneous_cluster(8, "cpu"), models={"a": a}, groups=(
        Group.uniform(name="g0", device_ids=[0], pipeline_degree=1, models=[a]),
        Group.uniform(name="g1", device_ids=[1], pipeline_degree=1, models=[])))
    with Runtime(p, devices=devices, repeats=2) as rt:
        r = rt.serve(gamma_workload(rate=40.0, cv=1.0, n=12, models=["a"], seed=4), slo=1.0)
    assert r.count(RequestStatus.SERVED) == 12
    assert set(r.group.tolist()) == {0}
