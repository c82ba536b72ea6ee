"""The command line's input checks (``alpaserve.cli._checks``) and the bad-input table.

Every case runs in-process through :func:`alpaserve.cli.main` and must end in one of two
ways: a non-zero exit with exactly one line on stderr that names the bad value and no
traceback, or a documented, correct result. None may take 30 s.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from alpaserve.cli import _checks as checks
from alpaserve.cli import main
from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.model_spec import model_preset
from alpaserve.placement_spec import Group, Placement

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
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert err.startswith("alpaserve")
    for name in names:
        assert name in err, (name, err)
    assert elapsed < LIMIT_S


# ------------------------------------------------------------------ numeric flags
REAL_BAD = ("nan", "NaN", "inf", "-inf", "1e400", "abc", "", "-1", "0x10")
INT_BAD = ("1.5", "abc", "", "-1", "1e3", "nan", "99999999999999999999999")

# (command, prefix arguments, flag, kind, cap): kind "pos" > 0, "nonneg" >= 0, "int1" >= 1,
# "int0" >= 0. The prefix names the placement, trace or model where a command needs one.
FLAGS: list[tuple[str, tuple[str, ...], str, str, float | None]] = [
    *[("simulate", ("@placement",), f, k, c) for f, k, c in [
        ("--rate", "pos", checks.MAX_RATE), ("--cv", "nonneg", checks.MAX_CV),
        ("--zipf", "nonneg", checks.MAX_ZIPF), ("--duration", "pos", checks.MAX_DURATION),
        ("--slo", "pos", checks.MAX_SECONDS), ("--slo-scale", "pos", 1e6),
        ("--max-batch", "int1", checks.MAX_BATCH), ("--seed", "int0", None)]],
    *[("plan", (), f, k, c) for f, k, c in [
        ("--devices", "int1", checks.MAX_DEVICES),
        ("--devices-per-node", "int1", checks.MAX_DEVICES),
        ("--rate", "pos", checks.MAX_RATE), ("--cv", "nonneg", checks.MAX_CV),
        ("--zipf", "nonneg", checks.MAX_ZIPF), ("--duration", "pos", checks.MAX_DURATION),
        ("--slo-scale", "pos", 1e6), ("--slo", "pos", checks.MAX_SECONDS),
        ("--window", "pos", checks.MAX_SECONDS), ("--seed", "int0", None),
        ("--jobs", "int1", 1024)]],
    *[("demo", (), f, k, c) for f, k, c in [
        ("--num-models", "int1", checks.MAX_COUNT), ("--devices", "int1", checks.MAX_DEVICES),
        ("--rate", "pos", checks.MAX_RATE), ("--cv", "nonneg", checks.MAX_CV),
        ("--slo-scale", "pos", 1e6), ("--duration", "pos", checks.MAX_DURATION),
        ("--seed", "int0", None)]],
    *[("spot", (), f, k, c) for f, k, c in [
        ("--rate", "pos", checks.MAX_RATE), ("--cv", "nonneg", checks.MAX_CV),
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
        ("--rate", "pos", checks.MAX_RATE), ("--cv", "nonneg", checks.MAX_CV),
        ("--requests", "int1", checks.MAX_COUNT), ("--slo-scale", "pos", 1e6),
        ("--time-scale", "pos", 1e6), ("--workload-seed", "int0", None),
        ("--repeats", "int1", checks.MAX_COUNT), ("--cpu-devices", "int1", checks.MAX_DEVICES)]],
    *[("profile", ("bert-1.3b",), f, k, c) for f, k, c in [
        ("--warmup", "int0", checks.MAX_COUNT), ("--repeats", "int1", checks.MAX_COUNT),
        ("--layers", "int1", 10_000), ("--dtype-bytes", "int1", 8)]],
]


def _bad_values(kind: str, cap: float | None) -> list[str]:
    values = list(INT_BAD if kind.startswith("int") else REAL_BAD)
    if kind in ("pos", "int1"):
        values.append("0")
    if cap is not None:
        values.append(str(int(cap) + 1) if kind.startswith("int") else f"{cap * 10:g}")
    return values


NUMERIC_CASES = [pytest.param(cmd, prefix, flag, value, id=f"{cmd}{flag}={value!r}")
                 for cmd, prefix, flag, kind, cap in FLAGS
                 for value in _bad_values(kind, cap)]


def _expand(args: tuple[str, ...], files: dict[str, Path]) -> list[str]:
    return [str(files[a[1:]]) if a.startswith("@") else a for a in args]


@pytest.mark.parametrize(("command", "prefix", "flag", "value"), NUMERIC_CASES)
def test_bad_numbers_are_named_one_line_errors(command: str, prefix: tuple[str, ...], flag: str,
                                               value: str, files: dict[str, Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err, elapsed = run_cli([command, *_expand(prefix, files), f"{flag}={value}"],
                                      capsys)
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
              ("plan", ["--config"]), ("simulate", ["@placement", "--trace"])]
    for cmd, args in inputs:
        flag = args[-1] if args else "input"
        cases.append((f"{cmd}-{flag}-missing", [cmd, *args, "{missing}"], "missing.json"))
        cases.append((f"{cmd}-{flag}-dir", [cmd, *args, "{dir}"], "adir"))
    outputs = [("simulate", ["@placement", "--out"], ".csv"),
               ("simulate", ["@placement", "--per-request"], ".csv"),
               ("trace", ["@trace", "--out"], ".csv"), ("trace", ["@trace", "--plot"], ".png"),
               ("demo", ["--plot"], ".png"), ("demo", ["--plan-json"], ".json"),
               ("demo", ["--out"], ".json"), ("plan", ["--out"], ".json"),
               ("spot", ["--out"], ".csv"), ("modelless", ["--out"], ".json"),
               ("costs", ["--out"], ".json"), ("configs", ["bert-1.3b", "--out"], ".csv"),
               ("fidelity", ["@placement", "--out"], ".json"),
               ("profile", ["bert-1.3b", "--out"], ".json"),
               ("profile", ["bert-1.3b", "--tsv"], ".tsv")]
    for cmd, args, suffix in outputs:
        flag = args[-1]
        cases.append((f"{cmd}{flag}-missing-dir", [cmd, *args, "{nodir}/x" + suffix],
                      "does not exist"))
        cases.append((f"{cmd}{flag}-bad-suffix", [cmd, *args, "{root}/x.unknown"],
                      "must end in"))
        cases.append((f"{cmd}{flag}-is-dir", [cmd, *args, "{dir}/sub" + suffix], ""))
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
