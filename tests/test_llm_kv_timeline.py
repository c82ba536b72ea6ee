"""The KV timeline: its recording rule, the bounded downsampling (offline and the compiled
engine's online one agree), and its invariants on real runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.errors import SimulationError
from simulator.llm.config import SchedulerConfig, ServedModel
from simulator.llm.engine import run_compiled
from simulator.llm.engine import timeline as online
from simulator.llm.kv_timeline import (
    DEFAULT_KV_TIMELINE_POINTS,
    ChangeLog,
    KVTimeline,
    bucket_stride,
    downsample,
    timeline_points,
)
from simulator.llm.prepared import prepare_llm
from simulator.llm.simulate import simulate_llm
from tests._fixtures_llm_cases import Case, cases, flat_cost, one_group
from workloads.workload import Workload


def test_timeline_points() -> None:
    assert timeline_points(False) == 0
    assert timeline_points(True) == DEFAULT_KV_TIMELINE_POINTS
    assert timeline_points(np.int64(7)) == 7
    for bad in (3, 0, -1, 2.5, "many", None):
        with pytest.raises(SimulationError, match="kv_timeline must be"):
            timeline_points(bad)  # type: ignore[arg-type]


def test_change_log_keeps_the_settled_value_of_each_instant() -> None:
    log = ChangeLog()
    log.record(0.0, 0)  # no change from the initial 0
    log.record(1.0, 4)
    log.record(1.0, 6)  # the same instant: replaced
    log.record(2.0, 6)  # no change
    log.record(3.0, 2)
    log.record(3.0, 6)  # back to the value before the instant: the point goes
    log.record(4.0, 0)
    assert (log.times, log.blocks) == ([1.0, 4.0], [6, 0])


def test_downsample_keeps_first_peak_and_last_of_each_bucket() -> None:
    t = np.arange(12, dtype=float)
    b = np.array([1, 3, 2, 9, 4, 4, 5, 1, 2, 8, 8, 0])
    same_t, same_b = downsample(t, b, 12)  # at the cap: exact
    assert same_t.tolist() == t.tolist()
    assert same_b.tolist() == b.tolist()
    # cap 11: 5 buckets; 12 changes need k = 4 (3 buckets): [1 3 2 9] [4 4 5 1] [2 8 8 0]
    kept_t, kept_b = downsample(t, b, 11)
    assert bucket_stride(12, 11) == 4
    assert kept_t.tolist() == [0, 3, 4, 6, 8, 9, 11]
    assert kept_b.tolist() == [1, 9, 4, 5, 2, 8, 0]
    with pytest.raises(SimulationError, match="one length"):
        downsample(t, b[:3], 8)


@st.composite
def change_streams(draw: st.DrawFn) -> list[tuple[float, int]]:
    """Calls to ``record``: non-decreasing times (repeats included), small block counts."""
    steps = draw(st.lists(st.tuples(st.sampled_from([0.0, 0.0, 0.5, 1.0]),
                                    st.integers(0, 12)), max_size=150))
    t = np.cumsum([dt for dt, _ in steps]).tolist()
    return [(ti, b) for ti, (_, b) in zip(t, steps, strict=True)]


@settings(max_examples=150, deadline=None)
@given(stream=change_streams(), cap=st.integers(4, 24))
def test_online_downsampling_matches_the_offline_one(stream: list[tuple[float, int]],
                                                     cap: int) -> None:
    log = ChangeLog()
    state = online.new_state(cap)
    for t, b in stream:
        log.record(t, b)
        online.record(state, t, b)
    online.close(state)
    times, blocks, changes = online.points(state)
    want_t, want_b = downsample(log.times, log.blocks, cap)
    assert changes == len(log.times)
    np.testing.assert_array_equal(times, want_t)
    np.testing.assert_array_equal(blocks, want_b)
    assert times.size <= cap
    if log.times:  # every peak survives, and the last change
        assert blocks.max() == max(log.blocks)
        assert (times[-1], blocks[-1]) == (log.times[-1], log.blocks[-1])
        assert np.all(np.diff(times) > 0)


def check_timeline(case: Case, cap: int | bool) -> None:
    """Invariants of a recorded timeline against the run's own totals."""
    prepared = prepare_llm(case.workload, case.deployment)
    out = run_compiled(prepared, case.deployment, kv_timeline=cap)
    line = out.kv_timeline
    assert line is not None
    exact = run_compiled(prepared, case.deployment, kv_timeline=True).kv_timeline
    assert exact is not None
    assert exact.exact.all()
    for g, (t, b) in enumerate(zip(line.times, line.blocks, strict=True)):
        assert t.size <= line.max_points
        assert np.all(np.diff(t) > 0)
        assert np.all(b >= 0)
        assert np.all(b <= line.capacity[g])
        if t.size:
            assert b[-1] == 0  # every request finishes and frees its blocks
            assert b.max() == exact.blocks[g].max()
        if line.exact[g]:
            np.testing.assert_array_equal(t, exact.times[g])
    np.testing.assert_allclose(exact.block_seconds(), out.kv_block_seconds, rtol=1e-9, atol=0)


@settings(max_examples=40, deadline=None)
@given(case=cases(max_requests=30), cap=st.sampled_from([4, 7, 16]))
def test_timeline_invariants_on_random_deployments(case: Case, cap: int) -> None:
    check_timeline(case, cap)


def test_a_known_timeline_and_its_frame_and_json() -> None:
    # one request of 4 prompt tokens and 3 outputs, 2-token blocks, 1 s per iteration:
    # prefill holds 2 blocks at t=0; the decode at t=1 stores token 5 (a 3rd block); done at 3
    dep = one_group(ServedModel(model="m", cost=flat_cost(1.0), kv_blocks=8),
                    scheduler=SchedulerConfig(block_size=2))
    w = Workload.from_arrays(arrival=[0.0], model="m", prompt_tokens=[4], output_tokens=[3])
    result = simulate_llm(dep, w, kv_timeline=True)
    line = result.kv_timeline
    assert isinstance(line, KVTimeline)
    assert line.times[0].tolist() == [0.0, 1.0, 3.0]
    assert line.blocks[0].tolist() == [2, 3, 0]
    assert line.block_seconds()[0] == result.kv_block_seconds[0] == 2 + 3 * 2
    ref = simulate_llm(dep, w, engine="reference", kv_timeline=True).kv_timeline
    assert ref is not None
    assert ref.to_dict() == line.to_dict()
    frame = result.kv_timeline_frame()
    assert frame["utilisation"].tolist() == [0.25, 0.375, 0.0]
    assert list(frame["group"].astype(str)) == ["g0"] * 3
    doc = result.to_dict()
    assert doc["kv_timeline"]["groups"]["g0"] == {
        "times": [0.0, 1.0, 3.0], "blocks": [2, 3, 0], "capacity_blocks": 8, "changes": 3,
        "exact": True}
    json.dumps(doc, allow_nan=False)
    assert line.utilisation()["g0"][1].tolist() == [0.25, 0.375, 0.0]


def test_off_by_default() -> None:
    dep = one_group(ServedModel(model="m", cost=flat_cost(1.0), kv_blocks=8))
    w = Workload.from_arrays(arrival=[0.0], model="m", prompt_tokens=[4], output_tokens=[3])
    result = simulate_llm(dep, w)
    assert result.kv_timeline is None
    assert "kv_timeline" not in result.to_dict()
    with pytest.raises(SimulationError, match="no KV timeline"):
        result.kv_timeline_frame()
    with pytest.raises(SimulationError, match="kv_timeline must be"):
        simulate_llm(dep, w, kv_timeline=2)


def test_a_group_without_requests_has_an_empty_timeline() -> None:
    dep = one_group(ServedModel(model="m", cost=flat_cost(1.0), kv_blocks=8))
    w = Workload.from_arrays(arrival=np.empty(0), model="m", prompt_tokens=np.empty(0, int),
                             output_tokens=np.empty(0, int))
    line = run_compiled(prepare_llm(w, dep), dep, kv_timeline=8).kv_timeline
    assert line is not None
    assert line.times[0].size == 0
    assert line.changes.tolist() == [0]
    assert line.block_seconds().tolist() == [0.0]
    assert len(line.to_frame()) == 0
    with pytest.raises(SimulationError, match="1 groups but"):
        KVTimeline(groups=("a",), times=(), blocks=(), capacity=np.zeros(1, np.int64),
                   changes=np.zeros(1, np.int64), max_points=8)
