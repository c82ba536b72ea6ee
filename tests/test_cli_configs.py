from __future__ import annotations

import json
from pathlib import Path

import pytest

from alpaserve.cli import main


def test_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["configs", "bert-1.3b", "--devices", "2", "--batch-sizes", "1,2",
               "--cache-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    assert out.splitlines()[0].split()[:4] == ["devices", "config", "meshes", "bs"]
    assert "pp2-tp1" in out
    assert "pp1-tp2" in out
    assert "cache miss" in out
    main(["configs", "bert-1.3b", "--devices", "2", "--batch-sizes", "1,2",
          "--cache-dir", str(tmp_path)])
    assert "cache hit" in capsys.readouterr().out


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["configs", "bert-1.3b", "--devices", "1", "--batch-sizes", "1",
                 "--no-cache", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["candidates"][0]["key"] == "pp1-tp1"
    assert data["candidates"][0]["entries"][0]["source"] == "analytic-dp-ilp"


def test_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["configs", "bert-103.5b", "--devices", "4", "--batch-sizes", "1",
                 "--no-cache"]) == 2
    assert "smallest group that fits is 32 devices" in capsys.readouterr().err
    assert main(["configs", "bert-1.3b", "--devices", "2", "--batch-sizes", "a,b"]) == 2
    assert "batch sizes must be integers" in capsys.readouterr().err
    assert main(["configs", "nope", "--devices", "1", "--no-cache"]) == 2
