"""Traces as workloads (``alpaserve.cli._trace_args``): every reader, windows, rate scaling,
mappings and the training/test split."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from alpaserve.cli._trace_args import (
    TraceSpec,
    check_flag_kinds,
    load_trace,
    read_mapping_file,
    spec_from_args,
)
from alpaserve.errors import SpecError, WorkloadError
from tests._fixtures_traces import (
    write_azure_2019,
    write_azure_2021,
    write_azure_llm,
    write_generic,
)

NAMES = ("a", "b", "c")


@pytest.mark.parametrize(("writer", "fmt"), [
    (lambda d: write_azure_llm(d / "llm.csv"), "azure-llm"),
    (lambda d: write_azure_2019(d / "invocations_per_function_md.anon.d01.csv"), "azure-2019"),
    (lambda d: write_azure_2021(d / "f2021.csv"), "azure-2021"),
    (lambda d: write_generic(d / "g.csv"), "csv"),
])
def test_every_reader_spreads_requests_over_all_models(tmp_path: Path, writer, fmt: str
                                                        ) -> None:
    parts = load_trace(TraceSpec(path=str(writer(tmp_path))), NAMES)
    r = parts.report
    assert r["format"] == fmt
    assert all(r["requests_per_model"][n] > 0 for n in NAMES), r["requests_per_model"]
    assert len(parts.train) + len(parts.test) == len(parts.workload) == r["requests"]
    assert r["train_span"][1] == r["test_span"][0]
    assert parts.train.arrival.max() < r["train_span"][1] <= parts.test.arrival.min()


def test_window_and_rate_scale(tmp_path: Path) -> None:
    path = write_azure_llm(tmp_path / "llm.csv", n=400, rate=40.0)
    whole = load_trace(TraceSpec(path=str(path)), NAMES)
    cut = load_trace(TraceSpec(path=str(path), start=2.0, end=6.0, rate_scale=2.0,
                               train_fraction=0.25), NAMES)
    assert cut.report["test_span"] == [0.5, 2.0]  # 4 s of trace at 2x is 2 s
    assert cut.workload.arrival.max() < 2.0
    in_window = np.sum((whole.workload.arrival >= 2.0) & (whole.workload.arrival < 6.0))
    assert len(cut.workload) == in_window


def test_mapping_file_and_policies(tmp_path: Path) -> None:
    trace = write_generic(tmp_path / "g.csv", n=30, functions=3)
    table = tmp_path / "map.json"
    table.write_text(json.dumps({"fn0": "c", "fn1": "c", "fn2": "a"}))
    parts = load_trace(TraceSpec(path=str(trace), map="explicit", map_file=str(table)), NAMES)
    assert parts.report["requests_per_model"] == {"a": 10, "b": 0, "c": 20}
    csv_table = tmp_path / "map.csv"
    csv_table.write_text("function,model\nfn0,b\nfn1,b\nfn2,b\n")
    assert read_mapping_file(str(csv_table)) == {"fn0": "b", "fn1": "b", "fn2": "b"}
    llm = write_azure_llm(tmp_path / "llm.csv")
    buckets = load_trace(TraceSpec(path=str(llm), map="prompt-buckets"), NAMES)
    assert buckets.report["mapping_used"] == "prompt-buckets"
    skewed = load_trace(TraceSpec(path=str(llm), map="power-law", map_alpha=2.0, seed=1), NAMES)
    counts = skewed.report["requests_per_model"]
    assert counts["a"] > counts["b"] > counts["c"]


def test_function_traces_map_functions_while_reading(tmp_path: Path) -> None:
    trace = write_azure_2019(tmp_path / "invocations_per_function_md.anon.d01.csv")
    with pytest.raises(SpecError, match="--map prompt-buckets needs a trace"):
        load_trace(TraceSpec(path=str(trace), map="prompt-buckets"), NAMES)
    rr = load_trace(TraceSpec(path=str(trace), map="round-robin"), NAMES)
    assert rr.report["mapping_used"] == "round-robin"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"start": -1.0}, "--start must be >= 0"),
    ({"start": 5.0, "end": 5.0}, "--end must exceed --start"),
    ({"rate_scale": 0.0}, "--rate-scale must be positive"),
    ({"train_fraction": 1.0}, r"--train-fraction must be in \(0, 1\)"),
    ({"format": "parquet"}, "--trace-format must be one of"),
    ({"map": "round-robin", "map_file": "m.json"}, "cannot go with --map round-robin"),
])
def test_bad_specs(kwargs: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        TraceSpec(path="t.csv", **kwargs)


def test_empty_windows_and_missing_files(tmp_path: Path) -> None:
    llm = write_azure_llm(tmp_path / "llm.csv", n=50, rate=10.0)
    with pytest.raises(SpecError, match="past the trace's last request"):
        load_trace(TraceSpec(path=str(llm), start=1e6), NAMES)
    with pytest.raises(SpecError, match=r"holds 1 request\(s\); at least 2"):
        load_trace(TraceSpec(path=str(llm), start=0.0, end=1e-9), NAMES)
    with pytest.raises(SpecError, match="cannot read mapping file"):
        read_mapping_file(str(tmp_path / "none.json"))
    bad = tmp_path / "bad.csv"
    bad.write_text("fn0,a,extra\n")
    with pytest.raises(SpecError, match="line 1: expected function,model"):
        read_mapping_file(str(bad))
    table = tmp_path / "t.json"
    table.write_text(json.dumps({"fn0": "zz"}))
    gen = write_generic(tmp_path / "g.csv")
    with pytest.raises(WorkloadError, match=r"names models \['zz'\]"):
        load_trace(TraceSpec(path=str(gen), map_file=str(table)), NAMES)


def test_flags_fill_from_a_plan_and_kinds_do_not_mix() -> None:
    base = TraceSpec(path="t.csv", rate_scale=4.0, start=10.0).to_dict()
    args = argparse.Namespace(trace=None, trace_format=None, start=None, end=None,
                              rate_scale=2.0, map=None, map_file=None, map_alpha=None,
                              train_fraction=None, seed=None)
    spec = spec_from_args(args, {**base, "train_span": [0, 1], "sha256": "x"})
    assert (spec.path, spec.start, spec.rate_scale) == ("t.csv", 10.0, 2.0)
    with pytest.raises(SpecError, match="--rate-scale: flag of a trace workload"):
        check_flag_kinds(args, trace=False)
    mix = argparse.Namespace(rate=3.0, cv=None, zipf=1.0, duration=None)
    with pytest.raises(SpecError, match="--rate, --zipf: flags of a synthetic workload"):
        check_flag_kinds(mix, trace=True)


def test_times_count_from_the_first_request_and_saved_workloads_read(tmp_path: Path) -> None:
    late = tmp_path / "late.csv"
    late.write_text("arrival_s,model\n" + "".join(f"{100 + i},a\n" for i in range(20)))
    parts = load_trace(TraceSpec(path=str(late), start=5.0, end=15.0), NAMES)
    assert parts.workload.arrival.tolist() == [float(i) for i in range(10)]
    assert parts.report["mapping_used"] == "identity"
    from workloads.workload import Workload

    saved = tmp_path / "w.npz"
    Workload.from_arrays(arrival=np.arange(10.0) + 3, model=["a", "b"] * 5).save(saved)
    whole = load_trace(TraceSpec(path=str(saved)), NAMES)
    assert (whole.report["format"], len(whole.workload)) == ("saved", 10)
    assert whole.workload.arrival[0] == 0.0
