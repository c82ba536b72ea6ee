"""The ``alpaserve spot`` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alpaserve.cli import main
from workloads.availability_io import write_availability_csv
from workloads.synthetic_availability import synthetic_availability


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    trace = synthetic_availability(duration=1200.0, num_spot=2, mean_lifetime=400.0,
                                   mean_replacement=30.0, seed=np.random.default_rng(4))
    path = tmp_path / "fleet.csv"
    write_availability_csv(trace, path)
    return path


def test_json_output(trace_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["spot", "--trace", str(trace_file), "--model", "gpt-1.3b", "--rate", "0.5",
               "--duration", "600", "--policy", "spotserve", "--json", "--slo", "5",
               "--prompt-tokens", "128", "--output-tokens", "16"])
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["policy"] for r in rows] == ["spotserve"]
    assert rows[0]["finished"] + rows[0]["in_flight"] + rows[0]["dropped"] == \
        rows[0]["num_requests"]


def test_table_output(trace_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["spot", "--trace", str(trace_file), "--model", "gpt-1.3b", "--rate", "0.3",
               "--duration", "300", "--prompt-tokens", "64", "--output-tokens", "8"])
    out = capsys.readouterr().out
    assert rc == 0
    for name in ("spotserve", "reparallelize", "reroute", "on-demand"):
        assert name in out


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("0,add,a\n5,explode,a\n")
    assert main(["spot", "--trace", str(bad), "--rate", "1"]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err
    assert "explode" in err
    assert main(["spot", "--trace", str(tmp_path / "none.csv"), "--rate", "1"]) == 2
    assert "argument --trace: file" in capsys.readouterr().err


def _profile_json(layers: int) -> dict[str, object]:
    """A measured-profile file in SpotServe's format (milliseconds), for a small model."""
    rows = {f"tp-{t}": {f"bsz-{b}": {"init": 2.0 * b / t + 0.2, "incr": 0.05 + 0.01 * b}
                        for b in (1, 2, 4, 8)} for t in (1, 2, 4, 8)}
    return {"name": "tiny", "layer_num": layers, "padded_layer_num": layers,
            "final_fix_factor": 1.1, "pp_init_comm": 1.0, "pp_incr_comm": 0.05,
            "embed": [0.2, 0.3, 0.4, 0.6], **rows}


def test_segment_profile_and_request_streams(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    seg = tmp_path / "trace_0304_real.txt"
    seg.write_text('[0, "add", {"nodes": ["node-0", "node-1"]}]\n'
                   '[100000, "add", {"nodes": ["node-2"]}]\n'
                   '[200000, "other", {"nodes": [], "required_tpt": 0.6}]\n'
                   '[300000, "remove", {"nodes": ["node-0"]}]\n'
                   '[420000, "DONE", {"nodes": []}]\n')
    prof = tmp_path / "megatron_tiny_profile.json"
    prof.write_text(json.dumps(_profile_json(24)))
    query = tmp_path / "query.txt"
    query.write_text("".join(f"{i},{2.0 * i + 1},128,{i}\n" for i in range(300)))
    rc = main(["spot", "--trace", str(seg), "--model", "gpt-1.3b", "--profile", str(prof),
               "--requests", str(query), "--output-tokens", "16", "--json"])
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["policy"] for r in rows] == ["spotserve", "reparallelize", "reroute",
                                           "on-demand"]
    for r in rows:
        assert r["num_requests"] == 210            # arrivals before DONE at 420 s
        assert r["finished"] + r["unfinished"] == r["num_requests"]
        assert {"latency_p99", "cost", "finished", "num_requests"} <= set(r)
    # Every fleet is billed over the same window, up to DONE.
    spot, od = rows[0], rows[3]
    assert spot["cost"] == pytest.approx((2 * 300 + 120 + 320) / 3600 * 1.9046)
    assert od["cost_spot"] == 0
    assert od["cost"] > spot["cost"]
    rates = tmp_path / "arrival-rates.csv"
    rates.write_text("0.3,0.6,0.2,0.4,0.5,0.3,0.2\n")
    assert main(["spot", "--trace", str(seg), "--model", "gpt-1.3b", "--rate-schedule",
                 str(rates), "--prompt-tokens", "64", "--output-tokens", "8",
                 "--policy", "spotserve"]) == 0
    assert "rate schedule" in capsys.readouterr().out
    assert main(["spot", "--trace", str(seg), "--format", "csv", "--model", "gpt-1.3b"]) == 2
    assert "expected 3 fields" in capsys.readouterr().err
