"""Stationarity checks: profile drift, the service tail, tolerances (no real time)."""

from __future__ import annotations

import numpy as np
import pytest

from alpaserve.errors import SimulationError, SpecError
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles import ProfileDB, ProfileEntry
from alpaserve.runtime.host_load import HostLoad
from alpaserve.runtime.stationarity import (
    Stationarity,
    Tolerance,
    alone_speed,
    profile_drift,
    service_tail,
)
from tests._fixtures_runtime import BUSY, QUIET, seen


def profile(**totals: float) -> ProfileDB:
    cfg = ParallelConfig.uniform(num_layers=2, pipeline_degree=1)
    return ProfileDB(ProfileEntry(model=m, config=cfg, batch_size=1, stage_latencies=(t,),
                                  stage_weight_bytes=(1,), stage_peak_memory_bytes=(1,),
                                  source="measured") for m, t in totals.items())


def test_profile_drift_is_the_total_latency_ratio() -> None:
    drift = profile_drift(profile(a=1e-3, b=2e-3), profile(a=1.1e-3, b=1.8e-3, c=5.0))
    assert drift == pytest.approx({"a/pp1-tp1/bs1": 0.1, "b/pp1-tp1/bs1": -0.1})
    with pytest.raises(SimulationError, match=r"no entry for 'b' pp1-tp1 bs=1"):
        profile_drift(profile(a=1e-3, b=2e-3), profile(a=1e-3))
    with pytest.raises(SimulationError, match="non-empty"):
        profile_drift(ProfileDB(), profile(a=1e-3))


def test_service_tail_is_p99_over_p50_of_enough_finite_times() -> None:
    steady = np.full(200, 1e-3)
    assert service_tail(steady) == pytest.approx(1.0)
    stalled = steady.copy()
    stalled[-4:] = 8e-3  # four of 200 requests hit a stall: p99 lands among them
    tail = service_tail(stalled)
    assert tail is not None
    assert tail > 3.5
    assert service_tail(np.full(49, 1e-3)) is None  # too few for a p99
    assert service_tail(np.r_[np.full(40, 1e-3), np.full(20, np.nan)]) is None
    assert service_tail(np.zeros(100)) is None


def test_tolerance_validates_and_violations_name_the_numbers() -> None:
    with pytest.raises(SpecError, match=r"Tolerance.max_drift must be a non-negative number, "
                                        r"got -0.1"):
        Tolerance(max_drift=-0.1)
    with pytest.raises(SpecError, match="max_other_cores"):
        Tolerance(max_other_cores=float("nan"))
    with pytest.raises(SpecError, match="max_steal_cores"):
        Tolerance(max_steal_cores=-1)
    with pytest.raises(SpecError, match="max_tail"):
        Tolerance(max_tail=-1)
    tol = Tolerance(max_drift=0.1, max_other_cores=0.2, max_steal_cores=0.01)
    assert seen(0.05).violations(tol) == ()
    assert seen(-0.12).violations(tol) == ("speed drifted -12.0% (a/pp1-tp1/bs1; max 10%)",)
    assert seen(0.0, BUSY).violations(tol) == ("other processes took 0.950 cores (max 0.200)",
                                               "the hypervisor stole 0.020 cores (max 0.010)")
    assert len(seen(0.3, BUSY).violations(tol)) == 3
    unknown = HostLoad(wall=1.0, other_cores=None, steal_cores=None, own_cores=0.1)
    assert seen(0.0, unknown).violations(tol) == ()  # unmeasurable load is not held against it
    assert "others' load unknown" in seen(0.0, unknown).describe()
    assert "other processes 0.950 cores, steal 0.020 cores" in seen(0.0, BUSY).describe()
    stalled = Stationarity(drift={"a": 0.0}, load=QUIET, tail=6.0)
    assert stalled.violations(Tolerance(max_tail=3.5)) == (
        "service times p99/p50 6.0 (max 3.5): stages stalled during the run",)
    assert "service p99/p50 6.0" in stalled.describe()
    assert stalled.to_dict()["tail"] == 6.0
    both = Stationarity(drift={"a": 0.05, "b": -0.2}, load=QUIET)
    assert both.worst_drift == -0.2
    assert both.to_dict()["worst_drift"] == -0.2


def test_a_skewed_contention_calibration_marks_the_host_unsteady() -> None:
    with pytest.raises(SpecError, match="max_calibration_skew"):
        Tolerance(max_calibration_skew=-0.5)
    skewed = Stationarity(drift={"a": 0.0}, load=QUIET, calibration_skew=0.47)
    assert skewed.violations(Tolerance()) == (
        "the contention calibration's lone stage was +47.0% off its lone timing (max 15%): "
        "the host's speed changed while calibrating",)
    assert "calibration skew +47.0%" in skewed.describe()
    assert skewed.to_dict()["calibration_skew"] == 0.47
    held = Stationarity(drift={"a": 0.0}, load=QUIET, calibration_skew=-0.08)
    assert held.violations(Tolerance()) == ()
    assert Stationarity(drift={}, load=QUIET).to_dict()["calibration_skew"] is None


def test_contention_calibrations_that_moved_during_the_run_mark_the_host_unsteady() -> None:
    with pytest.raises(SpecError, match="max_calibration_shift"):
        Tolerance(max_calibration_shift=-0.1)
    moved = Stationarity(drift={"a": 0.0}, load=QUIET, calibration_shift=0.31)
    assert moved.violations(Tolerance()) == (
        "the contention calibrations before and after the run differ by 31.0% (max 20%): "
        "the host's speed changed during the run",)
    assert "calibration shift 31.0%" in moved.describe()
    assert moved.to_dict()["calibration_shift"] == 0.31
    assert Stationarity(drift={"a": 0.0}, load=QUIET, calibration_shift=0.12).violations(
        Tolerance()) == ()
    assert moved.violations(Tolerance(max_calibration_shift=0.5)) == ()
    assert Stationarity(drift={}, load=QUIET).to_dict()["calibration_shift"] is None


def test_alone_speed_counts_only_runs_that_overlap_no_other() -> None:
    # runs 0 and 1 overlap; 2-5 are alone, at 1.0, 1.6, 1.2 and 1.0 times their lone time
    begin = [0.0, 0.5, 2.0, 3.0, 4.0, 5.0]
    end = [1.0, 1.5, 2.5, 3.8, 4.6, 5.5]
    lone = [1.0, 1.0, 0.5, 0.5, 0.5, 0.5]
    assert alone_speed(begin, end, lone, min_runs=4) == pytest.approx(0.1)
    assert alone_speed(begin, end, lone, min_runs=5) is None  # only four alone
    # a run nested inside a long one is not alone, nor is the long one
    assert alone_speed([0.0, 0.2, 2.0], [1.0, 0.4, 2.4], [1.0, 0.2, 0.2], min_runs=1) \
        == pytest.approx(1.0)
    # touching ends are not overlaps; order does not matter
    assert alone_speed([1.0, 0.0], [2.0, 1.0], [1.0, 1.0], min_runs=2) == 0.0
    assert alone_speed([], [], []) is None


def test_lone_stage_runs_at_another_speed_mark_the_host_unsteady() -> None:
    with pytest.raises(SpecError, match="max_alone_speed"):
        Tolerance(max_alone_speed=-1.0)
    slow = Stationarity(drift={"a": 0.0}, load=QUIET, alone_speed=0.35)
    assert slow.violations(Tolerance()) == (
        "stages running alone took +35.0% of their calibrated lone time (max 20%): the host "
        "ran at another speed during the run",)
    assert "lone stage runs +35.0%" in slow.describe()
    assert slow.to_dict()["alone_speed"] == 0.35
    assert Stationarity(drift={"a": 0.0}, load=QUIET, alone_speed=-0.1).violations(
        Tolerance()) == ()
    assert Stationarity(drift={}, load=QUIET).to_dict()["alone_speed"] is None
