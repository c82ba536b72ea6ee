"""The LLM plan file: round trip, and every malformed field refused with its name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alpaserve.errors import SpecError
from alpaserve.llm.plan_file import (
    LLM_PLAN_KIND,
    LLMPlanFile,
    check_workload_spec,
    load_llm_plan_file,
    parse_llm_plan_file,
)
from alpaserve.plan_file import parse_plan_file

SCHEDULER = {"max_num_seqs": 8, "max_batched_tokens": 512, "block_size": 16,
             "chunked_prefill": False}
SYNTHETIC = {"kind": "synthetic", "rate": 2.0, "cv": 1.0, "duration": 60.0, "alpha": 1.0,
             "seed": 3, "train_fraction": 0.5, "model_names": ["a", "b"], "tokens": "small"}
TRACE = {"kind": "trace", "path": "t.csv", "sha256": "0" * 64, "format": "azure-llm",
         "window": [0.0, None], "rate_scale": 2.0, "split": "power-law", "alpha": 1.2,
         "seed": 0, "train_fraction": 0.5, "model_names": ["a", "b"]}


def good(**changes: Any) -> dict[str, Any]:
    data = LLMPlanFile(plan={"groups": [{"name": "g0"}]},
                       slo={"ttft": {"a": 1.0, "b": 2.0}, "tpot": {"a": 0.1, "b": 0.2}},
                       scheduler=SCHEDULER, workload=SYNTHETIC,
                       summary={"method": "search"}).to_dict()
    data.update(changes)
    return data


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    pf = LLMPlanFile(plan={"groups": []}, slo={"ttft": {"a": 1.0, "b": 1.0},
                                               "tpot": {"a": 0.1, "b": 0.1}},
                     scheduler=SCHEDULER, workload=TRACE,
                     summary={"method": "dedicated", "score": float("nan")})
    pf.save(tmp_path / "p.json")
    text = (tmp_path / "p.json").read_text()
    assert "NaN" not in text
    again = load_llm_plan_file(tmp_path / "p.json")
    assert again.to_dict() == {**pf.to_dict(), "method": "dedicated", "score": None}
    assert again.path == str(tmp_path / "p.json")
    assert json.loads(text)["kind"] == LLM_PLAN_KIND
    assert again.workload["window"] == [0.0, None]


@pytest.mark.parametrize(("text", "match"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"format": "alpaserve-plan", "version": 1}', "alpaserve simulate"),
    ('{"cluster": {}, "models": {}, "groups": []}', "request-level plan"),
    ('{"kind": "something-else", "version": 1}', "not an LLM plan file"),
    ("{}", "not an LLM plan file"),
    ('{"kind": "alpaserve-llm-plan", "version": 0}', "positive int"),
    ('{"kind": "alpaserve-llm-plan", "version": true}', "positive int"),
    ('{"kind": "alpaserve-llm-plan", "version": 7}', "newer than"),
    ('{"kind": "alpaserve-llm-plan", "version": 1}', "has no 'plan'"),
    ("[" * 100_000, "not valid JSON"),
])
def test_refuses_what_is_not_an_llm_plan_file(text: str, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        parse_llm_plan_file(text, path="x.json")


@pytest.mark.parametrize(("changes", "match"), [
    ({"plan": [1]}, "'plan' must be an object"),
    ({"slo": None}, "slo must be an object"),
    ({"slo": {"ttft": {"a": 1.0}}}, "slo must be an object with 'ttft' and 'tpot'"),
    ({"slo": {"ttft": {"a": -1.0, "b": 1.0}, "tpot": {"a": 0.1, "b": 0.1}}},
     "TTFT SLOs must be positive"),
    ({"slo": {"ttft": {"a": 1.0, "b": 1.0}, "tpot": {"a": "fast", "b": 0.1}}},
     "TPOT SLOs must be positive"),
    ({"slo": {"ttft": {"a": 1.0, "b": 1.0}, "tpot": {"a": 0.1, "b": True}}},
     "TPOT SLOs must be positive"),
    ({"slo": {"ttft": {"a": 1.0, "b": 1.0}, "tpot": {"a": 0.1}}}, "different models"),
    ({"slo": {"ttft": {"a": 1.0}, "tpot": {"a": 0.1}}}, r"models \['b'\] .* no SLO"),
    ({"slo": {"ttft": {}, "tpot": {}}}, "must map each model"),
    ({"scheduler": {**SCHEDULER, "block_size": "16"}}, "'block_size' must be a int"),
    ({"scheduler": {**SCHEDULER, "chunked_prefill": 1}}, "'chunked_prefill' must be a bool"),
    ({"scheduler": 5}, "scheduler must be an object"),
    ({"workload": None}, "workload must be an object"),
    ({"workload": {**SYNTHETIC, "kind": "mix"}}, "'trace' or 'synthetic'"),
    ({"workload": {k: v for k, v in SYNTHETIC.items() if k != "rate"}}, "has no 'rate'"),
    ({"workload": {**SYNTHETIC, "rate": -2.0}}, "'rate' must be a positive"),
    ({"workload": {**SYNTHETIC, "cv": "high"}}, "'cv' has the wrong type"),
    ({"workload": {**SYNTHETIC, "seed": 1.5}}, "'seed' has the wrong type"),
    ({"workload": {**SYNTHETIC, "seed": -1}}, "alpha and seed must be >= 0"),
    ({"workload": {**SYNTHETIC, "train_fraction": 1.0}}, r"train_fraction must be in \(0, 1\)"),
    ({"workload": {**SYNTHETIC, "model_names": ["a", "a"]}}, "distinct names"),
    ({"workload": {**SYNTHETIC, "model_names": []}}, "distinct names"),
    ({"workload": {**TRACE, "rate_scale": 0}}, "'rate_scale' must be a positive"),
    ({"workload": {k: v for k, v in TRACE.items() if k != "path"}}, "has no 'path'"),
])
def test_a_tampered_field_is_named(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        parse_llm_plan_file(json.dumps(good(**changes)), path="plan.json")


def test_the_summary_keeps_other_fields() -> None:
    pf = parse_llm_plan_file(json.dumps(good(extra=[1, 2])))
    assert pf.summary == {"method": "search", "extra": [1, 2]}
    assert pf.slo["ttft"] == {"a": 1.0, "b": 2.0}


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read LLM plan file"):
        load_llm_plan_file(tmp_path / "none.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SpecError, match="not UTF-8"):
        load_llm_plan_file(tmp_path / "bin.json")


def test_the_request_level_reader_points_to_llm_simulate() -> None:
    with pytest.raises(SpecError, match="alpaserve llm simulate"):
        parse_plan_file(json.dumps(good()), path="llm_plan.json")


def test_check_workload_spec_accepts_both_kinds() -> None:
    assert check_workload_spec(SYNTHETIC)["rate"] == 2.0
    assert check_workload_spec(TRACE)["split"] == "power-law"
    with pytest.raises(SpecError, match="must be an object"):
        check_workload_spec([1])
