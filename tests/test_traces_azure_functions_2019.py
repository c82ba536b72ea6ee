"""Azure Functions 2019 reader on small generated day files."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np
import pytest

from workloads.errors import TraceFormatError, WorkloadError
from workloads.function_mapping import FunctionMapping
from workloads.stats import interarrival_cv
from workloads.traces.azure.functions_2019 import (
    AzureFunctions2019Spec,
    azure_functions_2019_paths,
    read_azure_functions_2019,
)

MINUTES = 10
HEADER = "HashOwner,HashApp,HashFunction,Trigger," + ",".join(str(m + 1) for m in range(MINUTES))


def _row(owner: str, app: str, func: str, counts: list[int | str]) -> str:
    return ",".join([owner, app, func, "http", *(str(c) for c in counts)])


def _write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _day(tmp_path: Path, name: str = "invocations_per_function_md.anon.d01.csv") -> Path:
    rows = [
        _row("o", "a", "hot", [5, 0, 3, 0, 0, 0, 0, 0, 0, 2]),
        _row("o", "a", "cold", [0] * MINUTES),
        _row("o", "b", "warm", [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
        _row("p", "c", "rare", [0, 0, 0, 0, 0, 0, 0, 0, 1, 0]),
    ]
    return _write(tmp_path / name, rows)


def _spec(**kwargs: object) -> AzureFunctions2019Spec:
    base: dict[str, object] = {"mapping": FunctionMapping(num_models=2), "minutes": (0, MINUTES)}
    base.update(kwargs)
    return AzureFunctions2019Spec(**base)  # type: ignore[arg-type]


def test_counts_become_arrivals_in_their_minutes(tmp_path: Path) -> None:
    r = read_azure_functions_2019(_day(tmp_path), _spec(), seed=0)
    w = r.workload
    assert len(w) == 10 + 10 + 1
    minute = (w.arrival // 60).astype(int)
    assert np.bincount(minute, minlength=MINUTES).tolist() == [6, 1, 4, 1, 1, 1, 1, 1, 2, 3]
    assert r.mapping is not None
    assert r.mapping.ranked == ("o/a/hot", "o/b/warm", "p/c/rare")
    assert r.empty_functions_dropped == 1
    assert r.rows == 4
    assert r.rows_skipped == 0
    assert w.counts_by_model() == {"model0": 11, "model1": 10}  # round robin by rank


def test_minute_range_and_top_k(tmp_path: Path) -> None:
    spec = _spec(minutes=(2, 9), mapping=FunctionMapping(num_models=1, top_k=1))
    r = read_azure_functions_2019(_day(tmp_path), spec, seed=0)
    # In minutes 2..8: hot has 3, warm has 7, rare 1: only warm (top-1) is kept.
    assert len(r.workload) == 7
    assert r.mapping is not None
    assert r.mapping.ranked == ("o/b/warm",)
    assert r.mapping.beyond_top_k == 2
    assert r.mapping.empty_dropped == 1
    assert r.workload.arrival.min() >= 0
    assert r.workload.arrival.max() < 7 * 60


def test_even_and_gamma_spacing_keep_counts(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", [_row("o", "a", "f", [4] + [0] * (MINUTES - 1))])
    even = read_azure_functions_2019(path, _spec(within_minute="even"), seed=0).workload
    np.testing.assert_allclose(even.arrival, [7.5, 22.5, 37.5, 52.5])
    big = _write(tmp_path / "big.csv", [_row("o", "a", "f", [2000] * MINUTES)])
    cvs = {}
    for cv in (1.0, 4.0):
        w = read_azure_functions_2019(big, _spec(within_minute="gamma", cv=cv), seed=1).workload
        assert len(w) == 2000 * MINUTES
        assert np.bincount((w.arrival // 60).astype(int)).tolist() == [2000] * MINUTES
        cvs[cv] = interarrival_cv(w.arrival)
    assert cvs[1.0] == pytest.approx(1.0, rel=0.05)
    assert cvs[4.0] == pytest.approx(4.0, rel=0.15)


def test_several_days_are_consecutive(tmp_path: Path) -> None:
    paths = azure_functions_2019_paths(tmp_path, [1, 2])
    _day(tmp_path, paths[0].name)
    _write(paths[1], [_row("o", "a", "hot", [1] + [0] * (MINUTES - 1)),
                      _row("n", "e", "w", [0] * (MINUTES - 1) + [1])])
    spec = _spec(minutes=(1, MINUTES))
    r = read_azure_functions_2019(paths, spec, seed=0)
    # Day 2 keeps only n/e/w's call in minute 9, i.e. 8 minutes after the range start.
    day2 = r.workload.arrival[r.workload.arrival >= 86400 - 60]
    assert day2.size == 1
    assert 86400 + 8 * 60 <= day2[0] < 86400 + 9 * 60
    assert r.workload.arrival.min() >= 0
    assert r.workload.arrival[~(r.workload.arrival >= 86400 - 60)].max() < 9 * 60
    assert r.mapping is not None
    assert r.mapping.functions_total == 5


def test_duplicates_summed_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path / "d.csv", [_row("o", "a", "f", [1] * MINUTES),
                                       _row("o", "a", "f", [2] * MINUTES)])
    with caplog.at_level(logging.WARNING):
        r = read_azure_functions_2019(path, _spec(), seed=0)
    assert len(r.workload) == 30
    assert r.counters["duplicate_rows"] == 1
    assert "repeat a function" in caplog.text


def test_full_width_header_and_gzip(tmp_path: Path) -> None:
    header = "HashOwner,HashApp,HashFunction,Trigger," + ",".join(str(m) for m in range(1, 1441))
    path = tmp_path / "d.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(header + "\n" + _row("o", "a", "f", [0] * 1439 + [3]) + "\n")
    r = read_azure_functions_2019(path, AzureFunctions2019Spec(
        mapping=FunctionMapping(num_models=1)), seed=0)
    assert len(r.workload) == 3
    assert r.workload.arrival.min() >= 1439 * 60


@pytest.mark.parametrize(
    ("row", "line", "column", "match"),
    [
        (_row("o", "a", "f", [1, 2, 3]), 3, "4", "missing column"),
        (_row("o", "a", "f", [1, 2, "x", 0, 0, 0, 0, 0, 0, 0]), 3, "3", "not a whole number"),
        (_row("o", "a", "f", [1, 2, 1.5, 0, 0, 0, 0, 0, 0, 0]), 3, "3", "not a whole number"),
        (_row("o", "a", "f", [0, 0, 0, 0, -4, 0, 0, 0, 0, 0]), 3, "5", "negative count"),
        (_row("o", "a", "f", [0] * 11), 3, "field 15", "fields"),
        (_row("o", "", "f", [0] * 10), 3, "HashApp", "empty function key"),
    ],
)
def test_malformed_rows_name_file_line_column(tmp_path: Path, row: str, line: int, column: str,
                                              match: str) -> None:
    path = _write(tmp_path / "bad.csv", [_row("o", "a", "ok", [1] * MINUTES), row])
    with pytest.raises(TraceFormatError, match=match) as info:
        read_azure_functions_2019(path, _spec(), seed=0)
    err = info.value
    assert (err.path, err.line, err.column) == (str(path), line, column)
    assert str(path) in str(err)
    assert f"line {line}" in str(err)


@pytest.mark.parametrize(
    ("header", "column", "match"),
    [
        ("Owner,HashApp,HashFunction,Trigger,1,2", "Owner", "HashOwner"),
        ("HashOwner,HashApp,HashFunction,Trigger,1,3", "3", "minute column 2"),
        ("HashOwner,HashApp,HashFunction,Trigger,1,2", "10", "minute columns"),
    ],
)
def test_bad_header(tmp_path: Path, header: str, column: str, match: str) -> None:
    path = _write(tmp_path / "bad.csv", [], header=header)
    with pytest.raises(TraceFormatError, match=match) as info:
        read_azure_functions_2019(path, _spec(), seed=0)
    assert (info.value.line, info.value.column) == (1, column)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(TraceFormatError, match="no header"):
        read_azure_functions_2019(tmp_path / "empty.csv", _spec(), seed=0)
    with pytest.raises(TraceFormatError, match="cannot open"):
        read_azure_functions_2019(tmp_path / "nope.csv", _spec(), seed=0)
    with pytest.raises(WorkloadError, match="no trace files"):
        read_azure_functions_2019([], _spec(), seed=0)


def test_skip_mode_counts_and_reports(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path / "bad.csv", [_row("o", "a", "ok", [1] * MINUTES),
                                         _row("o", "a", "f", [1, 2]),
                                         _row("o", "a", "g", ["?"] * MINUTES)])
    with caplog.at_level(logging.WARNING):
        r = read_azure_functions_2019(path, _spec(on_error="skip"), seed=0)
    assert (r.rows, r.rows_skipped, len(r.workload)) == (3, 2, MINUTES)
    assert "line 3" in r.skipped_examples[0]
    assert "line 4" in r.skipped_examples[1]
    assert "skipped 2 of 3 rows" in caplog.text


@pytest.mark.parametrize(("kwargs", "match"),
                         [({"minutes": (5, 5)}, "minutes"), ({"within_minute": "x"}, "within"),
                          ({"cv": -1.0}, "cv"), ({"on_error": "ignore"}, "on_error")])
def test_invalid_spec(tmp_path: Path, kwargs: dict, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(WorkloadError, match=match):
        read_azure_functions_2019(_day(tmp_path), _spec(**kwargs), seed=0)


def test_per_minute_counts_and_the_total_are_bounded(tmp_path: Path) -> None:
    from workloads.traces.azure.functions_2019 import MAX_PER_MINUTE

    path = _write(tmp_path / "d.csv", [_row("o", "a", "f", [MAX_PER_MINUTE + 1] + [0] * 9)])
    spec = AzureFunctions2019Spec(mapping=FunctionMapping(num_models=1), minutes=(0, MINUTES))
    with pytest.raises(TraceFormatError, match=r"line 2, column '1': count .* exceeds"):
        read_azure_functions_2019(path, spec, seed=0)
    # 1e12 a minute (7 TiB of arrivals) fails on its row, before anything is allocated.
    path = _write(tmp_path / "d.csv", [_row("o", "a", "f", [10**12] + [0] * 9),
                                       _row("o", "a", "g", [2] * 10)])
    skip = AzureFunctions2019Spec(mapping=FunctionMapping(num_models=1), minutes=(0, MINUTES),
                                  on_error="skip")
    result = read_azure_functions_2019(path, skip, seed=0)
    assert (result.rows_skipped, len(result.workload)) == (1, 20)
    capped = AzureFunctions2019Spec(mapping=FunctionMapping(num_models=1),
                                    minutes=(0, MINUTES), max_arrivals=19)
    with pytest.raises(TraceFormatError, match=r"line 3: more than 19 invocations"):
        read_azure_functions_2019(path, AzureFunctions2019Spec(
            mapping=FunctionMapping(num_models=1), minutes=(0, MINUTES), max_arrivals=19,
            on_error="skip"), seed=0)
    with pytest.raises(WorkloadError, match="max_arrivals"):
        AzureFunctions2019Spec(mapping=FunctionMapping(num_models=1), max_arrivals=-1)
    assert capped.max_arrivals == 19


def test_gzip_is_recognised_by_its_bytes(tmp_path: Path) -> None:
    text = "\n".join([HEADER, _row("o", "a", "f", [1] * MINUTES)]) + "\n"
    path = tmp_path / "day.csv"  # no .gz suffix
    path.write_bytes(gzip.compress(text.encode()))
    spec = AzureFunctions2019Spec(mapping=FunctionMapping(num_models=1), minutes=(0, MINUTES))
    assert len(read_azure_functions_2019(path, spec, seed=0).workload) == MINUTES
