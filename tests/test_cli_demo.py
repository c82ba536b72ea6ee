"""``alpaserve demo``: plans with SR and AlpaServe, prints the table, writes plot and plan
into its own output folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alpaserve.cli import main
from alpaserve.cli.demo_cmd import MARKER
from alpaserve.plan_file import load_plan_file

SMALL = ["--num-models", "2", "--devices", "2", "--rate", "10", "--duration", "10"]


def test_demo_compares_policies_and_writes_outputs(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--num-models", "4", "--devices", "4", "--rate", "20",
                 "--duration", "30", "--json"]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert [r["policy"] for r in rows] == ["sr", "alpaserve"]
    for r in rows:
        assert 0.0 <= r["attainment"] <= 1.0
        assert r["devices_used"] <= 4
    # bursty traffic (CV 4) at a 5x SLO: the model-parallel search is never worse than SR
    assert rows[1]["attainment"] >= rows[0]["attainment"]
    out = tmp_path / "alpaserve-demo"
    assert "wrote demo.png and plan.json to alpaserve-demo/" in captured.err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [MARKER, ".alpaserve-outputs.json", "demo.png", "plan.json"])  # + safe-files manifest
    assert (out / "demo.png").stat().st_size > 10_000
    plan = load_plan_file(out / "plan.json")  # a plan file: the placement and the traffic
    assert plan.placement.hosted_models == {f"bert-1.3b#{i}" for i in range(4)}
    assert plan.workload is not None
    assert (plan.workload["rate"], plan.workload["cv"]) == (20.0, 4.0)
    assert not (tmp_path / "demo.png").exists()


def test_demo_rewrites_its_own_folder_and_prints_it(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "nested" / "out"
    out.mkdir(parents=True)
    (out / MARKER).write_text("from an earlier run\n")
    (out / "plan.json").write_text("stale")
    assert main(["demo", *SMALL, "--out-dir", str(out)]) == 0
    assert f"wrote demo.png and plan.json to {out}/" in capsys.readouterr().out
    assert load_plan_file(out / "plan.json").placement.hosted_models


def test_demo_refuses_a_folder_it_did_not_write(tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "plan.json").write_text("someone else's")
    assert main(["demo", *SMALL, "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "holds files the demo did not write (plan.json); choose another folder or pass " \
           "--force" in err
    assert (tmp_path / "plan.json").read_text() == "someone else's"
    assert not (tmp_path / MARKER).exists()
    # --force takes the folder over, the other files stay
    (tmp_path / "notes.txt").write_text("keep")
    assert main(["demo", *SMALL, "--out-dir", str(tmp_path), "--force", "--json"]) == 0
    assert load_plan_file(tmp_path / "plan.json").placement.hosted_models
    assert (tmp_path / "notes.txt").read_text() == "keep"
    assert (tmp_path / MARKER).is_file()


def test_demo_rejects_a_file_as_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    assert main(["demo", *SMALL, "--out-dir", str(path)]) == 2
    assert f"--out-dir '{path}' exists and is not a folder" in capsys.readouterr().err


def test_demo_rejects_bad_sizes(capsys: pytest.CaptureFixture) -> None:
    assert main(["demo", "--num-models", "0"]) == 2
    assert "--num-models: must be an integer at least 1" in capsys.readouterr().err
