"""Azure LLM inference trace reader on small generated files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workloads.errors import TraceFormatError
from workloads.stats import summarize
from workloads.traces.azure.llm import AzureLLMSpec, parse_timestamp_ns, read_azure_llm

HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens"
ROWS = [
    "2023-11-16 18:15:46.6805900,4808,10",
    "2023-11-16 18:15:46.6805901,3180,8",
    "2023-11-16 18:15:50.0000000,110,27",
    "2023-11-16 19:00:00.1234567,7,0",
]


def _write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_reads_relative_arrivals_and_tokens(tmp_path: Path) -> None:
    r = read_azure_llm(_write(tmp_path / "t.csv", ROWS))
    w = r.workload
    assert w.arrival[1] - w.arrival[0] == pytest.approx(1e-7, abs=1e-12)  # 7th decimal kept
    assert w.arrival[2] == pytest.approx(3.31941, abs=1e-9)
    assert w.arrival[3] == pytest.approx(44 * 60 + 13.4428667, abs=1e-9)
    assert w.prompt_tokens.tolist() == [4808, 3180, 110, 7]
    assert w.output_tokens.tolist() == [10, 8, 27, 0]
    assert w.model_names == ("llm",)
    assert (r.rows, r.rows_skipped) == (4, 0)


def test_shape_of_a_generated_bursty_trace(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    gaps = rng.gamma(1 / 100, 100 / 2.5, 3000)  # CV 10 at 2.5 req/s
    base = parse_timestamp_ns("2023-11-16 18:00:00")
    rows = []
    for t in np.cumsum(gaps):
        ns = base + int(t * 1e9) // 100 * 100
        secs, frac = divmod(ns, 10**9)
        stamp = np.datetime64(secs, "s").astype(str).replace("T", " ")
        rows.append(f"{stamp}.{frac // 100:07d},100,10")
    s = summarize(read_azure_llm(_write(tmp_path / "t.csv", rows)).workload)
    assert s.requests == 3000
    assert s.cv > 5


def test_timezones_and_precision() -> None:
    assert parse_timestamp_ns("2024-05-10T00:00:00Z") == parse_timestamp_ns("2024-05-10 00:00:00")
    assert (parse_timestamp_ns("2024-05-10 00:00:00-02:00")
            - parse_timestamp_ns("2024-05-10 00:00:00")) == 2 * 3600 * 10**9
    assert parse_timestamp_ns("1970-01-01 00:00:00.000000001") == 1


def test_unsorted_rows_rejected_or_sorted(tmp_path: Path) -> None:
    rows = [ROWS[0], ROWS[2], ROWS[1]]
    path = _write(tmp_path / "t.csv", rows)
    with pytest.raises(TraceFormatError, match="earlier than the row before") as info:
        read_azure_llm(path)
    assert (info.value.path, info.value.line, info.value.column) == (str(path), 4, "TIMESTAMP")
    w = read_azure_llm(path, AzureLLMSpec(require_sorted=False)).workload
    assert w.arrival[0] == 0.0
    assert w.prompt_tokens.tolist() == [4808, 3180, 110]


@pytest.mark.parametrize(
    ("row", "column", "match"),
    [
        ("2023-11-16 18:16:00.0,12", "GeneratedTokens", "missing column"),
        ("2023-11-16 25:16:00.0,12,3", "TIMESTAMP", "out of range"),
        ("2023-02-30 18:16:00.0,12,3", "TIMESTAMP", "day is out of range"),
        ("yesterday,12,3", "TIMESTAMP", "not a timestamp"),
        ("2023-11-16 18:16:00.0,-12,3", "ContextTokens", "negative count"),
        ("2023-11-16 18:16:00.0,12,3.5", "GeneratedTokens", "not a whole number"),
    ],
)
def test_malformed_rows_name_file_line_column(tmp_path: Path, row: str, column: str,
                                              match: str) -> None:
    path = _write(tmp_path / "bad.csv", [ROWS[0], row])
    with pytest.raises(TraceFormatError, match=match) as info:
        read_azure_llm(path)
    assert (info.value.path, info.value.line, info.value.column) == (str(path), 3, column)


def test_skip_mode_counts_rows(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.csv", [ROWS[0], "x,1,2", ROWS[2], ROWS[1], ROWS[3]])
    r = read_azure_llm(path, AzureLLMSpec(on_error="skip"))
    assert (r.rows, r.rows_skipped, len(r.workload)) == (5, 2, 3)
    assert "line 3" in r.skipped_examples[0]
    assert "line 5" in r.skipped_examples[1]


def test_header_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match="required column") as info:
        read_azure_llm(_write(tmp_path / "h.csv", ROWS, header="TIMESTAMP,Context,Generated"))
    assert info.value.column == "ContextTokens"
    w = read_azure_llm(_write(tmp_path / "e.csv", [])).workload
    assert len(w) == 0
    assert w.prompt_tokens is not None


@pytest.mark.parametrize(("row", "match"), [
    ("9999-01-01 00:00:00,1,1", "year 9999 is out of range"),
    ("1600-01-01 00:00:00,1,1", "year 1600 is out of range"),
    ("2023-11-16 18:15:46,12345678901234567890123,1", r"count '1234.*' exceeds the limit"),
    ("2023-11-16 18:15:46,1,10000001", "GeneratedTokens.*exceeds the limit of 10000000"),
])
def test_values_beyond_the_documented_limits(tmp_path: Path, row: str, match: str) -> None:
    path = _write(tmp_path / "t.csv", [row])
    with pytest.raises(TraceFormatError, match=match):
        read_azure_llm(path)
    # Skipping counts the row instead of failing (issue 17: the 23-digit count did not).
    result = read_azure_llm(path, AzureLLMSpec(on_error="skip"))
    assert (result.rows, result.rows_skipped, len(result.workload)) == (1, 1, 0)


def test_a_span_beyond_int64_nanoseconds_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", ["1700-01-01 00:00:00,1,1", "2250-01-01 00:00:00,1,1"])
    with pytest.raises(TraceFormatError, match="292 years"):
        read_azure_llm(path)


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes((HEADER + "\n").encode() + b"2023-11-16 18:15:46,1,\xff\xfe\n")
    with pytest.raises(TraceFormatError, match=r"t\.csv, line 2: not UTF-8"):
        read_azure_llm(path)
