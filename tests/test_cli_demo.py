"""``alpaserve demo``: plans with SR and AlpaServe, prints the table, writes plot and plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alpaserve.cli import main
from alpaserve.placement_spec import Placement


def test_demo_compares_policies_and_writes_outputs(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    png, plan_json = tmp_path / "demo.png", tmp_path / "plan.json"
    assert main(["demo", "--num-models", "4", "--devices", "4", "--rate", "20",
                 "--duration", "30", "--plot", str(png), "--plan-json", str(plan_json),
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["policy"] for r in rows] == ["sr", "alpaserve"]
    for r in rows:
        assert 0.0 <= r["attainment"] <= 1.0
        assert r["devices_used"] <= 4
    # bursty traffic (CV 4) at a 5x SLO: the model-parallel search is never worse than SR
    assert rows[1]["attainment"] >= rows[0]["attainment"]
    assert png.stat().st_size > 10_000
    placement = Placement.from_json(plan_json.read_text())
    assert placement.hosted_models == {f"bert-1.3b#{i}" for i in range(4)}


def test_demo_rejects_bad_sizes(capsys: pytest.CaptureFixture) -> None:
    assert main(["demo", "--num-models", "0"]) == 2
    assert "--num-models: must be an integer at least 1" in capsys.readouterr().err
