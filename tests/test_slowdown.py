"""The slowdown curve and processor-sharing durations (simulator/slowdown.py)."""

from __future__ import annotations

import numpy as np
import pytest

from alpaserve.errors import SimulationError
from simulator.slowdown import ContentionCurve, stretched_durations

TWO_X = ContentionCurve(busy=(1, 2), slowdown=(1.0, 2.0))


def test_the_curve_interpolates_then_shares_the_processor() -> None:
    c = ContentionCurve(busy=(1, 2, 4), slowdown=(1.0, 1.5, 2.5))
    assert c.at([1, 2, 3, 4]).tolist() == [1.0, 1.5, 2.0, 2.5]
    assert c.at([8]).tolist() == [5.0]  # past the last count: s grows in proportion to n
    assert c.effective_cores == pytest.approx(1.6)
    assert c.to_dict() == {"busy": [1, 2, 4], "slowdown": [1.0, 1.5, 2.5],
                           "effective_cores": pytest.approx(1.6)}
    assert ContentionCurve.flat(3).at([1, 2, 3]).tolist() == [1.0, 1.0, 1.0]


def test_the_fit_takes_medians_and_never_decreases() -> None:
    c = ContentionCurve.fit({1: [0.9, 1.0, 1.1, 5.0], 2: [1.8, 1.9, 2.0], 3: [1.7, 1.7]})
    assert c.busy == (1, 2, 3)
    assert c.slowdown == pytest.approx((1.05, 1.9, 1.9))  # 3 busy dipped: noise, held at 1.9
    with pytest.raises(SimulationError, match="no valid contention sample with 2 stages"):
        ContentionCurve.fit({1: [1.0], 2: [float("nan"), -1.0]})


@pytest.mark.parametrize(("busy", "slowdown", "match"), [
    ((2, 3), (1.0, 2.0), "must start at 1"),
    ((1, 1), (1.0, 2.0), "must start at 1 and increase"),
    ((1, 2), (1.0,), "one slowdown each"),
    ((1, 2), (1.0, 0.5), "non-decreasing"),
    ((1,), (0.0,), "positive"),
])
def test_a_bad_curve_is_refused(busy: tuple[int, ...], slowdown: tuple[float, ...],
                                match: str) -> None:
    with pytest.raises(SimulationError, match=match):
        ContentionCurve(busy=busy, slowdown=slowdown)


def test_two_runs_overlapping_half_their_time_share_the_core() -> None:
    # over the given intervals the first has 0.5 s alone, then half speed for its last 0.5 s
    # of work; the second does 0.25 s of work while they overlap and 0.75 s alone
    begin = np.array([0.0, 0.5])
    got = stretched_durations(begin, begin + 1.0, [1.0, 1.0], TWO_X)
    assert got.tolist() == [1.5, 1.25]
    for _ in range(60):  # the fixed point: each 0.5 s alone, 1 s together (0.5 s of work)
        got = stretched_durations(begin, begin + got, [1.0, 1.0], TWO_X)
    assert got.tolist() == pytest.approx([1.5, 1.5])
    # the second starts when the first ends (in this round): both alone, unchanged
    assert stretched_durations([0.0, 1.0], [1.0, 2.0], [1.0, 1.0], TWO_X).tolist() == [1.0, 1.0]
    # a short run inside a long one: the short one at half speed throughout (0.4 s); the long
    # one at half speed over the short one's current 0.2 s, so 0.1 s later than alone
    got = stretched_durations([0.0, 0.2], [1.0, 0.4], [1.0, 0.2], TWO_X)
    assert got.tolist() == pytest.approx([1.1, 0.4])


def test_no_slowdown_leaves_the_work_exactly() -> None:
    b = np.array([0.0, 0.1, 0.3, 0.7])
    w = np.array([0.3, 0.7, 0.2, 0.1]) / 3
    got = stretched_durations(b, b + w, w, ContentionCurve.flat(4))
    assert got.tobytes() == w.tobytes()


def test_each_run_can_have_its_own_curve() -> None:
    # the first run's curve doubles its time while the other is busy; the second's is flat
    got = stretched_durations([0.0, 0.5], [1.0, 1.5], [1.0, 1.0], [TWO_X, ContentionCurve.flat(2)],
                              curve_of=[0, 1])
    assert got.tolist() == [1.5, 1.0]
    # one curve given as a list of one is the single curve
    b = np.array([0.0, 0.2, 0.3])
    single = stretched_durations(b, b + 0.5, [0.5, 0.5, 0.5], TWO_X)
    listed = stretched_durations(b, b + 0.5, [0.5, 0.5, 0.5], [TWO_X], curve_of=[0, 0, 0])
    assert listed.tobytes() == single.tobytes()


@pytest.mark.parametrize(("curve_of", "match"), [
    (None, "one curve index per run"),
    ([0], "for 2 curves and 2 runs, got \\[0\\]"),
    ([0, 2], "got \\[0, 2\\]"),
    ([-1, 0], "got \\[-1, 0\\]"),
])
def test_a_bad_curve_index_is_named(curve_of: list[int] | None, match: str) -> None:
    with pytest.raises(SimulationError, match=match):
        stretched_durations([0.0, 0.5], [1.0, 1.5], [1.0, 1.0],
                            [TWO_X, ContentionCurve.flat(2)], curve_of=curve_of)
