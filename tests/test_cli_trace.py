"""``alpaserve trace``: format detection, statistics, plots and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alpaserve.cli import main
from alpaserve.cli.trace_cmd import detect_format
from alpaserve.errors import TraceFormatError


@pytest.fixture
def llm_trace(tmp_path: Path) -> Path:
    rows = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for i in range(50):
        rows.append(f"2023-11-16 18:{15 + i // 30:02d}:{(2 * i) % 60:02d}.1234567,{100 + i},{i}")
    path = tmp_path / "llm.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def functions_2019(tmp_path: Path) -> Path:
    header = "HashOwner,HashApp,HashFunction,Trigger," + ",".join(str(m) for m in range(1, 1441))
    rows = [header]
    for f in range(5):
        counts = [(f + m) % 3 if m < 10 else 0 for m in range(1440)]
        rows.append(f"o{f},a{f},f{f},http," + ",".join(map(str, counts)))
    rows.append("o9,a9,f9,http," + ",".join(["0"] * 1440))  # an empty function
    path = tmp_path / "invocations_per_function_md.anon.d01.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_detects_every_format(tmp_path: Path, llm_trace: Path, functions_2019: Path) -> None:
    f2021 = tmp_path / "f2021.txt"
    f2021.write_text("app,func,end_timestamp,duration\na,f,10.5,0.5\n")
    generic = tmp_path / "g.csv"
    generic.write_text("arrival_s,model\n0.1,m\n")
    assert detect_format(llm_trace) == "azure-llm"
    assert detect_format(functions_2019) == "azure-2019"
    assert detect_format(f2021) == "azure-2021"
    assert detect_format(generic) == "csv"
    assert detect_format(tmp_path / "w.npz") == "saved"


def test_llm_trace_statistics_as_json(llm_trace: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["trace", str(llm_trace), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["model"] == "(all)"
    assert rows[0]["requests"] == 50


def test_function_trace_reports_dropped_functions(functions_2019: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    png = tmp_path / "rate.png"
    out = tmp_path / "stats.csv"
    assert main(["trace", str(functions_2019), "--models", "2", "--plot", str(png),
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "empty_functions_dropped 1" in text
    assert png.stat().st_size > 0
    assert out.read_text().startswith("model,requests")


def test_unknown_format_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("what,is,this\n1,2,3\n")
    assert main(["trace", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "cannot tell the trace format" in err
    with pytest.raises(TraceFormatError, match="cannot tell the trace format"):
        main(["--debug", "trace", str(bad)])


def test_missing_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["trace", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv" in capsys.readouterr().err
