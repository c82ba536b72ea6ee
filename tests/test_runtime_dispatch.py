"""The dispatch policy: earliest predicted finish, ties to the lower group, SLO admission."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpaserve.errors import SimulationError
from alpaserve.runtime.dispatch import Dispatcher, replay_predicted
from alpaserve.runtime.result import RequestStatus
from workloads import Workload


def test_ties_go_to_the_lower_group() -> None:
    d = Dispatcher(num_groups=3, stage_latencies={(2, "m"): (0.1,), (1, "m"): (0.1,)})
    assert d.decide("m", arrival=0.0, slo=1.0).group == 1
    assert d.decide("m", arrival=0.0, slo=1.0).group == 2  # group 1 now busy until 0.1
    assert d.decide("m", arrival=0.0, slo=1.0).group == 1


def test_pipeline_stages_overlap_across_requests() -> None:
    d = Dispatcher(num_groups=1, stage_latencies={(0, "m"): (0.1, 0.1)})
    finishes = [d.decide("m", arrival=0.0, slo=10.0).predicted_finish for _ in range(3)]
    np.testing.assert_allclose(finishes, [0.2, 0.3, 0.4])  # one stage time apart, not two


def test_dropped_requests_reserve_nothing() -> None:
    d = Dispatcher(num_groups=1, stage_latencies={(0, "m"): (0.1,)})
    assert d.decide("m", arrival=0.0, slo=0.05).status == RequestStatus.DROPPED
    assert d.decide("m", arrival=0.0, slo=0.1).predicted_finish == pytest.approx(0.1)


def test_observe_pushes_free_time_forward_only() -> None:
    d = Dispatcher(num_groups=1, stage_latencies={(0, "m"): (0.1,)})
    d.observe(0, 0, 0.5)
    assert d.decide("m", arrival=0.0, slo=1.0).predicted_finish == pytest.approx(0.6)
    d.observe(0, 0, 0.2)  # earlier than known: ignored
    assert d.decide("m", arrival=0.0, slo=1.0).predicted_finish == pytest.approx(0.7)


def test_now_later_than_arrival_delays_start() -> None:
    d = Dispatcher(num_groups=1, stage_latencies={(0, "m"): (0.1,)})
    dec = d.decide("m", arrival=0.0, slo=0.12, now=0.05)
    assert dec.status == RequestStatus.DROPPED
    assert dec.predicted_finish == pytest.approx(0.15)


def test_invalid_inputs_are_rejected() -> None:
    with pytest.raises(SimulationError, match="at least one group"):
        Dispatcher(num_groups=0, stage_latencies={})
    with pytest.raises(SimulationError, match="group 3"):
        Dispatcher(num_groups=2, stage_latencies={(3, "m"): (0.1,)})
    with pytest.raises(SimulationError, match="finite"):
        Dispatcher(num_groups=1, stage_latencies={(0, "m"): (float("nan"),)})
    with pytest.raises(SimulationError, match="2 stages"):
        Dispatcher(num_groups=1, stage_latencies={(0, "a"): (0.1, 0.1), (0, "b"): (0.1,)})


@given(gaps=st.lists(st.floats(0.0, 0.3), min_size=1, max_size=40),
       slo=st.floats(0.05, 1.0), lat0=st.floats(0.01, 0.2), lat1=st.floats(0.01, 0.2))
def test_replay_invariants(gaps: list[float], slo: float, lat0: float, lat1: float) -> None:
    w = Workload.from_arrays(arrival=np.cumsum(gaps), model="a", slo=slo)
    lats = {(0, "a"): (lat0, lat1), (1, "a"): (lat0 + lat1,)}
    r = replay_predicted(w, stage_latencies=lats, group_names=["g0", "g1"])
    served = r.status == RequestStatus.SERVED
    # every admitted request meets its SLO in the prediction; every dropped one would not
    assert np.all(r.latency[served] <= slo + 1e-9)
    assert np.all(r.start[served] >= r.arrival[served] - 1e-12)
    assert np.all(np.isnan(r.finish[~served]))
    assert np.all(r.group[~served] == -1)
    # one request at a time per stage: on each group, stage-0 starts are spaced by >= lat0
    for g, first in ((0, lat0), (1, lat0 + lat1)):
        starts = np.sort(r.start[r.group == g])
        assert np.all(np.diff(starts) >= first - 1e-9)
    assert r.attainment() == pytest.approx(served.mean())


@given(gaps=st.lists(st.floats(0.0, 0.3), min_size=1, max_size=40),
       slo=st.floats(0.05, 1.0), lat0=st.floats(0.01, 0.2), lat1=st.floats(0.01, 0.2),
       models=st.lists(st.sampled_from(["a", "b"]), min_size=40, max_size=40))
def test_dispatcher_makes_the_simulators_decisions(gaps: list[float], slo: float, lat0: float,
                                                   lat1: float, models: list[str]) -> None:
    """The runtime's online dispatcher, replayed in virtual time, is the simulator's policy."""
    from alpaserve.cluster_spec import homogeneous_cluster
    from alpaserve.model_spec import ModelSpec
    from alpaserve.placement_spec import Group, Placement
    from alpaserve.profiles import ProfileDB, ProfileEntry
    from simulator import SERVED, simulate

    specs = {n: ModelSpec(name=n, family="bert", num_layers=2, hidden_size=64, num_heads=4,
                          ffn_size=256, vocab_size=100, seq_len=16) for n in ("a", "b")}
    groups = (Group.uniform(name="g0", device_ids=[0, 1], pipeline_degree=2,
                            models=list(specs.values())),
              Group.uniform(name="g1", device_ids=[2], pipeline_degree=1,
                            models=[specs["a"]]))
    placement = Placement(cluster=homogeneous_cluster(4, "cpu"), models=specs, groups=groups)
    db = ProfileDB()
    lats: dict[tuple[int, str], tuple[float, ...]] = {}
    for g, group in enumerate(groups):
        for name, config in group.models.items():
            stage_lats = (lat0, lat1) if group.num_stages == 2 else (lat0 + lat1,)
            lats[(g, name)] = stage_lats
            db.add(ProfileEntry(model=name, config=config, batch_size=1,
                                stage_latencies=stage_lats,
                                stage_weight_bytes=(0,) * len(stage_lats),
                                stage_peak_memory_bytes=(0,) * len(stage_lats),
                                source="measured"))
    w = Workload.from_arrays(arrival=np.cumsum(gaps), model=models[:len(gaps)], slo=slo)
    predicted = replay_predicted(w, stage_latencies=lats, group_names=["g0", "g1"])
    simulated = simulate(placement, db, w)
    assert predicted.status.tolist() == simulated.status.tolist()
    served = simulated.status == SERVED
    assert np.allclose(predicted.finish[served], simulated.finish[served], atol=1e-9)
    assert predicted.group[served].tolist() == simulated.group[served].tolist()


def _batching(max_batch: int = 4) -> Dispatcher:
    return Dispatcher(num_groups=2, max_batch=max_batch,
                      stage_latencies={(0, "m"): (0.125,), (0, "n"): (0.125,),
                                       (1, "m"): (0.375,)},
                      batch_latencies={(0, "m"): {2: (0.15,), 4: (0.2,), 8: (0.3,)},
                                       (1, "m"): {4: (0.5,)}})


def test_batching_queues_by_the_estimate_behind_the_queue() -> None:
    d = _batching()
    assert d.batching
    assert d.batch_sizes(0, "m") == (1, 2, 4)
    groups = [d.decide("m", arrival=0.0, slo=10.0, request=i).group for i in range(4)]
    # g0's queue grows by 0.125 per request; g1 (0.375) wins once g0's estimate passes it
    assert groups == [0, 0, 0, 1]
    assert (d.queued(0), d.queued(1)) == (3, 1)


def test_a_batch_is_the_largest_fitting_size_of_the_heads_model() -> None:
    d = _batching()
    for i, model in enumerate(["m", "n", "m", "m"]):
        d.decide(model, arrival=0.0, slo=10.0, request=i)
    f = d.form_batch(0, 0.0)
    assert f.model == "m"
    assert f.members == (0, 2)
    assert f.size == 2
    assert f.predicted_finish == pytest.approx(0.15)
    nxt = d.form_batch(0, 0.15)
    assert nxt.members == (1,)
    assert nxt.predicted_start == pytest.approx(0.15)


def test_a_head_no_batch_can_serve_in_time_is_dropped() -> None:
    d = _batching()
    d.decide("m", arrival=0.0, slo=0.13, request=0)  # alone it would finish at 0.125
    d.decide("n", arrival=0.0, slo=10.0, request=1)
    f = d.form_batch(0, 0.05)  # stage 0 frees late: 0.175 > 0.13
    assert f.dropped == (0,)
    assert f.members == (1,)
    assert d.form_batch(0, 1.0).size == 0
    assert d.queued(0) == 0


def test_batching_admission_uses_the_optimistic_estimate() -> None:
    d = _batching(max_batch=2)
    dec = d.decide("n", arrival=0.0, slo=0.05, request=0)
    assert dec.status == RequestStatus.DROPPED
    assert dec.group == 0
    assert not dec.queued
    with pytest.raises(SimulationError, match="needs the request's id"):
        d.decide("m", arrival=0.0, slo=1.0)
    with pytest.raises(SimulationError, match="max_batch must be an integer"):
        Dispatcher(num_groups=1, stage_latencies={(0, "m"): (0.1,)}, max_batch=0)
    with pytest.raises(SimulationError, match="batch-2 latencies"):
        Dispatcher(num_groups=1, stage_latencies={(0, "m"): (0.1,)}, max_batch=2,
                   batch_latencies={(0, "m"): {2: (0.1, 0.1)}})
