"""The ``alpaserve modelless`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alpaserve.cli import main
from alpaserve.modelless.registry import example_registry


def test_text_and_json_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["modelless", "--load", "flat", "--duration", "60", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "SLO violations" in out
    assert "cost" in out
    assert "served by" in out
    path = tmp_path / "reg.json"
    path.write_text(example_registry().to_json())
    assert main(["modelless", "--registry", str(path), "--duration", "60", "--json",
                 "--variant", "resnet50-tf-cpu"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["policy"] == "resnet50-tf-cpu"
    assert data["served_by_variant"].keys() == {"resnet50-tf-cpu"}
    assert sum(data["outcomes"].values()) >= data["queries"]


def test_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["modelless", "--registry", str(tmp_path / "missing.yaml")]) == 2
    assert "argument --registry: file" in capsys.readouterr().err
    assert main(["modelless", "--duration", "30", "--variant", "nope"]) == 2
    assert "'nope'" in capsys.readouterr().err


def test_baseline_policies(capsys: pytest.CaptureFixture[str]) -> None:
    for policy in ("clipper+", "sm+"):
        assert main(["modelless", "--duration", "60", "--json", "--policy", policy,
                     "--lookahead", "0", "--no-plan-ahead"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["policy"] == policy
        assert 0.0 <= data["attainment"] <= 1.0
