"""Generic request CSV: reading, writing, malformed rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _fixtures_workloads import workloads
from hypothesis import HealthCheck, given, settings

from workloads.errors import TraceFormatError
from workloads.traces.generic_csv import GenericCsvSpec, read_generic_csv, write_generic_csv
from workloads.workload import Workload


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_all_columns_any_order(tmp_path: Path) -> None:
    path = _write(tmp_path / "w.csv", "output_tokens,model,arrival_s,prompt_tokens,slo_s\n"
                                      "5,b,2.0,10,0.5\n6,a,1.0,11,0.25\n\n7,b,3.0,12,1\n")
    r = read_generic_csv(path)
    w = r.workload
    assert w.arrival.tolist() == [1.0, 2.0, 3.0]
    assert w.model_names == ("b", "a")
    assert w.slo.tolist() == [0.25, 0.5, 1.0]
    assert w.prompt_tokens.tolist() == [11, 10, 12]
    assert w.output_tokens.tolist() == [6, 5, 7]
    assert r.rows == 3  # the blank line is not a row


def test_required_order(tmp_path: Path) -> None:
    path = _write(tmp_path / "w.csv", "arrival_s,model\n1.0,a\n0.5,a\n")
    assert read_generic_csv(path).workload.arrival.tolist() == [0.5, 1.0]
    with pytest.raises(TraceFormatError, match="earlier") as info:
        read_generic_csv(path, GenericCsvSpec(require_sorted=True))
    assert (info.value.line, info.value.column) == (3, "arrival_s")


@pytest.mark.parametrize(
    ("row", "column", "match"),
    [
        ("1.0", "model", "missing column"),
        ("1.0,a", "slo_s", "missing column"),
        ("x,a,0.1", "arrival_s", "not a number"),
        ("1.0,,0.1", "model", "empty model"),
        ("1.0,a,0", "slo_s", "positive"),
        ("1.0,a,", "slo_s", "not a number"),
    ],
)
def test_malformed_rows(tmp_path: Path, row: str, column: str, match: str) -> None:
    path = _write(tmp_path / "bad.csv", f"arrival_s,model,slo_s\n0.5,a,0.1\n{row}\n")
    with pytest.raises(TraceFormatError, match=match) as info:
        read_generic_csv(path)
    assert (info.value.path, info.value.line, info.value.column) == (str(path), 3, column)
    r = read_generic_csv(path, GenericCsvSpec(on_error="skip"))
    assert (r.rows, r.rows_skipped, len(r.workload)) == (2, 1, 1)


def test_bad_headers(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match="unknown column") as info:
        read_generic_csv(_write(tmp_path / "a.csv", "arrival_s,model,priority\n"))
    assert info.value.column == "priority"
    with pytest.raises(TraceFormatError, match="required column"):
        read_generic_csv(_write(tmp_path / "b.csv", "time,model\n"))
    with pytest.raises(TraceFormatError, match="duplicate"):
        read_generic_csv(_write(tmp_path / "c.csv", "arrival_s,model,model\n"))
    a = _write(tmp_path / "d.csv", "arrival_s,model\n1,a\n")
    b = _write(tmp_path / "e.csv", "arrival_s,model,slo_s\n1,a,1\n")
    with pytest.raises(TraceFormatError, match="differ"):
        read_generic_csv([a, b])


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(workloads(max_size=20))
def test_write_read_round_trip(tmp_path: Path, w: Workload) -> None:
    path = tmp_path / "w.csv"
    write_generic_csv(w, path)
    back = read_generic_csv(path).workload
    np.testing.assert_array_equal(back.arrival, w.arrival)
    assert back.models_of().tolist() == w.models_of().tolist()
    for col in ("slo", "prompt_tokens", "output_tokens"):
        a, b = getattr(w, col), getattr(back, col)
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)
