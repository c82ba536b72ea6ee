"""Measured profiles: entries, TSV export and the ``alpaserve profile`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alpaserve.errors import SpecError
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles import ProfileDB
from tests._fixtures_runtime import cpu_devices, tiny_spec


@pytest.fixture(scope="module")
def devices() -> list:
    return cpu_devices()


def test_profile_model_writes_measured_entries(devices: list) -> None:
    from alpaserve.runtime.profiler import profile_model

    spec = tiny_spec(num_layers=2)
    cfgs = [ParallelConfig.uniform(num_layers=2),
            ParallelConfig.uniform(num_layers=2, pipeline_degree=2, tensor_degree=2)]
    db = profile_model(spec, cfgs, devices, [1, 2], warmup=1, repeats=3)
    assert len(db) == 4
    for e in db:
        assert e.source == "measured"
        assert e.tflops > 0
        assert len(e.stage_latencies) == e.config.pipeline_degree
        assert all(p >= w > 0 for p, w in zip(e.stage_peak_memory_bytes,
                                              e.stage_weight_bytes, strict=True))
    one = db.get(spec.name, cfgs[0], 1)
    assert one.stage_weight_bytes == (spec.weight_bytes,)
    tsv = db.to_tsv()
    back = ProfileDB.from_tsv(tsv, {spec.name: spec})
    assert len(back) == 4
    assert back.get(spec.name, cfgs[1], 2).stage_latencies == pytest.approx(
        db.get(spec.name, cfgs[1], 2).stage_latencies)


def test_time_stages_rejects_zero_warmup(devices: list) -> None:
    from alpaserve.runtime.model import build_pipeline
    from alpaserve.runtime.profiler import time_stages
    from alpaserve.runtime.weights import random_tokens

    spec = tiny_spec(num_layers=1)
    pipe = build_pipeline(spec, ParallelConfig.uniform(num_layers=1), devices)
    with pytest.raises(SpecError, match="warmup"):
        time_stages(pipe, random_tokens(spec, 1, 0), warmup=0)


def test_profile_cli_custom_spec_and_merge(devices: list, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from alpaserve.cli import _runtime_args, profile_cmd

    def run(argv: list[str]) -> int:
        parser = argparse.ArgumentParser()
        profile_cmd.register(parser)
        return profile_cmd.run(parser.parse_args(argv))

    out, tsv = tmp_path / "p.json", tmp_path / "p.tsv"
    common = ["--layers", "2", "--hidden", "32", "--heads", "2", "--seq-len", "8",
              "--vocab", "64", "--repeats", "2", "--warmup", "1", "--out", str(out)]
    assert run(["mini", "--configs", "pp1-tp1,pp2-tp2", "--batch-sizes", "1", "--tsv",
                str(tsv), *common]) == 0
    assert run(["mini", "--configs", "stages[0:1@1x2,1:2@1x1]", *common]) == 0
    db = ProfileDB.from_json(out.read_text())
    assert len(db) == 3
    assert db.models() == {"mini"}
    assert tsv.read_text().count("\n") == 3  # header + 2 rows
    assert "wrote 1 measured entries" in capsys.readouterr().out
    spec_file = tmp_path / "m.json"
    spec_file.write_text(json.dumps(tiny_spec("from-file", num_layers=1).to_dict()))
    assert _runtime_args.resolve_model(str(spec_file), argparse.Namespace()).name == "from-file"
    with pytest.raises(SpecError, match="not a model preset"):
        run(["unknown-model", "--out", str(out)])
    with pytest.raises(SpecError, match="cannot parse parallel config"):
        run(["mini", "--configs", "pipeline2", *common])


@pytest.mark.parametrize("preset", ["bert-tiny", "gpt-tiny"])
def test_the_cpu_presets_profile_in_seconds_with_progress_on_stderr(
        devices: list, tmp_path: Path, preset: str, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse
    import time

    from alpaserve.cli import profile_cmd

    parser = argparse.ArgumentParser()
    profile_cmd.register(parser)
    out = tmp_path / "p.json"
    began = time.perf_counter()
    assert profile_cmd.run(parser.parse_args(
        [preset, "--configs", "pp1-tp1,pp2-tp2", "--batch-sizes", "1,2", "--repeats", "3",
         "--out", str(out)])) == 0
    assert time.perf_counter() - began < 60.0  # the bound for CPU work
    captured = capsys.readouterr()
    assert f"[1/2] {preset} pp1-tp1: placing weights and compiling" in captured.err
    assert f"[2/2] {preset} pp2-tp2: bs=1" in captured.err
    db = ProfileDB.from_json(out.read_text())
    assert len(db) == 4
    assert all(0 < sum(e.stage_latencies) < 1.0 for e in db)
