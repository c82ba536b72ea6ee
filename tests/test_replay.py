"""The replay of measured service times (simulator/replay.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.errors import SimulationError
from simulator import SimulationOptions, simulate
from simulator.replay import replay_measured, run_stages
from simulator.semantics import compile_placement
from tests._fixtures_simulator import random_scenario
from workloads import Workload


def _profiled_service(sc) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Every request's profiled stage latencies on every group (the same on all hosts)."""
    tables = compile_placement(sc.placement, sc.profiles, sc.workload.model_names)
    depth = int(tables.num_stages.max())
    return np.full((len(sc.workload), depth), np.nan), tables


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 10_000), cv=st.sampled_from([0.5, 1.0, 4.0]))
def test_profiled_service_times_reproduce_the_simulator(seed: int, cv: float) -> None:
    sc = random_scenario(seed, n=80, cv=cv)
    service, _ = _profiled_service(sc)  # NaN: the replay takes the profiled latency
    for feedback in (True, False):
        rep = replay_measured(sc.placement, sc.profiles, sc.workload, service=service,
                              slo=sc.slo, feedback=feedback).result
        sim = simulate(sc.placement, sc.profiles, sc.workload, slo=sc.slo)
        np.testing.assert_array_equal(rep.status, sim.status)
        np.testing.assert_array_equal(rep.group, sim.group)
        np.testing.assert_array_equal(rep.start, sim.start)
        np.testing.assert_array_equal(rep.finish, sim.finish)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), cv=st.sampled_from([0.5, 4.0]),
       max_batch=st.sampled_from([2, 4, 8]), engine=st.sampled_from(["reference", "fast"]))
def test_profiled_service_times_reproduce_the_simulators_batching(seed: int, cv: float,
                                                                   max_batch: int,
                                                                   engine: str) -> None:
    sc = random_scenario(seed, n=80, cv=cv)
    service, _ = _profiled_service(sc)
    sim = simulate(sc.placement, sc.profiles, sc.workload,
                   SimulationOptions(max_batch=max_batch, engine=engine), slo=sc.slo)
    for feedback in (True, False):
        rep = replay_measured(sc.placement, sc.profiles, sc.workload, service=service,
                              slo=sc.slo, feedback=feedback, max_batch=max_batch)
        np.testing.assert_array_equal(rep.result.status, sim.status)
        np.testing.assert_array_equal(rep.result.group, sim.group)
        np.testing.assert_array_equal(rep.result.batch_size, sim.batch_size)
        np.testing.assert_array_equal(rep.result.start, sim.start)
        np.testing.assert_array_equal(rep.result.finish, sim.finish)


def test_a_batch_waits_for_stage_0_and_its_formation_delay() -> None:
    sc = next(s for s in (random_scenario(seed, n=3, max_groups=1, max_models=1, max_stages=1)
                          for seed in range(100)) if s.placement.groups[0].models)
    w = Workload.from_arrays(arrival=[0.0, 0.0, 0.0], model=sc.workload.model_names[0],
                             model_names=sc.workload.model_names)
    handoff = np.zeros((3, 1))
    handoff[0, 0] = 0.01  # the first formation comes 10 ms late and takes all three
    rep = replay_measured(sc.placement, sc.profiles, w, service=np.full((3, 1), 0.5),
                          handoff=handoff, slo=1e9, max_batch=4)
    assert rep.result.batch_size.tolist() == [2, 2, 1]  # sizes 1, 2, 4: three take 2 + 1
    assert rep.result.start.tolist() == [0.01, 0.01, 0.51]
    assert rep.formed is not None
    assert rep.formed.tolist() == [0.01, 0.01, 0.51]


def test_slower_stages_feed_back_into_admission() -> None:
    sc = random_scenario(3, n=60, cv=4.0)
    service, tables = _profiled_service(sc)
    served = simulate(sc.placement, sc.profiles, sc.workload, slo=sc.slo).status == 0
    lat1 = tables.lat[:, :, 0, :]
    for i in range(len(sc.workload)):  # every stage really takes twice its profile
        service[i, :] = 2 * lat1[:, sc.workload.model_codes[i], :].max(axis=0)
    with_feedback = replay_measured(sc.placement, sc.profiles, sc.workload, service=service,
                                    slo=sc.slo, feedback=True).result
    blind = replay_measured(sc.placement, sc.profiles, sc.workload, service=service,
                            slo=sc.slo, feedback=False).result
    assert np.array_equal(blind.status == 0, served)  # decisions use only the profile
    assert (with_feedback.status == 0).sum() <= served.sum()


def test_a_decision_after_arrival_delays_the_start() -> None:
    sc = next(s for s in (random_scenario(seed, n=1, max_groups=1, max_models=1)
                          for seed in range(100)) if s.placement.groups[0].models)
    service, _ = _profiled_service(sc)
    late = sc.workload.arrival + 0.01
    rep = replay_measured(sc.placement, sc.profiles, sc.workload, service=service,
                          decided=late, slo=1e9).result
    assert rep.start[0] == late[0]


@given(gaps=st.lists(st.floats(0.0, 2.0), min_size=1, max_size=20),
       service=st.lists(st.floats(0.01, 1.0), min_size=3, max_size=3))
def test_stages_are_fifo_and_overlap(gaps: list[float], service: list[float]) -> None:
    busy = [-np.inf] * 3
    previous_begins = None
    for ready in np.cumsum(gaps):
        begins = run_stages(float(ready), busy, service)
        assert begins[0] >= ready
        for k in range(1, 3):  # a stage starts after this request's previous stage ends
            assert begins[k] >= begins[k - 1] + service[k - 1]
        if previous_begins is not None:  # FIFO: never before the previous request
            assert all(b >= p for b, p in zip(begins, previous_begins, strict=True))
        previous_begins = begins


def test_bad_inputs_name_the_problem() -> None:
    sc = random_scenario(7, n=5)
    service, _ = _profiled_service(sc)
    with pytest.raises(SimulationError, match="service must have shape"):
        replay_measured(sc.placement, sc.profiles, sc.workload, service=service[:2])
    with pytest.raises(SimulationError, match="finite and non-negative"):
        replay_measured(sc.placement, sc.profiles, sc.workload, service=-np.ones_like(service))
    with pytest.raises(SimulationError, match="at or after its request's arrival"):
        replay_measured(sc.placement, sc.profiles, sc.workload, service=service,
                        decided=sc.workload.arrival - 1.0)
    empty = Workload.from_arrays(arrival=[], model=[], model_names=sc.workload.model_names)
    out = replay_measured(sc.placement, sc.profiles, empty, service=np.zeros((0, 8)), slo=1.0)
    assert len(out.result.status) == 0
