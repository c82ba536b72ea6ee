"""``alpaserve llm plan`` / ``alpaserve llm simulate``: the chain on a generated trace and on
a synthetic stream, the workload they build, and dozens of bad inputs, each one line."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from alpaserve.cli import main
from alpaserve.cli._llm.workload import build_workload, synthetic_spec, trace_spec
from tests._fixtures_traces import write_azure_llm

MODELS = "llm-tiny:2,llm-small"
NAMES = ("llm-tiny#0", "llm-tiny#1", "llm-small")
CONTEXTS = {"llm-tiny#0": 256, "llm-tiny#1": 256, "llm-small": 1024}


def strict_loads(text: str) -> Any:
    def reject(token: str) -> None:
        raise ValueError(f"not JSON: {token}")
    return json.loads(text, parse_constant=reject)


def run(line: str) -> int:
    return main(shlex.split(line))


def write_csv(path: Path, *, names: tuple[str, ...] = NAMES, n: int = 200,
              tokens: bool = True) -> Path:
    rng = np.random.default_rng(1)
    head = "arrival_s,model" + (",prompt_tokens,output_tokens" if tokens else "")
    rows = [head]
    for i, t in enumerate(np.cumsum(rng.exponential(0.1, n))):
        row = f"{t:.6f},{names[i % len(names)]}"
        if tokens:
            row += f",{rng.integers(8, 400)},{rng.integers(1, 60)}"
        rows.append(row)
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return write_azure_llm(tmp_path / "llm.csv", n=300, rate=20.0)


# -- the workload ------------------------------------------------------------------------


def test_a_trace_is_split_by_a_power_law_and_fitted_to_contexts(trace: Path) -> None:
    spec = trace_spec(path=str(trace), fmt="auto", window=(0.0, None), rate_scale=2.0,
                      split=None, alpha=1.5, seed=0, train_fraction=0.5, model_names=NAMES)
    assert spec["format"] == "azure-llm"
    assert spec["split"] == "power-law"
    parts = build_workload(spec, CONTEXTS)
    r = parts.report
    counts = [r["requests_per_model"][n] for n in NAMES]
    assert sum(counts) == r["requests"] == 300 == len(parts.workload)
    assert counts[0] > counts[1] > counts[2]  # the power law's skew
    assert r["train_requests"] + r["test_requests"] == 300
    assert r["clipped"] == sum(r["clipped_per_model"].values()) > 0  # prompts up to 5,000
    w = parts.workload
    ctx = np.array([CONTEXTS[m] for m in w.models_of()])
    assert np.all(w.prompt_tokens + w.output_tokens <= ctx)
    assert np.all(w.output_tokens <= ctx // 2)
    # the span is the sped-up window: half of it trains
    assert r["test_span"][1] == pytest.approx(float(parts.workload.arrival[-1]), rel=1e-6)
    again = build_workload(spec, CONTEXTS)  # rebuilt from the spec: the same requests
    assert np.array_equal(again.test.arrival, parts.test.arrival)
    assert np.array_equal(again.test.model_codes, parts.test.model_codes)


def test_a_synthetic_stream_is_deterministic_and_uses_small_token_pairs() -> None:
    from workloads.llm_requests import SMALL_TOKEN_PAIRS

    spec = synthetic_spec(rate=4.0, cv=2.0, duration=100.0, alpha=1.0, seed=5,
                          train_fraction=0.25, model_names=("a", "b"))
    one = build_workload(spec, {"a": 8192, "b": 8192})
    two = build_workload(spec, {"a": 8192, "b": 8192})
    assert np.array_equal(one.workload.arrival, two.workload.arrival)
    assert 250 < len(one.workload) < 550
    pairs = set(zip(one.workload.prompt_tokens.tolist(), one.workload.output_tokens.tolist(),
                    strict=True))
    assert pairs <= set(SMALL_TOKEN_PAIRS)
    assert one.report["clipped"] == 0
    assert one.report["train_span"] == [0.0, 25.0]
    other = build_workload({**spec, "seed": 6}, {"a": 8192, "b": 8192})
    assert not np.array_equal(other.workload.arrival[:10], one.workload.arrival[:10])


def test_a_csv_keeps_its_model_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv")
    spec = trace_spec(path=str(path), fmt="auto", window=(1.0, 15.0), rate_scale=1.0,
                      split=None, alpha=1.0, seed=0, train_fraction=0.5, model_names=NAMES)
    assert spec["split"] == "column"
    parts = build_workload(spec, CONTEXTS)
    assert parts.report["split_used"] == "identity"
    per = parts.report["requests_per_model"]
    assert max(per.values()) - min(per.values()) <= 1  # the CSV's round-robin names kept
    assert float(parts.workload.arrival[-1]) < 14.0


def test_the_whole_trace_keeps_its_last_request(tmp_path: Path) -> None:
    # t0 + (last - t0) + one ulp rounded back onto the last arrival, whose half-open window
    # then dropped it; the window now ends just after the last arrival in absolute time
    path = tmp_path / "t.csv"
    path.write_text("arrival_s,model,prompt_tokens,output_tokens\n"
                    "0.1,llm-tiny,10,5\n0.2,llm-tiny,10,5\n")
    spec = trace_spec(path=str(path), fmt="auto", window=(0.0, None), rate_scale=1.0,
                      split=None, alpha=1.0, seed=0, train_fraction=0.5,
                      model_names=("llm-tiny",))
    parts = build_workload(spec, {"llm-tiny": 256})
    assert len(parts.workload) == 2
    assert len(parts.train) + len(parts.test) == 2


# -- the chain ---------------------------------------------------------------------------


def _engine_and_placer() -> None:
    pytest.importorskip("simulator.llm.engine", reason="the token-level engine (llm-engine)")
    pytest.importorskip("placement.llm", reason="the LLM placer (llm-placement)")


@pytest.mark.parametrize("method", ["search", "dedicated", "muxserve"])
def test_plan_then_simulate_replays_the_held_out_part(trace: Path, method: str,
                                                     capsys: pytest.CaptureFixture) -> None:
    _engine_and_placer()
    assert run(f"llm plan --trace {trace} --models {MODELS} --devices 4 --rate-scale 2 "
               f"--alpha 1.2 --method {method} --out plan.json") == 0
    out = capsys.readouterr().out
    assert "wrote the LLM plan file plan.json" in out
    plan = strict_loads(Path("plan.json").read_text())
    assert plan["kind"] == "alpaserve-llm-plan"
    assert plan["version"] == 1
    assert plan["workload"]["split"] == "power-law"
    assert plan["workload"]["alpha"] == 1.2
    assert plan["workload"]["clipped"] > 0
    assert plan["method"] == method
    assert run("llm simulate plan.json --json --workers 3") == 0  # threads: same numbers
    data = strict_loads(capsys.readouterr().out)
    assert [r["model"] for r in data["rows"]] == ["(all)", *NAMES]
    assert data["workload"]["part"] == "test"
    assert data["overall"]["requests"] == plan["workload"]["test_requests"]
    # the replay is the plan's own held-out test: the same numbers
    for key in ("goodput", "ttft_p99", "tpot_p99", "rejected"):
        assert data["overall"][key] == plan["test"][key], key
    assert set(data["slo"]["ttft"]) == set(NAMES)


def test_simulate_prints_a_table_and_takes_another_trace(trace: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    _engine_and_placer()
    assert run(f"llm plan --trace {trace} --models {MODELS} --devices 4 --method dedicated "
               "--out plan.json") == 0
    write_azure_llm(Path("other.csv"), n=120, rate=10.0, seed=3)
    capsys.readouterr()
    assert run("llm simulate plan.json --trace other.csv --tpot-slo 0.5 --out rows.csv "
               "--plot fig.png --workers 2") == 0
    out = capsys.readouterr().out
    assert "wrote fig.png" in out
    assert Path("fig.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "the whole window (120 requests)" in out
    assert "ttft_p99_s" in out
    assert "goodput" in out
    assert Path("rows.csv").read_text().startswith("model,requests,")


def test_synthetic_mode_runs_on_a_fresh_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture) -> None:
    _engine_and_placer()
    monkeypatch.chdir(tmp_path)
    assert run("llm plan --models llm-tiny:2 --devices 2 --rate 4 --cv 2 --duration 60 "
               "--out syn.json --json --workers 2") == 0
    plan = strict_loads(capsys.readouterr().out)
    assert plan["workload"]["kind"] == "synthetic"
    assert plan["workload"]["cv"] == 2.0
    assert run("llm simulate syn.json --json") == 0
    data = strict_loads(capsys.readouterr().out)
    assert data["overall"]["requests"] == plan["workload"]["test_requests"]
    assert data["overall"]["goodput"] == plan["test"]["goodput"]
    pytest.importorskip("simulator.llm.reference", reason="the SimPy reference (llm-reference)")
    assert run("llm simulate syn.json --json --engine reference") == 0
    ref = strict_loads(capsys.readouterr().out)
    assert ref["rows"] == data["rows"]  # the engines agree on every metric


# -- bad inputs --------------------------------------------------------------------------

PLAN_ERRORS = [
    # flags, checked while parsing
    ("llm plan --models llm-tiny --devices 0", "--devices: must be an integer at least 1"),
    ("llm plan --models llm-tiny --devices 99999", "at most 4096"),
    ("llm plan --models llm-tiny --devices two", "must be an integer"),
    ("llm plan --devices 2", "--models"),
    ("llm plan --models llm-tiny", "--devices"),
    ("llm plan --models llm-tiny --devices 2 --ttft-slo 0", "--ttft-slo: must be a finite"),
    ("llm plan --models llm-tiny --devices 2 --ttft-slo -1", "--ttft-slo"),
    ("llm plan --models llm-tiny --devices 2 --tpot-slo nan", "--tpot-slo: must be a finite"),
    ("llm plan --models llm-tiny --devices 2 --tpot-slo inf", "--tpot-slo"),
    ("llm plan --models llm-tiny --devices 2 --trace missing.csv", "does not exist"),
    ("llm plan --models llm-tiny --devices 2 --trace .", "is a directory"),
    ("llm plan --models llm-tiny --devices 2 --method greedy", "invalid choice: 'greedy'"),
    ("llm plan --models llm-tiny --devices 2 --split zipf", "invalid choice: 'zipf'"),
    ("llm plan --models llm-tiny --devices 2 --trace-format azure-2019", "invalid choice"),
    ("llm plan --models llm-tiny --devices 2 --gpus-per-node 0", "--gpus-per-node"),
    ("llm plan --models llm-tiny --devices 2 --gpus-per-node 65", "at most 64"),
    ("llm plan --models llm-tiny --devices 2 --train-fraction 0", "strictly between 0 and 1"),
    ("llm plan --models llm-tiny --devices 2 --train-fraction 1.5", "strictly between"),
    ("llm plan --models llm-tiny --devices 2 --alpha -1", "--alpha"),
    ("llm plan --models llm-tiny --devices 2 --alpha 1000", "at most 100"),
    ("llm plan --models llm-tiny --devices 2 --rate 0", "--rate: must be a finite number above"),
    ("llm plan --models llm-tiny --devices 2 --rate 1e7", "at most 1e+06"),
    ("llm plan --models llm-tiny --devices 2 --cv 0", "--cv"),
    ("llm plan --models llm-tiny --devices 2 --cv 1000", "at most 100"),
    ("llm plan --models llm-tiny --devices 2 --duration 0", "--duration"),
    ("llm plan --models llm-tiny --devices 2 --duration 1e9", "at most 1e+07"),
    ("llm plan --models llm-tiny --devices 2 --seed -3", "--seed"),
    ("llm plan --models llm-tiny --devices 2 --window 5:1", "A:B seconds"),
    ("llm plan --models llm-tiny --devices 2 --window abc", "A:B seconds"),
    ("llm plan --models llm-tiny --devices 2 --window=-5:10", "A:B seconds"),
    ("llm plan --models llm-tiny --devices 2 --rate-scale 0", "--rate-scale"),
    ("llm plan --models llm-tiny --devices 2 --block-size 0", "--block-size"),
    ("llm plan --models llm-tiny --devices 2 --block-size 5000", "at most 4096"),
    ("llm plan --models llm-tiny --devices 2 --max-num-seqs 0", "--max-num-seqs"),
    ("llm plan --models llm-tiny --devices 2 --max-batched-tokens 1e3", "must be an integer"),
    ("llm plan --models llm-tiny --devices 2 --out plan.txt", "must end in .json"),
    ("llm plan --models llm-tiny --devices 2 --out nodir/plan.json", "does not exist"),
    # checked before any work: names, presets, the kind of workload, the scheduler
    ("llm plan --models nope --devices 2", "unknown LLM preset 'nope'; presets: llama-2-7b"),
    ("llm plan --models llm-tiny:0 --devices 2", "count must be an integer from 1"),
    ("llm plan --models llm-tiny:x --devices 2", "count must be an integer from 1"),
    ("llm plan --models , --devices 2", "names no model"),
    ("llm plan --models llm-tiny,llm-tiny --devices 2", "twice"),
    ("llm plan --models llm-tiny --devices 2 --device tpu-v9", "--device"),
    ("llm plan --models llm-tiny --devices 2 --max-num-seqs 512 --max-batched-tokens 256",
     "max-num-seqs"),
    ("llm plan --models llm-tiny --devices 2 --trace llm.csv --rate 5",
     "--rate: flag of a synthetic workload"),
    ("llm plan --models llm-tiny --devices 2 --trace llm.csv --duration 5 --cv 2",
     "--cv, --duration: flags of a synthetic workload"),
    ("llm plan --models llm-tiny --devices 2 --window 0:10", "--window: flag of a trace"),
    ("llm plan --models llm-tiny --devices 2 --rate-scale 2", "--rate-scale: flag of a trace"),
    ("llm plan --models llm-tiny --devices 2 --split column", "--split column needs --trace"),
    ("llm plan --models llm-tiny --devices 2 --trace llm.csv --split column",
     "an Azure LLM trace is one stream"),
    # the trace itself
    ("llm plan --models llm-tiny --devices 2 --trace llm.csv --window 100000:", "past the"),
    ("llm plan --models llm-tiny --devices 2 --trace bad.csv", "bad.csv"),
    ("llm plan --models llm-tiny --devices 2 --trace one.csv", "at least 2 are needed"),
    ("llm plan --models llm-tiny --devices 2 --trace notokens.csv", "has no token counts"),
    ("llm plan --models llm-tiny --devices 2 --trace names.csv",
     "names ['x0', 'x1', 'x2'], which are not among --models"),
    ("llm plan --models llm-tiny --devices 2 --trace func.csv", "has no token counts"),
    ("llm plan --models llm-tiny --devices 2 --trace binary.csv", "binary"),
]

SIMULATE_ERRORS = [
    ("llm simulate missing.json", "does not exist"),
    ("llm simulate notjson.json", "not valid JSON"),
    ("llm simulate list.json", "must be a JSON object"),
    ("llm simulate request_plan.json", "request-level plan file .* `alpaserve simulate`"),
    ("llm simulate other_kind.json", "not an LLM plan file"),
    ("llm simulate newer.json", "version 2 is newer"),
    ("llm simulate bad_slo.json", "TTFT SLOs must be positive"),
    ("llm simulate bad_workload.json", "synthetic workload spec has no 'rate'"),
    ("llm simulate bad_scheduler.json", "scheduler 'block_size' must be a int"),
    ("llm simulate good.json --ttft-slo 0", "--ttft-slo"),
    ("llm simulate good.json --rate-scale 2", "--rate-scale: without --trace"),
    ("llm simulate good.json --split column", "--split: without --trace"),
    ("llm simulate good.json --part middle", "invalid choice"),
    ("llm simulate good.json --engine fast", "invalid choice"),
    ("llm simulate good.json --out rows.txt", "must end in"),
    ("llm simulate good.json --plot fig.bmp", "--plot: 'fig.bmp' must end in .png"),
    ("llm simulate good.json --plot nodir/fig.png", "does not exist"),
    ("llm simulate good.json --workers 0", "--workers: must be an integer at least 1"),
    ("llm simulate good.json --workers 2000", "at most 1024"),
    ("llm plan --models llm-tiny --devices 2 --workers x", "--workers: must be an integer"),
    ("llm simulate", "PLAN"),
    ("simulate good.json", "an LLM plan file .* `alpaserve llm simulate`"),
    ("llm", "COMMAND"),
    ("llm fly", "invalid choice: 'fly'"),
]


def write_bad_inputs(cwd: Path) -> None:
    write_azure_llm(cwd / "llm.csv", n=50, rate=10.0)
    (cwd / "bad.csv").write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                 "2023-11-16 18:15:46.68,100,20\nyesterday,100,20\n")
    (cwd / "one.csv").write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                 "2023-11-16 18:15:46.68,100,20\n")
    write_csv(cwd / "notokens.csv", tokens=False)
    write_csv(cwd / "names.csv", names=("x0", "x1", "x2"))
    (cwd / "func.csv").write_text("app,func,end_timestamp,duration\na,f,1.0,0.5\na,f,2.0,0.5\n")
    (cwd / "binary.csv").write_bytes(b"\x00\x01\x02\xff\xfe" * 20)
    (cwd / "notjson.json").write_text("{plan")
    (cwd / "list.json").write_text("[]")
    (cwd / "request_plan.json").write_text('{"format": "alpaserve-plan", "version": 1}')
    (cwd / "other_kind.json").write_text('{"kind": "sweep", "version": 1}')
    good = {"kind": "alpaserve-llm-plan", "version": 1, "plan": {},
            "slo": {"ttft": {"llm-tiny": 1.0}, "tpot": {"llm-tiny": 0.1}},
            "scheduler": {"max_num_seqs": 8, "max_batched_tokens": 512, "block_size": 16,
                          "chunked_prefill": False},
            "workload": {"kind": "synthetic", "rate": 2.0, "cv": 1.0, "duration": 60.0,
                         "alpha": 1.0, "seed": 0, "train_fraction": 0.5,
                         "model_names": ["llm-tiny"]}}
    (cwd / "good.json").write_text(json.dumps(good))
    (cwd / "newer.json").write_text(json.dumps({**good, "version": 2}))
    (cwd / "bad_slo.json").write_text(json.dumps(
        {**good, "slo": {"ttft": {"llm-tiny": 0}, "tpot": {"llm-tiny": 0.1}}}))
    (cwd / "bad_workload.json").write_text(json.dumps(
        {**good, "workload": {k: v for k, v in good["workload"].items() if k != "rate"}}))
    (cwd / "bad_scheduler.json").write_text(json.dumps(
        {**good, "scheduler": {**good["scheduler"], "block_size": "16"}}))


@pytest.mark.parametrize(("line", "match"), PLAN_ERRORS + SIMULATE_ERRORS)
def test_bad_inputs_are_one_line(line: str, match: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture) -> None:
    import re

    monkeypatch.chdir(tmp_path)
    write_bad_inputs(tmp_path)
    assert run(line) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    err = captured.err.strip().splitlines()[-1]  # warnings may come first, on lines of their own
    assert err.startswith("alpaserve"), captured.err
    assert re.search(match if ".*" in match else re.escape(match), err), err
