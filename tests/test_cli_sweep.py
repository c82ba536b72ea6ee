"""``alpaserve sweep``: flags or an experiment file, resumable and safe output."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alpaserve.cli import main
from alpaserve.sweep.runner import read_results

ROOT = Path(__file__).resolve().parents[1]
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


def test_sweep_from_yaml_with_seeds(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "exp.yaml"
    config.write_text("policies: sr\ndevices: 2\ncv_scales: [0.5, 2]\nseeds: [4, 5]\n"
                      "settings: {models: 'bert-1.3b:2', rate: 4, duration: 20}\n")
    out = tmp_path / "r.parquet"
    assert main(["sweep", "--config", str(config), "--out", str(out), "--no-progress"]) == 0
    rows = read_results(out)
    assert sorted((r["cv_scale"], r["seed"]) for r in rows) == \
        [(0.5, 4), (0.5, 5), (2.0, 4), (2.0, 5)]
    assert {r["policy"] for r in rows} == {"sr"}


@pytest.mark.parametrize(("text", "extra", "match"), [
    ("policies: [sr]\ncolour: red\n", [], r"unknown key 'colour'; allowed: policies"),
    ("policies: [sr]\nsettings: {rat: 3}\n", [], r"unknown settings key 'rat'; allowed: models"),
    ("policies: [sr]\ndevices: [four]\n", [], r"devices must be an integer .* got 'four'"),
    ("policies: [sr\n", [], r"is malformed"),
    ("policies: [sr]\n", ["--devices", "4"], r"--devices cannot be combined with --config"),
    ("policies: [sr]\nsettings: {trace: none.csv}\n", [], r"trace file 'none\.csv' does not"),
])
def test_bad_experiment_file(tmp_path: Path, capsys: pytest.CaptureFixture, text: str,
                             extra: list[str], match: str) -> None:
    config = tmp_path / "exp.yaml"
    config.write_text(text)
    assert main(["sweep", "--config", str(config), "--out", str(tmp_path / "r.csv"),
                 *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert re.search(match, err), err
    assert not (tmp_path / "r.csv").exists()


def test_missing_experiment_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["sweep", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "cannot read experiment file" in capsys.readouterr().err


def test_foreign_output_is_refused_then_forced(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "user.csv"
    out.write_bytes(b"x,y\n1,2")
    assert main(["sweep", "--out", str(out), *FLAGS]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "is not an alpaserve sweep file" in err
    assert out.read_bytes() == b"x,y\n1,2"
    assert main(["sweep", "--out", str(out), "--force", *FLAGS]) == 0
    assert len(read_results(out)) == 4


def test_another_experiment_on_the_same_file(tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "r.csv"
    assert main(["sweep", "--out", str(out), *FLAGS]) == 0
    before = out.read_bytes()
    assert main(["sweep", "--out", str(out), *FLAGS, "--seeds", "1"]) == 2
    assert "holds another experiment" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_trace_flag_overrides_the_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,model\n" + "".join(f"{i * 0.5},fn{i % 2}\n" for i in range(240)))
    config = tmp_path / "exp.yaml"
    config.write_text("policies: sr\ndevices: 1\nwindows: [[0, 60], null]\n"
                      "settings: {models: 'bert-1.3b:2', trace: missing.csv}\n")
    out = tmp_path / "r.csv"
    assert main(["sweep", "--config", str(config), "--trace", str(trace), "--out", str(out),
                 "--no-progress"]) == 0
    rows = read_results(out)
    assert sorted((r["window_end"] is None, r["requests"] > 0) for r in rows) == \
        [(False, True), (True, True)]


def test_help_describes_the_format(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    text = capsys.readouterr().out
    for word in ("policies:", "seeds:", "windows:", "settings:", "load_sweep", "--force",
                 "RAY_AUTH_MODE=token", "examples/"):
        assert word in text


def test_synthetic_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "synthetic.csv"
    assert main(["sweep", "--config", str(ROOT / "examples" / "sweep_synthetic.yaml"),
                 "--out", str(out), "--no-progress"]) == 0
    assert "24 cases: 0 already done, 24 run, 0 failed" in capsys.readouterr().out
    from alpaserve.sweep import load_sweep

    df = load_sweep(out)
    assert sorted(df.groupby(["policy", "devices"]).size().unique()) == [6]
    assert df.attainment.between(0, 1).all()


_SHARED = [p / "shared" / "data" for p in ROOT.parents[:3]]  # beside the clone (or a worktree)
_CODE_TRACE = next((p / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv" for p in _SHARED
                    if (p / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv").exists()),
                   None)


@pytest.mark.slow
@pytest.mark.skipif(_CODE_TRACE is None, reason="the shared Azure LLM code trace is absent")
def test_trace_example_on_the_real_code_trace(tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "trace_sweep.csv"
    assert main(["sweep", "--config", str(ROOT / "examples" / "trace_sweep.yaml"), "--trace",
                 str(_CODE_TRACE), "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "36 cases: 0 already done, 36 run, 0 failed" in text
    assert "window_start" in text
    rows = read_results(out)
    assert {(r["window_start"], r["window_end"]) for r in rows} == \
        {(0.0, 1200.0), (1200.0, 2400.0), (2400.0, 3600.0)}
    assert all(r["requests"] > 0 for r in rows)
