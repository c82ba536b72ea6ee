"""The command line's input checks (``alpaserve.cli._checks``) and the bad-input table.

Every case runs in-process through :func:`alpaserve.cli.main` and must end in one of two
ways: a non-zero exit with exactly one line on stderr that names the bad value and no
traceback, or a documented, correct result. None may take 30 s.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alpaserve.cli import _checks as checks
from alpaserve.cli import main
from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.model_presets import model_preset
from alpaserve.placement_spec import Group, Placement
from tests._fixtures_bad_inputs import CONTENT_CASES, TSV_CASES
from tests._fixtures_bad_llm_inputs import LLM_CONTENT_CASES, LLM_PLAN_EDITS, edited

LIMIT_S = 30.0


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small inputs every case may name: a placement, a trace, a registry, a directory."""
    root = tmp_path_factory.mktemp("inputs")
    models = [model_preset("bert-1.3b").renamed(f"m{i}") for i in range(2)]
    placement = Placement(cluster=homogeneous_cluster(2), models={m.name: m for m in models},
                          groups=(Group.uniform(name="g0", device_ids=[0, 1],
                                                pipeline_degree=2, models=models),))
    out = {"placement": root / "plan.json", "trace": root / "trace.csv",
           "dir": root / "adir", "root": root}
    out["placement"].write_text(placement.to_json())
    out["trace"].write_text("arrival_s,model\n0.5,a\n1.5,b\n")
    out["dir"].mkdir()
    return out


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str, float]:
    t0 = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - t0
    captured = capsys.readouterr()
    return code, captured.out, captured.err, elapsed


def assert_one_line_error(code: int, err: str, elapsed: float, *names: str) -> None:
    assert code != 0
    assert err.endswith("\n"), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert err.startswith("alpaserve")
    for name in names:
        assert name in err, (name, err)
    assert elapsed < LIMIT_S


# ------------------------------------------------------------------ numeric flags
REAL_BAD = ("nan", "NaN", "inf", "-inf", "1e400", "abc", "", "-1", "0x10")
INT_BAD = ("1.5", "abc", "", "-1", "1e3", "nan", "99999999999999999999999")

# (command, prefix arguments, flag, kind, cap): kind "pos" > 0, "nonneg" >= 0, "int1" >= 1,
# "int0" >= 0. The prefix names the placement, trace or model where a command needs one;
# a command of two words ("llm plan") is split.
LLM_PLAN = ("--models", "llm-tiny", "--devices", "1")
FLAGS: list[tuple[str, tuple[str, ...], str, str, float | None]] = [
    *[("simulate", ("@placement",), f, k, c) for f, k, c in [
        ("--rate", "pos", checks.MAX_RATE), ("--cv", "pos", checks.MAX_CV),
        ("--zipf", "nonneg", checks.MAX_ZIPF), ("--duration", "pos", checks.MAX_DURATION),
        ("--slo", "pos", checks.MAX_SECONDS), ("--slo-scale", "pos", 1e6),
        ("--max-batch", "int1", checks.MAX_BATCH), ("--seed", "int0", None)]],
    *[("plan", (), f, k, c) for f, k, c in [
        ("--devices", "int1", checks.MAX_DEVICES),
        ("--devices-per-node", "int1", checks.MAX_DEVICES),
        ("--rate", "pos", checks.MAX_RATE), ("--cv", "pos", checks.MAX_CV),
        ("--zipf", "nonneg", checks.MAX_ZIPF), ("--duration", "pos", checks.MAX_DURATION),
        ("--slo-scale", "pos", 1e6), ("--slo", "pos", checks.MAX_SECONDS),
        ("--window", "pos", checks.MAX_SECONDS), ("--seed", "int0", None),
        ("--jobs", "int1", 1024)]],
    *[("demo", (), f, k, c) for f, k, c in [
        ("--num-models", "int1", checks.MAX_COUNT), ("--devices", "int1", checks.MAX_DEVICES),
        ("--rate", "pos", checks.MAX_RATE), ("--cv", "pos", checks.MAX_CV),
        ("--slo-scale", "pos", 1e6), ("--duration", "pos", checks.MAX_DURATION),
        ("--seed", "int0", None)]],
    *[("spot", (), f, k, c) for f, k, c in [
        ("--rate", "pos", checks.MAX_RATE), ("--cv", "pos", checks.MAX_CV),
        ("--grace", "nonneg", checks.MAX_SECONDS), ("--duration", "pos", checks.MAX_DURATION),
        ("--warmup", "nonneg", checks.MAX_SECONDS),
        ("--prompt-tokens", "int1", checks.MAX_TOKENS),
        ("--output-tokens", "int1", checks.MAX_TOKENS), ("--slo", "pos", checks.MAX_SECONDS),
        ("--storage-bandwidth", "pos", 1e15), ("--seed", "int0", None)]],
    *[("trace", ("@trace",), f, k, c) for f, k, c in [
        ("--models", "int1", checks.MAX_COUNT), ("--window", "pos", checks.MAX_SECONDS),
        ("--seed", "int0", None)]],
    *[("costs", (), f, k, c) for f, k, c in [
        ("--batch-size", "int1", checks.MAX_BATCH), ("--max-devices", "int1", checks.MAX_DEVICES)]],
    *[("configs", ("bert-1.3b",), f, k, c) for f, k, c in [
        ("--devices", "int1", checks.MAX_DEVICES),
        ("--devices-per-node", "int1", checks.MAX_DEVICES)]],
    *[("modelless", (), f, k, c) for f, k, c in [
        ("--duration", "pos", checks.MAX_DURATION), ("--seed", "int0", None),
        ("--lookahead", "nonneg", checks.MAX_SECONDS)]],
    *[("fidelity", ("@placement",), f, k, c) for f, k, c in [
        ("--rate", "pos", checks.MAX_RATE), ("--cv", "pos", checks.MAX_CV),
        ("--requests", "int1", checks.MAX_COUNT), ("--slo-scale", "pos", 1e6),
        ("--time-scale", "pos", 1e6), ("--workload-seed", "int0", None),
        ("--repeats", "int1", checks.MAX_COUNT), ("--cpu-devices", "int1", checks.MAX_DEVICES),
        ("--max-batch", "int1", checks.MAX_BATCH)]],
    *[("profile", ("bert-1.3b",), f, k, c) for f, k, c in [
        ("--warmup", "int0", checks.MAX_COUNT), ("--repeats", "int1", checks.MAX_COUNT),
        ("--layers", "int1", 10_000), ("--dtype-bytes", "int1", 8)]],
    *[("llm plan", LLM_PLAN, f, k, c) for f, k, c in [
        ("--devices", "int1", checks.MAX_DEVICES), ("--gpus-per-node", "int1", checks.MAX_NODE),
        ("--ttft-slo", "pos", checks.MAX_SECONDS), ("--tpot-slo", "pos", checks.MAX_SECONDS),
        ("--rate", "pos", checks.MAX_RATE), ("--cv", "pos", checks.MAX_CV),
        ("--duration", "pos", checks.MAX_DURATION), ("--alpha", "nonneg", checks.MAX_ZIPF),
        ("--rate-scale", "pos", 1e6), ("--seed", "int0", None),
        ("--max-num-seqs", "int1", checks.MAX_TOKENS),
        ("--max-batched-tokens", "int1", checks.MAX_TOKENS),
        ("--block-size", "int1", checks.MAX_BLOCK_SIZE), ("--workers", "int1", 1024)]],
    # the plan file exists (any file passes the parser's check; the flags fail first)
    *[("llm simulate", ("@placement",), f, k, c) for f, k, c in [
        ("--ttft-slo", "pos", checks.MAX_SECONDS), ("--tpot-slo", "pos", checks.MAX_SECONDS),
        ("--alpha", "nonneg", checks.MAX_ZIPF), ("--rate-scale", "pos", 1e6),
        ("--seed", "int0", None), ("--workers", "int1", 1024)]],
]


def _bad_values(kind: str, cap: float | None) -> list[str]:
    values = list(INT_BAD if kind.startswith("int") else REAL_BAD)
    if kind in ("pos", "int1"):
        values.append("0")
    if cap is not None:
        values.append(str(int(cap) + 1) if kind.startswith("int") else f"{cap * 10:g}")
    return values


NUMERIC_CASES = [pytest.param(cmd, prefix, flag, value,
                              id=f"{cmd.replace(' ', '-')}{flag}={value!r}")
                 for cmd, prefix, flag, kind, cap in FLAGS
                 for value in _bad_values(kind, cap)]


def _expand(args: tuple[str, ...], files: dict[str, Path]) -> list[str]:
    return [str(files[a[1:]]) if a.startswith("@") else a for a in args]


@pytest.mark.parametrize(("command", "prefix", "flag", "value"), NUMERIC_CASES)
def test_bad_numbers_are_named_one_line_errors(command: str, prefix: tuple[str, ...], flag: str,
                                               value: str, files: dict[str, Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err, elapsed = run_cli([*command.split(), *_expand(prefix, files),
                                       f"{flag}={value}"], capsys)
    assert code == 2
    assert_one_line_error(code, err, elapsed, f"argument {flag}", repr(value))
    assert "at most" in err or "at least" in err or "above" in err
    assert out == ""


# ------------------------------------------------------------------ paths
def _path_cases() -> list[tuple[str, list[str], str]]:
    """(id, argv with @names and {missing}/{dir}/{nodir} placeholders, text in the error)."""
    cases: list[tuple[str, list[str], str]] = []
    inputs = [("simulate", []), ("simulate", ["@placement", "--profiles"]), ("trace", []),
              ("spot", ["--trace"]), ("modelless", ["--registry"]), ("fidelity", []),
              ("plan", ["--config"]), ("simulate", ["@placement", "--trace"]),
              ("llm simulate", []), ("llm simulate", ["@placement", "--trace"]),
              ("llm plan", [*LLM_PLAN, "--trace"])]
    for cmd, args in inputs:
        flag = args[-1] if args else "input"
        name = cmd.replace(" ", "-")
        cases.append((f"{name}-{flag}-missing", [*cmd.split(), *args, "{missing}"],
                      "missing.json"))
        cases.append((f"{name}-{flag}-dir", [*cmd.split(), *args, "{dir}"], "adir"))
    outputs = [("simulate", ["@placement", "--out"], ".csv"),
               ("simulate", ["@placement", "--per-request"], ".csv"),
               ("trace", ["@trace", "--out"], ".csv"), ("trace", ["@trace", "--plot"], ".png"),
               ("demo", ["--out"], ".json"), ("plan", ["--out"], ".json"),
               ("spot", ["--out"], ".csv"), ("modelless", ["--out"], ".json"),
               ("costs", ["--out"], ".json"), ("configs", ["bert-1.3b", "--out"], ".csv"),
               ("fidelity", ["@placement", "--out"], ".json"),
               ("profile", ["bert-1.3b", "--out"], ".json"),
               ("profile", ["bert-1.3b", "--tsv"], ".tsv"),
               ("llm plan", [*LLM_PLAN, "--out"], ".json"),
               ("llm simulate", ["@placement", "--out"], ".csv"),
               ("llm simulate", ["@placement", "--plot"], ".png")]
    for cmd, args, suffix in outputs:
        flag, name, words = args[-1], cmd.replace(" ", "-"), cmd.split()
        cases.append((f"{name}{flag}-missing-dir", [*words, *args, "{nodir}/x" + suffix],
                      "does not exist"))
        cases.append((f"{name}{flag}-bad-suffix", [*words, *args, "{root}/x.unknown"],
                      "must end in"))
        cases.append((f"{name}{flag}-is-dir", [*words, *args, "{dir}/sub" + suffix], ""))
    cases.append(("configs-cache-file", ["configs", "bert-1.3b", "--cache-dir", "@trace"],
                  "is not a directory"))
    cases.append(("configs-cache-under-file",
                  ["configs", "bert-1.3b", "--cache-dir", "@trace/sub"], "not a directory"))
    return cases


@pytest.mark.parametrize(("argv", "text"), [pytest.param(a, t, id=i) for i, a, t in
                                            _path_cases()])
def test_bad_paths_fail_before_any_work(argv: list[str], text: str, files: dict[str, Path],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    (files["dir"] / "sub.csv").mkdir(exist_ok=True)
    for suffix in (".png", ".json", ".tsv"):
        (files["dir"] / f"sub{suffix}").mkdir(exist_ok=True)
    concrete = []
    for a in argv:
        a = a.replace("{missing}", str(files["root"] / "missing.json"))
        a = a.replace("{nodir}", str(files["root"] / "no-such-dir"))
        a = a.replace("{dir}", str(files["dir"])).replace("{root}", str(files["root"]))
        if a.startswith("@"):
            name, _, rest = a[1:].partition("/")
            a = str(files[name]) + (f"/{rest}" if rest else "")
        concrete.append(a)
    code, out, err, elapsed = run_cli(concrete, capsys)
    assert code == 2
    assert_one_line_error(code, err, elapsed, text)
    assert out == ""


# ------------------------------------------------------------------ file contents
@pytest.mark.parametrize(("name", "data", "argv", "expect", "text"),
                         [pytest.param(*c[1:], id=c[0])
                          for c in CONTENT_CASES + LLM_CONTENT_CASES])
def test_bad_file_contents(name: str, data: bytes, argv: list[str], expect: int, text: str,
                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err, elapsed = run_cli([a.replace("{f}", str(path)) for a in argv], capsys)
    if expect == 0:
        assert code == 0, err
        assert text in out
        assert elapsed < LIMIT_S
    else:
        assert code == expect
        assert_one_line_error(code, err, elapsed, text)


@pytest.fixture(scope="module")
def llm_plan_file(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A real LLM plan file (one tiny model, one device, a synthetic stream), as JSON."""
    path = tmp_path_factory.mktemp("llm") / "plan.json"
    assert main(["llm", "plan", "--models", "llm-tiny", "--devices", "1", "--method",
                 "dedicated", "--rate", "2", "--duration", "10", "--out", str(path)]) == 0
    return dict(json.loads(path.read_text()))


@pytest.mark.parametrize(("path", "value", "text"),
                         [pytest.param(*c[1:], id=c[0]) for c in LLM_PLAN_EDITS])
def test_edited_llm_plan_files(path: tuple[object, ...], value: object, text: str,
                               llm_plan_file: dict[str, object], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    import copy

    capsys.readouterr()
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(edited(copy.deepcopy(llm_plan_file), path, value)))
    code, out, err, elapsed = run_cli(["llm", "simulate", str(plan)], capsys)
    assert code == 2
    assert_one_line_error(code, err, elapsed, text)
    assert out == ""


def test_the_unedited_llm_plan_file_simulates(llm_plan_file: dict[str, object], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(llm_plan_file))
    code, out, err, _ = run_cli(["llm", "simulate", str(plan), "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["overall"]["requests"] > 0


@pytest.mark.parametrize(("data", "text"), [pytest.param(*c[1:], id=c[0]) for c in TSV_CASES])
def test_bad_profile_files(data: str, text: str, files: dict[str, Path], tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / ("db.json" if data.startswith("{") else "db.tsv")
    path.write_text(data)
    code, _, err, elapsed = run_cli(["simulate", str(files["placement"]), "--profiles",
                                     str(path), "--duration", "5"], capsys)
    assert code == 2
    assert_one_line_error(code, err, elapsed, text)


# ------------------------------------------------------------------ run-time limits
@pytest.mark.parametrize(("argv", "text"), [
    pytest.param(["spot", "--output-tokens", "10000000"], "at most 1048576", id="tokens-cap"),
    pytest.param(["spot", "--output-tokens", "5000"], "at most 1024", id="tokens-context"),
    pytest.param(["spot", "--prompt-tokens", "2000", "--output-tokens", "100"],
                 "2048-token context", id="prompt-context"),
    pytest.param(["simulate", "@placement", "--cv", "1e6"], "at most 100", id="cv-1e6"),
    pytest.param(["simulate", "@placement", "--max-batch", "100000"], "at most 256",
                 id="max-batch-1e5"),
    pytest.param(["simulate", "@placement", "--rate", "1e6", "--duration", "1e7"],
                 "MAX_ARRIVALS", id="expected-count"),
    pytest.param(["plan", "--duration", "0"], "above 0", id="plan-duration-0"),
    pytest.param(["plan", "--zipf", "nan"], "'nan'", id="zipf-nan"),
    pytest.param(["plan", "--models", "nope:2"], "nope", id="unknown-preset"),
    pytest.param(["plan", "--device", "z100"], "z100", id="unknown-device"),
    pytest.param(["costs", "--models", ""], "names no model preset", id="no-models"),
    pytest.param(["modelless", "--load", "steady", "--duration", "1e7"], "rate grid",
                 id="modelless-long"),
    pytest.param(["modelless", "--load", "steady", "--duration", "2e5"], "MAX_ARRIVALS",
                 id="modelless-many"),
])
def test_run_time_limits(argv: list[str], text: str, files: dict[str, Path],
                         capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err, elapsed = run_cli(_expand(tuple(argv), files), capsys)
    assert_one_line_error(code, err, elapsed, text)


def test_unexpected_exceptions_are_one_line_and_debug_shows_them(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import alpaserve.cli.costs_cmd as costs_cmd

    def boom(args: argparse.Namespace) -> int:
        raise RuntimeError("disk\nfull")

    monkeypatch.setattr(costs_cmd, "run", boom)
    code, _, err, elapsed = run_cli(["costs"], capsys)
    assert_one_line_error(code, err, elapsed, "RuntimeError: disk full", "--debug")
    with pytest.raises(RuntimeError, match="disk"):
        main(["--debug", "costs"])


# ------------------------------------------------------------------ the types themselves
@pytest.mark.parametrize(("parse", "text", "value"), [
    (checks.cv, "0.01", 0.01), (checks.cv, "100", 100.0), (checks.rate, "1e-9", 1e-9),
    (checks.batch, "256", 256), (checks.batch, " 7 ", 7), (checks.seed, "0", 0),
    (checks.tokens, "+5", 5), (checks.zipf, "1.5", 1.5),
])
def test_good_values_pass(parse: Callable[[str], float], text: str, value: float) -> None:
    assert parse(text) == value


def test_a_bom_json_config_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.json"
    config.write_bytes(b"\xef\xbb\xbf" + json.dumps({"models": "bert-1.3b"}).encode())
    code, out, err, _ = run_cli(["costs", "--config", str(config), "--json"], capsys)
    assert code == 0, err
    assert [r["model"] for r in json.loads(out)] == ["bert-1.3b"]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.binary(max_size=400), header=st.sampled_from(
    ["", "arrival_s,model\n", "TIMESTAMP,ContextTokens,GeneratedTokens\n",
     "app,func,end_timestamp,duration\n"]))
def test_trace_command_on_random_bytes(data: bytes, header: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(header.encode() + data)
    code, _, err, elapsed = run_cli(["trace", str(path)], capsys)
    if code != 0:
        assert_one_line_error(code, err, elapsed, "fuzz.csv")
