"""Azure Functions 2021 reader on small generated invocation files."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from workloads.errors import TraceFormatError, WorkloadError
from workloads.function_mapping import FunctionMapping
from workloads.traces.azure.functions_2021 import (
    AzureFunctions2021Spec,
    read_azure_functions_2021,
)

HEADER = "app,func,end_timestamp,duration"
ROWS = [
    "a1,f1,10.0,0.5",    # arrival 9.5
    "a1,f2,3.0,1.0",     # 2.0
    "a1,f1,5.25,0.25",   # 5.0
    "a2,f1,20.0,2.0",    # 18.0
    "a1,f1,30.0,0.0",    # 30.0
]


def _write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _spec(**kwargs: object) -> AzureFunctions2021Spec:
    base: dict[str, object] = {"mapping": FunctionMapping(num_models=2)}
    base.update(kwargs)
    return AzureFunctions2021Spec(**base)  # type: ignore[arg-type]


def test_arrival_is_end_minus_duration_rebased(tmp_path: Path) -> None:
    r = read_azure_functions_2021(_write(tmp_path / "t.txt", ROWS), _spec())
    w = r.workload
    np.testing.assert_allclose(w.arrival, [0.0, 3.0, 7.5, 16.0, 28.0])
    # Ranked: a1/f1 (3 calls) -> model0, a1/f2 -> model1, a2/f1 -> model0.
    assert r.mapping is not None
    assert r.mapping.ranked == ("a1/f1", "a1/f2", "a2/f1")
    assert w.models_of().tolist() == ["model1", "model0", "model0", "model0", "model0"]
    assert (r.rows, r.rows_skipped, r.counters["out_of_range"]) == (5, 0, 0)


def test_time_range_and_raw_times(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path / "t.txt", ROWS)
    with caplog.at_level(logging.INFO):
        r = read_azure_functions_2021(path, _spec(start=4.0, end=20.0, rebase=False))
    np.testing.assert_allclose(r.workload.arrival, [5.0, 9.5, 18.0])
    assert r.counters["out_of_range"] == 2
    assert "outside" in caplog.text
    rebased = read_azure_functions_2021(path, _spec(start=4.0, end=20.0)).workload
    np.testing.assert_allclose(rebased.arrival, [1.0, 5.5, 14.0])


def test_top_k_and_column_order(tmp_path: Path) -> None:
    rows = [",".join(reversed(r.split(","))) for r in ROWS]
    path = _write(tmp_path / "t.txt", rows, header="duration,end_timestamp,func,app")
    r = read_azure_functions_2021(path, _spec(mapping=FunctionMapping(num_models=1, top_k=1)))
    assert len(r.workload) == 3
    assert r.mapping is not None
    assert r.mapping.beyond_top_k == 2


@pytest.mark.parametrize(
    ("row", "column", "match"),
    [
        ("a1,f1,10.0", "duration", "missing column"),
        ("a1,f1,ten,0.5", "end_timestamp", "not a number"),
        ("a1,f1,10.0,-0.5", "duration", "negative"),
        ("a1,f1,10.0,nan", "duration", "not finite"),
        ("a1,,10.0,0.5", "func", "empty function key"),
        ("a1,f1,10.0,0.5,extra", "field 5", "fields"),
    ],
)
def test_malformed_rows_name_file_line_column(tmp_path: Path, row: str, column: str,
                                              match: str) -> None:
    path = _write(tmp_path / "bad.txt", [ROWS[0], ROWS[1], row])
    with pytest.raises(TraceFormatError, match=match) as info:
        read_azure_functions_2021(path, _spec())
    assert (info.value.path, info.value.line, info.value.column) == (str(path), 4, column)


def test_bad_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.txt", ROWS, header="app,func,end,duration")
    with pytest.raises(TraceFormatError, match="required column") as info:
        read_azure_functions_2021(path, _spec())
    assert (info.value.line, info.value.column) == (1, "end_timestamp")
    path = _write(tmp_path / "extra.txt", ROWS, header=HEADER + ",other")
    with pytest.raises(TraceFormatError, match="unknown column"):
        read_azure_functions_2021(path, _spec())


def test_skip_mode(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.txt", [*ROWS, "a1,f1,1.0,-1.0", "x,y,z,1"])
    r = read_azure_functions_2021(path, _spec(on_error="skip"))
    assert (r.rows, r.rows_skipped, len(r.workload)) == (7, 2, 5)
    assert "line 7" in r.skipped_examples[0]


def test_several_files_and_invalid_spec(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.txt", ROWS[:2])
    b = _write(tmp_path / "b.txt", ROWS[2:])
    assert len(read_azure_functions_2021([a, b], _spec()).workload) == 5
    with pytest.raises(WorkloadError, match="exceed"):
        _spec(start=5.0, end=1.0)
