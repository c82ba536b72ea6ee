"""Bracketing two contention calibrations (alpaserve/runtime/bracket.py)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from alpaserve.errors import SpecError
from alpaserve.profiles import ProfileDB
from alpaserve.runtime._examples import toy_calibration
from alpaserve.runtime.bracket import bracket, calibration_shift, group_curve
from simulator.slowdown import ContentionCurve


def test_bracket_averages_two_calibrations_and_measures_their_shift() -> None:
    before, after = toy_calibration(0.010, 1.4), toy_calibration(0.012, 1.6)
    both = bracket(before, after)
    assert [e.stage_latencies for e in both.lone] == [(pytest.approx(0.011),)]
    assert both.samples == {1: (1.0, 1.0), 2: (1.4, 1.6)}
    assert both.curve.slowdown == (1.0, pytest.approx(1.5))
    # at two busy: 1.2 (lone) x 1.6 / 1.4 (curve) - 1
    assert both.shift == pytest.approx(1.2 * 1.6 / 1.4 - 1.0)
    assert calibration_shift(before, before) == 0.0
    assert both.parts == (before, after)
    data = json.loads(json.dumps(both.to_dict()))
    assert data["shift"] == pytest.approx(both.shift)
    assert [c["curve"]["slowdown"] for c in data["bracket"]] == [[1.0, 1.4], [1.0, 1.6]]
    assert "bracket" not in before.to_dict()
    # the larger |s(1) - 1| of the parts is the bracketed calibration's skew
    skewed = dataclasses.replace(after, curve=ContentionCurve(busy=(1, 2),
                                                              slowdown=(1.3, 1.6)))
    assert bracket(before, skewed).skew == pytest.approx(0.3)
    other = dataclasses.replace(after, samples={1: (1.0,)})
    with pytest.raises(SpecError, match="cannot bracket calibrations of different placements"):
        bracket(before, other)
    with pytest.raises(SpecError, match="share no lone entry"):
        calibration_shift(before, dataclasses.replace(after, lone=ProfileDB()))


def test_a_group_never_alone_starts_at_its_lone_latency() -> None:
    assert group_curve({2: [1.8, 2.2], 3: [2.5]}).slowdown == (1.0, 2.0, 2.5)
    assert group_curve({1: [1.1], 2: [1.5]}).slowdown == (1.1, 1.5)  # measured alone: kept
    assert group_curve({}).slowdown == (1.0,)  # a group that hosts nothing


def test_toy_calibrations_have_no_group_curves() -> None:
    both = bracket(toy_calibration(0.010, 1.4), toy_calibration(0.012, 1.6))
    assert both.group_curves == ()
    assert both.curves == both.curve
