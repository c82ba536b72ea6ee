"""The CLI shell: subcommand listing, --config files, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alpaserve.cli import SUBCOMMANDS, main

EXPECTED = {"demo", "costs", "configs", "plan", "simulate", "sweep", "trace", "spot",
            "modelless", "profile", "fidelity", "llm"}


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert {name for name, _, _ in SUBCOMMANDS} == EXPECTED
    for name in EXPECTED:
        assert name in text


def test_config_file_supplies_flags_and_the_command_line_wins(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "exp.yaml"
    config.write_text("models: bert-1.3b:2\ndevices: 2\nrate: 4\nduration: 20\npolicy: sr\n")
    assert main(["plan", "--config", str(config), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["policy"] == "sr"
    assert len(data["placement"]["models"]) == 2
    assert main(["plan", "--config", str(config), "--policy", "alpaserve", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["policy"] == "alpaserve"


def test_json_config_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "exp.json"
    config.write_text(json.dumps({"models": ["bert-1.3b"]}))
    assert main(["costs", "--config", str(config), "--json"]) == 0
    assert [r["model"] for r in json.loads(capsys.readouterr().out)] == ["bert-1.3b"]


@pytest.mark.parametrize(("text", "message"), [
    ("colour: red\n", "unknown keys ['colour']"),
    ("policy: magic\n", "policy = 'magic' is not one of"),
    ("devices: many\n", "devices = 'many' is invalid"),
    ("- a\n- b\n", "must hold a mapping"),
    ("a: [\n", "is malformed"),
])
def test_bad_config_files_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture,
                                              text: str, message: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    assert main(["plan", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["plan", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "cannot read config file" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["costs", "--models", "bert-1.3b"],
    ["configs", "bert-1.3b", "--devices", "2", "--no-cache"],
    ["modelless", "--load", "flat", "--duration", "200"],
    ["spot", "--rate", "0.5", "--duration", "600", "--policy", "spotserve"],
])
def test_row_commands_write_out_files(argv: list[str], tmp_path: Path,
                                      capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "rows.json"
    assert main([*argv, "--out", str(out)]) == 0
    capsys.readouterr()
    rows = json.loads(out.read_text())
    assert isinstance(rows, list)
    assert rows
    assert all(isinstance(r, dict) for r in rows)


@pytest.mark.parametrize(("argv", "named"), [
    (["demo", "--rat", "3"], "unrecognized arguments: --rat 3"),  # not --rate
    (["plan", "--models", "bert-1.3b:1", "--devices", "1", "--dur", "5"],
     "unrecognized arguments: --dur 5"),  # not --duration
    (["llm", "plan", "--model", "x", "--devices", "1"], "required: --models"),
])
def test_abbreviated_flags_are_rejected(argv: list[str], named: str,
                                        capsys: pytest.CaptureFixture) -> None:
    """A prefix of a flag is a typo to name, not a silent match (a later flag sharing the
    prefix would change what an old command line means)."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert named in err
    assert err.count("\n") == 1
