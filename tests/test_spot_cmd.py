"""The ``alpaserve spot`` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alpaserve.cli import main
from workloads.availability import write_availability_csv
from workloads.synthetic_availability import synthetic_availability


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    trace = synthetic_availability(duration=1200.0, num_spot=2, mean_lifetime=400.0,
                                   mean_replacement=30.0, rng=np.random.default_rng(4))
    path = tmp_path / "fleet.csv"
    write_availability_csv(trace, path)
    return path


def test_json_output(trace_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["spot", "--trace", str(trace_file), "--model", "gpt-1.3b", "--rate", "0.5",
               "--duration", "600", "--policy", "spotserve", "--json", "--slo", "5",
               "--prompt-tokens", "128", "--output-tokens", "16"])
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["policy"] for r in rows] == ["spotserve"]
    assert rows[0]["finished"] + rows[0]["in_flight"] + rows[0]["dropped"] == \
        rows[0]["num_requests"]


def test_table_output(trace_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["spot", "--trace", str(trace_file), "--model", "gpt-1.3b", "--rate", "0.3",
               "--duration", "300", "--prompt-tokens", "64", "--output-tokens", "8"])
    out = capsys.readouterr().out
    assert rc == 0
    for name in ("spotserve", "reparallelize", "reroute", "ondemand"):
        assert name in out


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("0,add,a\n5,explode,a\n")
    assert main(["spot", "--trace", str(bad), "--rate", "1"]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err
    assert "explode" in err
    assert main(["spot", "--trace", str(tmp_path / "none.csv"), "--rate", "1"]) == 2
    assert "argument --trace: file" in capsys.readouterr().err
