"""``alpaserve plan`` prints the plan and writes its JSON."""

from __future__ import annotations

import json

from alpaserve.cli import main


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


