"""The recording kernel of the common case equals the general kernel, field for field."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import SimulationOptions, compile_placement, prepare
from simulator.engine import kernels
from simulator.engine.driver import run_fast
from simulator.engine.record import recordable
from simulator.result import SimResult
from tests._fixtures_simulator import random_scenario

GENERAL = (kernels.pipeline_kernel, kernels.batching_kernel, kernels.summary_kernel)
FIELDS = ("status", "start", "finish", "group", "batch_size")
STATS = ("num_served", "num_dropped", "num_unserved", "num_good", "attainment", "window",
         "latency_mean", "latency_p50", "latency_p90", "latency_p99", "throughput")


def assert_same(a: SimResult, b: SimResult) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for name in STATS:
        assert getattr(a, name) == getattr(b, name) or (
            np.isnan(getattr(a, name)) and np.isnan(getattr(b, name))), name
    assert dict(a.good_per_model) == dict(b.good_per_model)
    assert dict(a.requests_per_model) == dict(b.requests_per_model)
    assert dict(a.group_busy_fraction) == dict(b.group_busy_fraction)


@settings(max_examples=200)
@given(st.integers(0, 2**31 - 1), st.sampled_from([0.3, 1.0, 4.0, 10.0]),
       st.sampled_from([0.5, 1.0, 3.0]), st.booleans(), st.booleans(), st.booleans(),
       st.sampled_from([0.0, 0.004]), st.sampled_from([(0.0, 0.0), (0.2, 0.0), (0.1, 0.3)]),
       st.sampled_from(["earliest-finish", "alpaserve"]), st.sampled_from([0.0, 0.009]))
def test_record_kernel_equals_general_kernel(seed: int, cv: float, slo_scale: float,
                                             grid: bool, admission: bool,
                                             per_request_slo: bool, overhead: float,
                                             trim: tuple[float, float], policy: str,
                                             inflation: float) -> None:
    """Both policies it takes, also with trimming (a measured window, busy time clipped;
    as fractions of the workload's duration) and AlpaServe's stage inflation."""
    sc = random_scenario(seed, n=150, cv=cv, slo_scale=slo_scale, grid=grid,
                         per_request_slo=per_request_slo)
    duration = sc.workload.duration
    options = SimulationOptions(admission=admission, request_overhead=overhead, threads=1,
                                warmup=trim[0] * duration, cooldown=trim[1] * duration,
                                policy=policy, stage_inflation=inflation)
    prepared = prepare(sc.workload, sc.slo)
    tables = compile_placement(sc.placement, sc.profiles, prepared.model_names,
                               stage_inflation=inflation)
    if tables.num_groups == 0:
        return
    assert recordable(tables, len(prepared.model_names), options)
    assert_same(run_fast(prepared, tables, options),
                run_fast(prepared, tables, options, kernels=GENERAL))


def test_only_the_common_case_is_recordable() -> None:
    sc = random_scenario(5, n=20)
    prepared = prepare(sc.workload, sc.slo)
    tables = compile_placement(sc.placement, sc.profiles, prepared.model_names)
    M = len(prepared.model_names)
    plain = SimulationOptions()
    assert recordable(tables, M, plain)
    assert recordable(tables, M, plain.with_(warmup=1.0))  # on one thread
    assert recordable(tables, M, SimulationOptions.alpaserve())  # on one thread
    for other in (plain.with_(max_batch=4), plain.with_(record_stages=True),
                  plain.with_(policy="least-outstanding")):
        assert not recordable(tables, M, other)
