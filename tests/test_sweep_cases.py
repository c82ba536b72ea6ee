"""The default sweep runner: one grid case → one plan() call."""

from __future__ import annotations

import re

from alpaserve.sweep.cases import run_plan_case
from alpaserve.sweep.runner import SweepCase


def case(**overrides: object) -> SweepCase:
    fields: dict = {"policy": "sr", "devices": 2, "rate_scale": 1.0, "cv_scale": 1.0,
                    "slo_scale": 5.0, "window": None, "seed": 3,
                    "settings": {"models": "bert-1.3b:3", "rate": 6.0, "cv": 2.0,
                                 "duration": 20.0}}
    fields.update(overrides)
    return SweepCase(**fields)


def test_case_metrics_and_determinism() -> None:
    first = run_plan_case(case())
    assert set(first) == {"attainment", "p99_s", "dropped", "requests", "devices_used",
                          "groups", "plan_wall_s"}  # the sweep adds the axes
    assert 0.0 <= first["attainment"] <= 1.0
    assert first["devices_used"] <= 2
    again = run_plan_case(case())
    assert {k: v for k, v in first.items() if k != "plan_wall_s"} == \
        {k: v for k, v in again.items() if k != "plan_wall_s"}


def test_rate_scale_raises_the_load() -> None:
    light = run_plan_case(case(rate_scale=0.5))
    heavy = run_plan_case(case(rate_scale=4.0))
    assert heavy["requests"] > 4 * light["requests"]


def test_trace_windows_and_rescaling(tmp_path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,model\n" + "".join(f"{i * 0.25},fn{i % 4}\n"
                                                   for i in range(800)))
    settings = {"models": "bert-1.3b:2", "trace": str(trace)}
    whole = run_plan_case(case(settings=settings))
    window = run_plan_case(case(settings=settings, window=(0.0, 100.0)))
    assert window["requests"] < whole["requests"]
    doubled = run_plan_case(case(settings=settings, rate_scale=2.0))
    assert doubled["requests"] > 1.5 * whole["requests"]


def test_settings_schema_covers_what_the_runner_reads() -> None:
    import inspect

    from alpaserve.sweep import cases

    source = inspect.getsource(cases)
    read = set(re.findall(r'settings(?:\.get\(|\[)"(\w+)"', source))
    assert read <= set(cases.SETTINGS)
    assert "trace" in read
