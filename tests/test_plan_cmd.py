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




def test_memory_gib_sets_the_budget(capsys):
    argv = ["plan", "--models", "bert-1.3b:6", "--devices", "1", "--rate", "6", "--duration",
            "10", "--policy", "sr", "--slo", "2", "--json"]
    assert main(argv) == 0
    preset = json.loads(capsys.readouterr().out)
    assert main([*argv, "--memory-gib", "13"]) == 0
    gib13 = json.loads(capsys.readouterr().out)
    hosted = [sum(len(g["models"]) for g in d["placement"]["groups"]) for d in (preset, gib13)]
    assert hosted == [4, 5]
    assert gib13["placement"]["cluster"]["device"]["reserved_bytes"] == (16 - 13) << 30
    assert main([*argv, "--memory-gib", "0"]) == 2
    assert "argument --memory-gib: must be a finite number above 0" in capsys.readouterr().err
