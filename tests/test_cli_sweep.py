"""``alpaserve sweep``: flags or an experiment file, resumable output."""

from __future__ import annotations

from pathlib import Path

import pytest

from alpaserve.cli import main
from alpaserve.sweep.runner import read_results

FLAGS = ["--models", "bert-1.3b:2", "--rate", "4", "--duration", "20", "--devices", "1,2",
         "--no-progress"]


def test_sweep_from_flags_then_resume(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "r.csv"
    assert main(["sweep", "--out", str(out), *FLAGS]) == 0
    assert "4 cases: 0 already done, 4 run, 0 failed" in capsys.readouterr().out
    assert main(["sweep", "--out", str(out), *FLAGS]) == 0
    assert "4 cases: 4 already done, 0 run" in capsys.readouterr().out
    rows = read_results(out)
    assert sorted((r["policy"], r["devices"]) for r in rows) == \
        [("alpaserve", 1), ("alpaserve", 2), ("sr", 1), ("sr", 2)]


def test_sweep_from_yaml(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "exp.yaml"
    config.write_text("policies: [sr]\ndevices: [2]\ncv_scales: [0.5, 2]\nseed: 4\n"
                      "settings: {models: 'bert-1.3b:2', rate: 4, duration: 20}\n")
    out = tmp_path / "r.parquet"
    assert main(["sweep", "--config", str(config), "--out", str(out), "--no-progress"]) == 0
    rows = read_results(out)
    assert sorted(r["cv_scale"] for r in rows) == [0.5, 2.0]
    assert all(r["seed"] == 4 for r in rows)


def test_bad_experiment_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "exp.yaml"
    config.write_text("policies: [sr]\ncolour: red\n")
    assert main(["sweep", "--config", str(config), "--out", str(tmp_path / "r.csv")]) == 2
    assert "unknown sweep keys ['colour']" in capsys.readouterr().err
    assert main(["sweep", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "cannot read experiment file" in capsys.readouterr().err
