"""Stationarity checks: host load arithmetic, profile drift, and the retry logic (no real time)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alpaserve.errors import SimulationError, SpecError
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles import ProfileDB, ProfileEntry
from alpaserve.runtime.stationarity import (
    CpuSample,
    HostLoad,
    Stationarity,
    Tolerance,
    cpu_sample,
    host_load,
    parse_proc_stat,
    profile_drift,
    run_until_steady,
    service_tail,
)

QUIET = HostLoad(wall=3.0, other_cores=0.01, steal_cores=0.0, own_cores=0.2)
BUSY = HostLoad(wall=3.0, other_cores=0.95, steal_cores=0.02, own_cores=0.2)


def profile(**totals: float) -> ProfileDB:
    cfg = ParallelConfig.uniform(num_layers=2, pipeline_degree=1)
    return ProfileDB(ProfileEntry(model=m, config=cfg, batch_size=1, stage_latencies=(t,),
                                  stage_weight_bytes=(1,), stage_peak_memory_bytes=(1,),
                                  source="measured") for m, t in totals.items())


def seen(drift: float, load: HostLoad = QUIET) -> Stationarity:
    return Stationarity(drift={"a/pp1-tp1/bs1": drift}, load=load)


def test_parse_proc_stat_reads_the_aggregate_line() -> None:
    text = "cpu0 1 1 1 1 1 1 1 1\ncpu  10 2 3 100 4 5 6 7 8 9\nintr 1\n"
    assert parse_proc_stat(text) == (26.0, 7.0)  # user+nice+system+irq+softirq; steal
    assert parse_proc_stat("cpu 1 2 3 4 5 6 7") == (19.0, 0.0)  # old kernels: no steal
    with pytest.raises(SimulationError, match="no aggregate 'cpu' line"):
        parse_proc_stat("cpu0 1 2 3 4 5 6 7 8\n")
    with pytest.raises(SimulationError, match="fewer than 7 fields"):
        parse_proc_stat("cpu 1 2 3\n")
    with pytest.raises(SimulationError, match="malformed /proc/stat line 'cpu 1 x"):
        parse_proc_stat("cpu 1 x 3 4 5 6 7 8\n")


def test_cpu_sample_reads_a_stat_file_or_reports_unknown(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 100 500 0 0 0 40 0 0\n")
    ticks = iter([5.0, 7.0])
    a = cpu_sample(stat_path=str(stat), clock=lambda: next(ticks))
    assert a.wall == 5.0
    assert a.busy is not None
    assert a.steal is not None
    assert a.steal / a.busy == pytest.approx(0.2)
    b = cpu_sample(stat_path=str(stat), clock=lambda: next(ticks))
    load = host_load(a, b)
    assert load.wall == 2.0
    assert load.steal_cores == 0.0
    missing = cpu_sample(stat_path=str(tmp_path / "absent"))
    assert missing.busy is None
    assert missing.steal is None


def test_host_load_subtracts_own_time_and_clamps() -> None:
    a = CpuSample(wall=10.0, own=1.0, busy=50.0, steal=1.0)
    b = CpuSample(wall=14.0, own=3.0, busy=56.0, steal=1.4)
    load = host_load(a, b)
    assert (load.other_cores, load.steal_cores, load.own_cores) == pytest.approx((1.0, 0.1, 0.5))
    # jiffy rounding can make host busy < own: never negative
    rounded = host_load(a, CpuSample(wall=11.0, own=1.5, busy=50.4, steal=1.0))
    assert rounded.other_cores == 0.0
    unknown = host_load(CpuSample(wall=0.0, own=0.0, busy=None, steal=None),
                        CpuSample(wall=1.0, own=0.5, busy=None, steal=None))
    assert unknown.other_cores is None
    assert unknown.steal_cores is None
    assert unknown.own_cores == 0.5
    with pytest.raises(SimulationError, match=r"taken in order, got -4\.0s apart"):
        host_load(b, a)


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


def test_run_until_steady_stops_once_enough_attempts_were_steady() -> None:
    script = [seen(0.01, BUSY), seen(0.02), seen(0.4), seen(0.0), seen(-0.03), seen(0.0)]
    calls: list[int] = []

    def attempt(i: int) -> tuple[float, Stationarity]:
        calls.append(i)
        return [9.0, -1.5, 7.0, 0.5, 2.5, 0.0][i], script[i]

    runs = run_until_steady(attempt, needed=3, max_attempts=6)
    assert calls == [0, 1, 2, 3, 4]
    assert runs.complete
    assert runs.steady == [-1.5, 0.5, 2.5]
    assert [a.steady for a in runs.attempts] == [False, True, False, True, True]
    assert runs.median(lambda r: r) == -1.5  # the median |diff| of 0.5, 1.5, 2.5
    text = runs.describe(lambda r: f"diff {r:+.1f}")
    assert "attempt 2 (speed drifted +40.0%" in text
    assert "diff +7.0" in text


def test_the_median_is_judged_on_magnitude_and_conservative_when_even() -> None:
    def median(values: list[float]) -> float:
        runs = run_until_steady(lambda i: (values[i], seen(0.0)), needed=len(values),
                                max_attempts=len(values))
        return runs.median(lambda r: r)

    # by signed value the median would be 0.5 although two of three runs are 3 points off
    assert abs(median([-3.0, 0.5, 3.0])) == 3.0
    assert median([0.5, -1.0]) == -1.0  # of two, the farther from zero


def test_run_until_steady_gives_up_early_and_says_why() -> None:
    calls: list[int] = []

    def attempt(i: int) -> tuple[float, Stationarity]:
        calls.append(i)
        return 0.0, seen(0.45 if i % 2 else 0.0, BUSY)

    runs = run_until_steady(attempt, needed=2, max_attempts=4)
    assert calls == [0, 1, 2]  # after three unsteady attempts two steady ones are out of reach
    assert not runs.complete
    assert runs.steady == []
    reason = runs.skip_reason()
    assert reason.startswith("0 of 3 attempts saw a steady host (2 needed)")
    assert "attempt 1: speed drifted +45.0%" in reason
    assert "other processes took 0.950 cores" in reason
    assert runs.skip_reason(lambda r: f"diff {r:+.1f}").endswith("-> diff +0.0")
    with pytest.raises(SimulationError, match="no steady attempt among 3"):
        runs.median(lambda r: r)


def test_run_until_steady_validates_its_counts() -> None:
    def never(i: int) -> tuple[float, Stationarity]:
        raise AssertionError("not called")

    with pytest.raises(SpecError, match=r"run_until_steady\.needed must be a positive integer"):
        run_until_steady(never, needed=0)
    with pytest.raises(SpecError, match=r"needed \(4\) exceeds max_attempts \(3\)"):
        run_until_steady(never, needed=4, max_attempts=3)
