"""Repeating attempts until enough saw a steady host: stopping, the median, giving up."""

from __future__ import annotations

import pytest

from alpaserve.errors import SimulationError, SpecError
from alpaserve.runtime.stationarity import Stationarity
from alpaserve.runtime.steady_runs import run_until_steady
from tests._fixtures_runtime import BUSY, seen


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
