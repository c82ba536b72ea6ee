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
