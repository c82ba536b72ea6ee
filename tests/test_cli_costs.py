"""``alpaserve costs`` and the interim ``alpaserve demo``."""

from __future__ import annotations

import json

import pytest

from alpaserve.cli import main


def test_costs_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["costs", "--models", "bert-1.3b,bert-6.7b", "--max-devices", "4"]) == 0
    out = capsys.readouterr().out
    assert "bert-1.3b (bert): 1.32 B params, 2.64 GB weights" in out
    assert "fits on 2 device(s)" in out  # bert-6.7b
    rows = [line.split() for line in out.splitlines() if line.startswith("  pp")]
    assert len(rows) == 2 * 6  # six uniform configs on up to four devices, per model
    assert rows[0][0] == "pp1-tp1"
    assert float(rows[0][2]) == pytest.approx(100, rel=0.15)
    assert [r[-1] for r in rows if r[0] == "pp1-tp1" and float(r[2]) > 200] == ["no"]


def test_costs_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["costs", "--models", "bert-2.6b", "--device", "a100-80gb", "--batch-size", "2",
                 "--max-devices", "2", "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["model"] == "bert-2.6b"
    assert record["device"] == "a100-80gb"
    assert record["batch_size"] == 2
    assert [c["config"] for c in record["configs"]] == ["pp1-tp1", "pp1-tp2", "pp2-tp1"]
    assert all(c["fits"] for c in record["configs"])
    assert record["configs"][0]["latency_s"] == pytest.approx(record["single_device_latency_s"])


@pytest.mark.parametrize(("argv", "message"), [
    (["costs", "--models", "bert-9b"], "unknown model preset 'bert-9b'"),
    (["costs", "--device", "z100"], "unknown device preset 'z100'"),
    (["costs", "--batch-size", "0"], "at least 1 and at most 256, got '0'"),
])
def test_costs_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
