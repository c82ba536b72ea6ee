"""The production-like workload (alpaserve.modelless.production)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alpaserve.errors import SpecError, WorkloadError
from alpaserve.modelless.production import (
    Application,
    application_registry,
    draw_applications,
    production_queries,
    write_synthetic_functions_trace,
)
from alpaserve.modelless.registry import example_registry
from workloads.errors import TraceFormatError


def test_synthetic_trace_has_the_real_format_and_a_heavy_tail(tmp_path: Path) -> None:
    p = write_synthetic_functions_trace(tmp_path / "d01.csv", functions=100, mean_rate=50.0,
                                        seed=2)
    lines = p.read_text().splitlines()
    assert len(lines) == 101
    assert lines[0].split(",")[:5] == ["HashOwner", "HashApp", "HashFunction", "Trigger", "1"]
    totals = np.array([sum(int(x) for x in row.split(",")[4:]) for row in lines[1:]])
    assert len(lines[1].split(",")) == 4 + 1440
    assert 0.8 * 50 * 86400 < totals.sum() < 1.2 * 50 * 86400
    top = np.sort(totals)[::-1]
    assert top[:10].sum() > 0.5 * top.sum()  # the busiest tenth carries most invocations
    with pytest.raises(WorkloadError, match="does not overwrite"):
        write_synthetic_functions_trace(p, seed=2)


@pytest.mark.parametrize(("kw", "match"), [
    ({"functions": 0}, "functions"), ({"mean_rate": 0.0}, "mean_rate"),
    ({"sigma": -1.0}, "sigma"), ({"diurnal_amplitude": 1.0}, "diurnal_amplitude"),
    ({"timer_share": 2.0}, "timer_share"),
])
def test_writer_errors(tmp_path: Path, kw: dict[str, float], match: str) -> None:
    with pytest.raises(WorkloadError, match=match):
        write_synthetic_functions_trace(tmp_path / "x.csv", seed=0, **kw)  # type: ignore[arg-type]


def test_queries_carry_each_application_requirements(tmp_path: Path) -> None:
    p = write_synthetic_functions_trace(tmp_path / "d01.csv", functions=40, mean_rate=20.0,
                                        seed=1)
    apps = draw_applications(4, seed=3)
    q = production_queries(p, apps, minutes=(600, 603), seed=0)
    assert set(q.tasks) == {a.name for a in apps}
    tasks = q.workload.models_of()
    for a in apps:
        mine = tasks == a.name
        assert np.all(q.slo[mine] == a.slo)
        assert np.all(q.min_accuracy[mine] == a.min_accuracy)
    counts = [(tasks == a.name).sum() for a in apps]
    assert counts[0] == max(counts)  # app0 is the busiest function
    assert q.arrival.max() < 180.0
    again = production_queries(p, apps, minutes=(600, 603), seed=0)
    assert np.array_equal(again.arrival, q.arrival)


def test_production_errors(tmp_path: Path) -> None:
    p = write_synthetic_functions_trace(tmp_path / "d01.csv", functions=3, mean_rate=1.0,
                                        seed=1)
    with pytest.raises(WorkloadError, match="fewer than the 5 applications"):
        production_queries(p, draw_applications(5, seed=0), minutes=(0, 60), seed=0)
    with pytest.raises(WorkloadError, match="at least one application"):
        production_queries(p, [], minutes=(0, 60), seed=0)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(TraceFormatError):
        production_queries(bad, draw_applications(1, seed=0), minutes=(0, 1), seed=0)
    with pytest.raises(SpecError, match="slo"):
        Application(name="x", slo=0.0)
    with pytest.raises(SpecError, match="min_accuracy"):
        Application(name="x", slo=0.1, min_accuracy=120.0)
    with pytest.raises(WorkloadError, match="count"):
        draw_applications(0, seed=0)


def test_application_registry_copies_variants_per_application() -> None:
    base = example_registry()
    apps = draw_applications(2, seed=0)
    reg = application_registry(base, "image-classification", apps)
    assert reg.tasks() == ["app0", "app1"]
    n = len(base.variants("image-classification"))
    assert len(reg.variants("app0")) == len(reg.variants("app1")) == n
    with pytest.raises(SpecError, match="'nope'"):
        application_registry(base, "nope", apps)
    with pytest.raises(SpecError, match="repeat"):
        application_registry(base, "image-classification", [apps[0], apps[0]])
