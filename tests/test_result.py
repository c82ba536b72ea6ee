"""SimResult statistics: the NumPy and compiled summaries agree; trimming; the DataFrame."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.errors import SimulationError
from simulator import DROPPED, SERVED, UNSERVED, SimResult
from simulator import fast as kernels
from simulator.result import percentiles_in_place, stats_window, summarize


def outcomes(rng: np.random.Generator, n: int, m: int) -> dict[str, np.ndarray]:
    arrival = np.sort(rng.uniform(0, 10, n))
    status = rng.choice([SERVED, DROPPED, UNSERVED], size=n, p=[0.7, 0.2, 0.1]).astype(np.int8)
    start = np.where(status == SERVED, arrival + rng.exponential(0.1, n), np.nan)
    finish = np.where(status == SERVED, start + rng.uniform(0.01, 0.5, n), np.nan)
    return {"arrival": arrival, "model_codes": rng.integers(0, m, n).astype(np.int32),
            "slo": rng.uniform(0.1, 0.6, n), "start": start, "finish": finish,
            "group": np.where(status == UNSERVED, -1, 0).astype(np.int32), "status": status}


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 300), st.integers(1, 4),
       st.sampled_from([(0, None), (2, 3)]))
def test_compiled_summary_equals_numpy(seed: int, n: int, m: int, trim: tuple) -> None:
    o = outcomes(np.random.default_rng(seed), n, m)
    if n < 5:
        trim = (0, None)
    i0, i1 = trim[0], (trim[1] and n - trim[1]) or n
    deadline = o["arrival"] + o["slo"]
    ref = summarize(o["arrival"], o["model_codes"], deadline, o["finish"], o["status"], i0, i1, m)
    req, good, buf = np.zeros(m, np.int64), np.zeros(m, np.int64), np.empty(max(i1 - i0, 0))
    served, dropped, unserved, total, nlat, max_finish = kernels.summary_kernel(
        o["arrival"], o["model_codes"], deadline, o["finish"], o["status"], i0, i1, req, good,
        buf, np.zeros(0, dtype=np.int32), np.zeros((0, 0), dtype=np.int64))
    np.testing.assert_array_equal(req, ref.requests_per_model)
    np.testing.assert_array_equal(good, ref.good_per_model)
    assert (served, dropped, unserved) == (ref.num_served, ref.num_dropped, ref.num_unserved)
    if nlat:
        assert total / nlat == ref.latency_mean  # same left-to-right sum
        assert percentiles_in_place(buf[:nlat]) == ref.latency_percentiles
        assert max_finish == ref.max_finish


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1e3, allow_nan=False), min_size=1, max_size=200))
def test_percentiles_match_numpy_linear(values: list[float]) -> None:
    a = np.array(values)
    expected = np.percentile(a, [50, 90, 99])
    np.testing.assert_allclose(percentiles_in_place(a.copy()), expected, rtol=1e-12, atol=1e-12)


def test_from_outcomes_statistics_by_hand() -> None:
    r = SimResult.from_outcomes(
        model_names=("a", "b"), group_names=("g0", "g1"),
        arrival=[0.0, 1.0, 2.0, 3.0], model_codes=[0, 0, 1, 1], slo=[1.0] * 4,
        start=[0.0, 1.5, np.nan, np.nan], finish=[0.5, 2.5, np.nan, np.nan],
        group=[0, 1, 0, -1], status=[SERVED, SERVED, DROPPED, UNSERVED],
        group_busy_seconds=[0.5, 2.0], group_num_stages=[1, 2])
    assert (r.num_requests, r.num_served, r.num_dropped, r.num_unserved, r.num_good) == \
        (4, 2, 1, 1, 1)
    assert r.attainment == 0.25
    assert dict(r.attainment_per_model) == {"a": 0.5, "b": 0.0}
    assert r.unmet_per_model == {"a": 1, "b": 2}
    assert r.latency_mean == 1.0
    assert r.latency_p50 == 1.0
    assert r.window == (0.0, 3.0)
    assert r.throughput == pytest.approx(2 / 3)
    assert r.group_busy_fraction == {"g0": pytest.approx(0.5 / 3), "g1": pytest.approx(2 / 6)}
    assert r.good.tolist() == [True, False, False, False]
    assert not r.finish.flags.writeable
    assert "attainment=0.2500" in repr(r)


def test_trimming_measures_only_the_window() -> None:
    r = SimResult.from_outcomes(
        model_names=("a",), group_names=(), arrival=[0.0, 1.0, 2.0, 3.0, 4.0],
        model_codes=[0] * 5, slo=[1.0] * 5, start=[0.0, 1.0, 2.0, 3.0, 4.0],
        finish=[0.1, 1.1, 9.0, 3.1, 4.1], group=[0] * 5, status=[SERVED] * 5,
        warmup=1.0, cooldown=1.0)
    assert r.window == (1.0, 3.0)
    assert r.measured == (1, 4)
    assert (r.num_requests, r.num_good) == (3, 2)
    assert stats_window(np.array([0.0, 1.0]), None, max_finish=5.0) == ((0.0, 5.0), (0, 2))


def test_empty_and_invalid_outcomes() -> None:
    r = SimResult.from_outcomes(model_names=("a",), group_names=("g",), arrival=[],
                                model_codes=[], slo=[], start=[], finish=[], group=[],
                                status=[])
    assert math.isnan(r.attainment)
    assert math.isnan(r.latency_p99)
    assert r.num_requests == 0
    with pytest.raises(SimulationError, match="shape"):
        SimResult.from_outcomes(model_names=("a",), group_names=(), arrival=[0.0],
                                model_codes=[0, 0], slo=[1.0], start=[0.0], finish=[1.0],
                                group=[0], status=[0])
    with pytest.raises(SimulationError, match="sorted"):
        SimResult.from_outcomes(model_names=("a",), group_names=(), arrival=[1.0, 0.0],
                                model_codes=[0, 0], slo=[1.0] * 2, start=[1.0, 0.0],
                                finish=[2.0, 1.0], group=[0, 0], status=[0, 0])
    with pytest.raises(SimulationError, match="status"):
        SimResult.from_outcomes(model_names=("a",), group_names=(), arrival=[0.0],
                                model_codes=[0], slo=[1.0], start=[0.0], finish=[1.0],
                                group=[0], status=[7])


def test_to_dataframe() -> None:
    pytest.importorskip("pandas")
    r = SimResult.from_outcomes(
        model_names=("a", "b"), group_names=("g0",), arrival=[0.0, 1.0],
        model_codes=[0, 1], slo=[1.0, 1.0], start=[0.0, np.nan], finish=[0.5, np.nan],
        group=[0, -1], status=[SERVED, UNSERVED])
    df = r.to_dataframe()
    assert df["model"].tolist() == ["a", "b"]
    assert df["status"].tolist() == ["served", "unserved"]
    assert df["group"].iloc[0] == "g0"
    assert df["group"].isna().iloc[1]
    assert df["latency"].iloc[0] == 0.5
    assert df["good"].tolist() == [True, False]
