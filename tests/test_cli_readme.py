"""The user's path through the command line: every command line of the README runs in a
temporary directory (its studies included), every command prints strict JSON alone with
``--json``, and the shell's conventions (``--version``, flags after the subcommand, one-line
errors for a missing extra, solver banners off stdout)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alpaserve import __version__
from alpaserve.cli import SUBCOMMANDS, main
from alpaserve.errors import AlpaServeError
from tests._fixtures_cli import strict_loads
from tests._fixtures_traces import write_azure_llm, write_tiny_model
from workloads.availability_io import write_availability_csv
from workloads.synthetic_availability import synthetic_availability

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUNTIME_COMMANDS = ("profile", "fidelity")


def readme_commands(section: str) -> list[str]:
    """The ``alpaserve`` lines of the first code block after ``section``'s heading."""
    text = README.read_text()
    after = text.split(section, 1)[1]
    block = re.search(r"```\n(.*?)```", after, flags=re.S)
    assert block is not None, f"no code block after {section!r}"
    lines = [line.split("  #", 1)[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line.startswith("alpaserve")]


def run_line(line: str) -> int:
    argv = shlex.split(line)[1:]
    if argv[0] in RUNTIME_COMMANDS:
        pytest.importorskip("jax", reason="profile/fidelity need the 'runtime' extra")
        from tests._fixtures_runtime import cpu_devices

        cpu_devices()  # the suite's JAX runs on 8 virtual CPU devices
    try:
        return main(argv)
    except SystemExit as exc:  # --version, --help
        return int(exc.code or 0)


def write_user_files(cwd: Path) -> None:
    """The files the README's commands name, small and generated."""
    write_azure_llm(cwd / "AzureLLMInferenceTrace_code.csv", n=600, rate=20.0)
    write_tiny_model(cwd / "tiny.json")
    fleet = synthetic_availability(duration=1200.0, num_spot=4, mean_lifetime=600.0,
                                   mean_replacement=30.0, seed=4)
    write_availability_csv(fleet, cwd / "g4dn.csv")
    # SpotServe's own formats: a trace segment, a measured profile (ms) and a request stream
    (cwd / "trace_0304_real.txt").write_text(
        '[0, "add", {"nodes": ["node-0", "node-1", "node-2", "node-3"]}]\n'
        '[200000, "other", {"nodes": [], "required_tpt": 0.4}]\n'
        '[400000, "remove", {"nodes": ["node-1"]}]\n[900000, "DONE", {"nodes": []}]\n')
    rows = {f"tp-{t}": {f"bsz-{b}": {"init": 20.0 * b / t + 2, "incr": 0.5 + 0.1 * b}
                        for b in (1, 2, 4, 8)} for t in (1, 2, 4, 8)}
    (cwd / "megatron_h6144_profile.json").write_text(json.dumps(
        {"layer_num": 44, "padded_layer_num": 44, "hidden_size": 6144, "max_tp": 8,
         "final_fix_factor": 1.1, "pp_init_comm": 1.0, "pp_incr_comm": 0.05,
         "embed": [0.2, 0.3, 0.4, 0.6], **rows}))
    (cwd / "query_tpt0.35_cv6.txt").write_text(
        "".join(f"{i},{3.0 * i + 1},512,{i}\n" for i in range(100)))
    (cwd / "experiment.yaml").write_text(
        "policies: [sr]\ndevices: [2]\nsettings: {models: 'bert-1.3b:2', rate: 4, "
        "duration: 20}\n")


@pytest.mark.slow
def test_every_readme_command_line_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALPASERVE_CACHE_DIR", str(tmp_path / "cache"))
    write_user_files(tmp_path)
    lines = readme_commands("## Command line")
    assert len(lines) >= 15
    ran = set()
    for line in lines:
        assert run_line(line) == 0, f"{line!r} failed: {capsys.readouterr().err}"
        out = capsys.readouterr().out
        if "--json" in line:
            strict_loads(out)
        ran.add(shlex.split(line)[1])
    assert {name for name, _, _ in SUBCOMMANDS} <= ran
    assert (tmp_path / "rate.png").is_file()
    assert (tmp_path / "profiles.json").is_file()


@pytest.mark.slow
def test_the_readme_trace_study_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture) -> None:
    """The study's commands, on a generated trace where ``../shared`` holds the real one."""
    repo = tmp_path / "repo"
    repo.mkdir()
    write_azure_llm(tmp_path / "shared/data/azure_llm_2023/AzureLLMInferenceTrace_code.csv",
                    n=800, rate=0.2)  # the example sweep windows reach 3,600 s
    if (ROOT / "examples").is_dir():
        shutil.copytree(ROOT / "examples", repo / "examples")
    monkeypatch.chdir(repo)
    lines = readme_commands("### A trace-driven study")
    assert [shlex.split(line)[1] for line in lines] == ["plan", "simulate", "sweep", "simulate"]
    for line in lines:
        config = re.search(r"--config (\S+)", line)
        if config and not Path(config.group(1)).is_file():
            continue  # the sweep's experiment file ships with the sweep schema
        assert run_line(line) == 0, f"{line!r} failed: {capsys.readouterr().err}"
    assert (repo / "code_attainment.png").is_file()
    plan = json.loads((repo / "code_plan.json").read_text())
    assert plan["workload"]["map"] == "prompt-buckets"
    assert plan["workload"]["rate_scale"] == 4.0


@pytest.mark.slow
def test_the_readme_many_llm_study_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture) -> None:
    """``llm plan`` then ``llm simulate --json``, on a generated trace where ``../shared``
    holds the real one."""
    repo = tmp_path / "repo"
    repo.mkdir()
    write_azure_llm(tmp_path / "shared/data/azure_llm_2023/AzureLLMInferenceTrace_code.csv",
                    n=400, rate=4.0)
    monkeypatch.chdir(repo)
    lines = readme_commands("### Many LLMs on one cluster")
    assert [shlex.split(line)[1:3] for line in lines] == [["llm", "plan"], ["llm", "simulate"]]
    for line in lines:
        assert run_line(line) == 0, f"{line!r} failed: {capsys.readouterr().err}"
        out = capsys.readouterr().out
    data = strict_loads(out)  # the simulate line's --json: stdout is one JSON document
    plan = strict_loads((repo / "llm_plan.json").read_text())
    assert plan["kind"] == "alpaserve-llm-plan"
    assert plan["workload"]["alpha"] == 1.2
    assert data["overall"]["requests"] == plan["workload"]["test_requests"]
    assert len(data["rows"]) == 1 + 6


def test_version_and_flags_after_the_subcommand(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"alpaserve {__version__}"
    assert main(["costs", "--models", "bert-1.3b", "-v", "--json"]) == 0
    strict_loads(capsys.readouterr().out)
    with pytest.raises(AlpaServeError, match="no-such-model"):  # --debug: the traceback
        main(["costs", "--models", "no-such-model", "--debug"])


def test_plan_takes_workers_and_the_old_jobs_flag(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    base = ["plan", "--models", "bert-1.3b:2", "--devices", "2", "--duration", "10",
            "--policy", "sr", "--json"]
    assert main([*base, "--workers", "1"]) == 0
    assert main([*base, "--jobs", "1"]) == 0
    assert "--jobs is deprecated; use --workers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    helptext = capsys.readouterr().out
    assert "--workers" in helptext
    assert "--jobs" not in helptext
    assert "--rate-scale" in helptext


def test_a_missing_extra_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture) -> None:
    def needs_ray(args: object) -> int:
        import ray  # noqa: F401

        return 0

    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setattr("alpaserve.cli.costs_cmd.run", needs_ray)
    assert main(["costs"]) == 2
    err = capsys.readouterr().err
    assert err == ("alpaserve costs: error: this needs ray, which is not installed: "
                   "pip install 'alpaserve[ray]'\n")


def test_solver_banners_stay_off_stdout(tmp_path: Path) -> None:
    """In a real process the HiGHS banner (written by C code to fd 1) goes to stderr."""
    pytest.importorskip("highspy")
    code = "import sys; from alpaserve.cli import main; sys.exit(main())"
    proc = subprocess.run(
        [sys.executable, "-c", code, "configs", "bert-1.3b", "--devices", "2",
         "--batch-sizes", "1", "--no-cache", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    data = strict_loads(proc.stdout)
    assert isinstance(data, dict)
    assert data["model"] == "bert-1.3b"


JSON_COMMANDS = {
    "costs": ["costs", "--models", "bert-1.3b"],
    "configs": ["configs", "bert-1.3b", "--devices", "2", "--batch-sizes", "1"],
    "demo": ["demo", "--num-models", "2", "--devices", "2", "--duration", "10"],
    "trace": ["trace", "llm.csv"],
    "spot": ["spot", "--trace", "g4dn.csv", "--model", "gpt-1.3b", "--rate", "0.5",
             "--duration", "600", "--policy", "spotserve", "--slo", "5",
             "--prompt-tokens", "128", "--output-tokens", "16"],
    "modelless": ["modelless", "--load", "flat", "--duration", "60"],
    "sweep": ["sweep", "--models", "bert-1.3b:2", "--rate", "4", "--duration", "10",
              "--devices", "1", "--policies", "sr", "--no-progress", "--out", "r.csv"],
    "profile": ["profile", "tiny.json", "--cpu-devices", "8", "--repeats", "2"],
    "llm": ["llm", "plan", "--models", "llm-tiny:2", "--devices", "2", "--rate", "4",
            "--duration", "30"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(JSON_COMMANDS))
def test_every_command_prints_strict_json_alone(name: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALPASERVE_CACHE_DIR", str(tmp_path / "cache"))
    write_user_files(tmp_path)
    write_azure_llm(tmp_path / "llm.csv", n=100)
    assert run_line(shlex.join(["alpaserve", *JSON_COMMANDS[name], "--json"])) == 0
    strict_loads(capsys.readouterr().out)  # the whole of stdout is one JSON document
