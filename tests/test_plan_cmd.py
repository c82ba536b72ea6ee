"""``alpaserve plan`` prints the plan and writes its JSON."""

from __future__ import annotations

import json

import pytest

from alpaserve.cli import main
from alpaserve.cli.plan_cmd import parse_models
from alpaserve.errors import SpecError


def test_plan_command_writes_json(tmp_path, capsys):
    out = tmp_path / "plan.json"
    code = main(["plan", "--models", "bert-1.3b:3", "--devices", "2", "--rate", "4",
                 "--cv", "2", "--duration", "10", "--policy", "sr", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "policy sr" in printed
    assert "groups:" in printed
    data = json.loads(out.read_text())
    assert data["policy"] == "sr"
    assert len(data["placement"]["models"]) == 3


def test_model_list_parsing():
    assert parse_models("bert-1.3b:8, bert-2.6b") == [("bert-1.3b", 8), ("bert-2.6b", 1)]
    with pytest.raises(SpecError, match="must be an integer"):
        parse_models("bert-1.3b:x")
    with pytest.raises(SpecError, match="must be positive"):
        parse_models("bert-1.3b:0")
