"""The command line's chains: ``plan`` (from a mix or a trace, ``--out``) -> ``simulate``
(replaying the planned part, or flags overriding it) -> ``fidelity`` on virtual CPU devices,
and what each step warns about when it cannot replay the plan as made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alpaserve.cli import main
from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.model_presets import model_preset
from alpaserve.placement_spec import Group, Placement
from tests._fixtures_cli import strict_loads
from tests._fixtures_traces import write_azure_llm, write_generic, write_tiny_model


def test_plan_trace_simulate_fidelity_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    write_azure_llm(tmp_path / "llm.csv", n=400, rate=40.0)
    write_tiny_model(tmp_path / "tiny.json")
    assert main(["plan", "--models", "tiny.json:2", "--device", "cpu", "--devices", "2",
                 "--trace", "llm.csv", "--policy", "sr", "--max-batch", "2", "--out",
                 "plan.json", "--json"]) == 0
    planned = strict_loads(capsys.readouterr().out)
    assert isinstance(planned, dict)
    assert planned["format"] == "alpaserve-plan"
    assert planned["max_batch"] == 2  # tested with batching; simulate and fidelity use it
    work = planned["workload"]
    assert (work["kind"], work["mapping_used"]) == ("trace", "round-robin")
    assert all(n > 0 for n in work["requests_per_model"].values())  # not all to the first
    assert work["train_span"][1] == work["test_span"][0]
    # simulate replays the held-out part exactly: the plan's own test attainment
    assert main(["simulate", "plan.json", "--json"]) == 0
    sim = strict_loads(capsys.readouterr().out)
    assert isinstance(sim, dict)
    assert sim["workload"]["part"] == "test"
    assert sim["rows"][0]["requests"] == work["test_requests"] == planned["num_requests"]
    assert sim["rows"][0]["attainment"] == pytest.approx(planned["attainment"])
    assert sim["max_batch"] == 2  # the plan's, unless a flag overrides it
    assert main(["simulate", "plan.json", "--max-batch", "1", "--json"]) == 0
    unbatched = strict_loads(capsys.readouterr().out)
    assert isinstance(unbatched, dict)
    assert unbatched["max_batch"] == 1
    assert main(["simulate", "plan.json"]) == 0
    assert "tested on [" in capsys.readouterr().out
    pytest.importorskip("jax", reason="fidelity needs the 'runtime' extra")
    from tests._fixtures_runtime import cpu_devices

    cpu_devices()
    planned["max_batch"] = "two"  # a plan file carrying a batch size: checked, then used
    (tmp_path / "plan.json").write_text(json.dumps(planned))
    assert main(["fidelity", "plan.json", "--cpu-devices", "8"]) == 2
    assert "max_batch must be an integer in 1...256, got 'two'" in capsys.readouterr().err
    planned["max_batch"] = 2  # as plan wrote it
    (tmp_path / "plan.json").write_text(json.dumps(planned))
    assert main(["fidelity", "plan.json", "--cpu-devices", "8", "--requests", "30",
                 "--repeats", "2", "--contention", "on", "--json"]) == 0
    report = strict_loads(capsys.readouterr().out)
    assert isinstance(report, dict)
    assert report["extra"]["max_batch"] == 2
    assert report["num_requests"] == 30
    assert "held-out requests of the plan's trace" in report["workload"]
    # the summary keys; the replay check reproduces the run whatever the host did
    assert {"predicted_attainment", "measured_attainment", "host_steady"} <= set(report)
    assert report["replay_agreement"] >= 0.99
    # the contention-aware prediction, with the plain one and the calibrated curve beside it
    assert report["prediction"] == "contention-aware"
    assert 0.0 <= report["predicted_attainment_uncontended"] <= 1.0
    assert report["contention"]["curve"]["busy"][0] == 1
    assert report["contention"]["rounds"] >= 1
    # two groups: each its own curve, and what one pooled curve would have predicted beside
    assert len(report["contention"]["group_curves"]) == 2
    assert 0.0 <= report["contention"]["predicted_attainment_one_curve"] <= 1.0


def test_simulate_replays_the_planned_mix_and_flags_override(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "--models", "bert-1.3b:2", "--devices", "2", "--rate", "6", "--cv",
                 "3", "--duration", "20", "--seed", "7", "--policy", "sr",
                 "--out", "plan.json"]) == 0
    capsys.readouterr()
    planned = json.loads((tmp_path / "plan.json").read_text())
    assert planned["workload"] == {"kind": "mix", "model_names": ["bert-1.3b#0", "bert-1.3b#1"],
                                   "rate": 6.0, "cv": 3.0, "zipf": 0.5, "duration": 20.0,
                                   "seed": 7, "start_mode": "stationary"}
    assert main(["simulate", "plan.json", "--json"]) == 0
    replay = strict_loads(capsys.readouterr().out)
    assert isinstance(replay, dict)
    assert {k: replay["workload"][k] for k in ("rate", "cv", "zipf", "duration", "seed")} == \
        {"rate": 6.0, "cv": 3.0, "zipf": 0.5, "duration": 20.0, "seed": 8}
    slo = {r["model"]: r["slo_ms"] / 1e3 for r in replay["rows"][1:]}
    assert slo == pytest.approx(planned["slo"])
    assert main(["simulate", "plan.json", "--cv", "1", "--seed", "2", "--json"]) == 0
    changed = strict_loads(capsys.readouterr().out)
    assert isinstance(changed, dict)
    assert (changed["workload"]["cv"], changed["workload"]["seed"]) == (1.0, 2)
    assert "--cv changed" in changed["workload"]["description"]


@pytest.mark.parametrize("argv", [
    ["plan", "--trace", "t.csv", "--rate", "5"],
    ["plan", "--trace", "t.csv", "--cv", "2"],
    ["simulate", "p.json", "--trace", "t.csv", "--rate", "5"],
    ["plan", "--rate-scale", "2"],
])
def test_mix_and_trace_flags_do_not_mix(argv: list[str], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    write_generic(tmp_path / "t.csv")
    (tmp_path / "p.json").write_text(placement_missing_a_replica().to_json())
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "flag" in err


def placement_missing_a_replica() -> Placement:
    models = [model_preset("bert-1.3b").renamed(name) for name in ("fn0", "fn1", "fn2")]
    return Placement(cluster=homogeneous_cluster(2), models={m.name: m for m in models},
                     groups=(Group.uniform(name="g0", device_ids=[0], pipeline_degree=1,
                                           models=models[:2]),))


def test_a_model_without_replica_is_warned_and_listed(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "p.json"
    path.write_text(placement_missing_a_replica().to_json())
    trace = write_generic(tmp_path / "t.csv", n=30, functions=2)  # fn2 gets no request
    assert main(["simulate", str(path), "--trace", str(trace), "--json"]) == 0
    captured = capsys.readouterr()
    data = strict_loads(captured.out)
    assert isinstance(data, dict)
    assert data["models_without_replica"] == ["fn2"]
    assert "warning: 1 model(s) have no replica" in captured.err
    fn2 = next(r for r in data["rows"] if r["model"] == "fn2")
    assert fn2["attainment"] is None  # NaN (no requests) is null, not NaN
    assert data["workload"]["mapping_used"] == "identity"


def test_simulate_warns_about_what_it_cannot_replay_as_planned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    trace = write_generic(tmp_path / "t.csv", n=120, functions=2)
    assert main(["plan", "--models", "bert-1.3b:2", "--devices", "2", "--trace", "t.csv",
                 "--policy", "clockwork++", "--window", "5", "--out", "plan.json"]) == 0
    assert "the later part [11.9, 23.8] s of the trace" in capsys.readouterr().out
    trace.write_text(trace.read_text() + "30.0,fn0\n")
    assert main(["simulate", "plan.json"]) == 0
    err = capsys.readouterr().err
    assert "holds a time-varying plan" in err
    assert "t.csv changed since the plan was made" in err


def test_simulate_chooses_the_part_of_a_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    write_azure_llm(tmp_path / "a.csv", n=300, rate=30.0, seed=1)
    write_azure_llm(tmp_path / "b.csv", n=200, rate=30.0, seed=2)
    assert main(["plan", "--models", "bert-1.3b:3", "--devices", "2", "--trace", "a.csv",
                 "--map", "power-law", "--seed", "3", "--policy", "sr", "--out", "p.json",
                 "--json"]) == 0
    planned = strict_loads(capsys.readouterr().out)
    assert isinstance(planned, dict)

    def replay(*flags: str) -> dict:
        assert main(["simulate", "p.json", *flags, "--json"]) == 0
        data = strict_loads(capsys.readouterr().out)
        assert isinstance(data, dict)
        return data

    train = replay("--part", "train")
    assert train["rows"][0]["requests"] == planned["workload"]["train_requests"]
    assert train["workload"]["map"] == "power-law"
    assert train["workload"]["seed"] == 3
    other = replay("--trace", "b.csv")
    assert (other["workload"]["part"], other["rows"][0]["requests"]) == ("all", 200)
    assert "(not the plan's trace)" in other["workload"]["description"]
    faster = replay("--rate-scale", "2", "--part", "all")
    assert faster["rows"][0]["requests"] == 300
    assert faster["workload"]["test_span"][1] == pytest.approx(
        planned["workload"]["test_span"][1] / 2)
    assert main(["simulate", "p.json", "--part", "test", "--trace-format", "csv"]) == 2
    err = capsys.readouterr().err  # an Azure LLM file read as a generic CSV: one line
    assert err.count("\n") == 1
    assert "a.csv" in err


def test_plan_warns_about_models_without_a_replica(capsys: pytest.CaptureFixture) -> None:
    # six 5 GB models on one 13 GB device: only two fit
    assert main(["plan", "--models", "bert-2.6b:6", "--devices", "1", "--duration", "10",
                 "--rate", "4", "--policy", "sr", "--json"]) == 0
    captured = capsys.readouterr()
    data = strict_loads(captured.out)
    assert isinstance(data, dict)
    assert len(data["models_without_replica"]) == 4
    assert "warning: 4 model(s) got no replica" in captured.err
    for name in data["models_without_replica"]:
        assert data["attainment_per_model"][name] == 0.0


def test_simulate_uses_the_profile_file_a_plan_names(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    from alpaserve.cost.model import profile_entry
    from alpaserve.plan_file import PlanFile
    from alpaserve.profiles import ProfileDB

    placement = placement_missing_a_replica()
    db = ProfileDB()
    for group in placement.groups:
        for name, config in group.models.items():
            e = profile_entry(model=placement.models[name], config=config,
                              cluster=placement.cluster)
            db.add(type(e)(**{**e.__dict__,  # 100x slower than analytic: misses a 1 s SLO
                              "stage_latencies": tuple(100 * x for x in e.stage_latencies)}))
    (tmp_path / "db.json").write_text(db.to_json())
    path = tmp_path / "plan.json"
    plan = PlanFile(placement=placement, slo=dict.fromkeys(placement.models, 1.0),
                    workload={"kind": "mix", "rate": 1.0, "cv": 1.0, "zipf": 0.0,
                              "duration": 30.0, "seed": 0},
                    profiles={"source": "file", "path": str(tmp_path / "db.json")})
    plan.save(path)
    assert main(["simulate", str(path), "--json"]) == 0
    data = strict_loads(capsys.readouterr().out)
    assert isinstance(data, dict)
    assert data["rows"][0]["attainment"] == 0.0
    (tmp_path / "db.json").unlink()
    assert main(["simulate", str(path)]) == 2
    assert "db.json', which is gone; give --profiles" in capsys.readouterr().err
