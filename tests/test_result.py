"""SimResult: statistics by hand, trimming, bad outcomes, lazy columns, the DataFrame."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alpaserve.errors import SimulationError
from simulator import DROPPED, SERVED, UNSERVED, SimResult
from simulator.summary import stats_window


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


def test_per_model_slos_and_batch_sizes_are_formed_on_first_use() -> None:
    common = {"model_names": ("a", "b"), "group_names": ("g",), "arrival": [0.0, 0.5, 1.0],
              "model_codes": [0, 1, 1], "start": [0.0, np.nan, 1.0],
              "finish": [0.4, np.nan, 2.5], "group": [0, 0, 0],
              "status": [SERVED, DROPPED, SERVED]}
    lazy = SimResult.from_outcomes(slo_of_model=[1.0, 2.0], **common)
    eager = SimResult.from_outcomes(slo=[1.0, 2.0, 2.0], batch_size=[1, 0, 1], **common)
    assert "slo" not in vars(lazy)
    assert "batch_size" not in vars(lazy)
    assert lazy.slo.tolist() == eager.slo.tolist() == [1.0, 2.0, 2.0]
    assert lazy.batch_size.tolist() == eager.batch_size.tolist() == [1, 0, 1]
    assert lazy.good.tolist() == eager.good.tolist() == [True, False, True]
    assert not lazy.slo.flags.writeable
    assert not lazy.batch_size.flags.writeable
    assert (lazy.attainment, lazy.num_good) == (eager.attainment, eager.num_good)
    with pytest.raises(SimulationError, match="exactly one of slo"):
        SimResult.from_outcomes(**common)
    with pytest.raises(SimulationError, match="exactly one of slo"):
        SimResult.from_outcomes(slo=[1.0] * 3, slo_of_model=[1.0, 1.0], **common)
    with pytest.raises(SimulationError, match=r"slo_of_model has shape \(3,\), expected \(2,\)"):
        SimResult.from_outcomes(slo_of_model=[1.0] * 3, **common)
