"""``alpaserve simulate``: analytic or given profiles, synthetic or trace workloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alpaserve.cli import main
from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.cost.model import profile_entry
from alpaserve.model_presets import model_preset
from alpaserve.placement_spec import Group, Placement
from alpaserve.profiles import ProfileDB


@pytest.fixture
def placement_file(tmp_path: Path) -> Path:
    models = [model_preset("bert-1.3b").renamed(f"m{i}") for i in range(3)]
    placement = Placement(
        cluster=homogeneous_cluster(4), models={m.name: m for m in models},
        groups=(Group.uniform(name="g0", device_ids=[0, 1], pipeline_degree=2, models=models),
                Group.uniform(name="g1", device_ids=[2], pipeline_degree=1,
                              models=models[:1])))
    path = tmp_path / "plan.json"
    path.write_text(placement.to_json())
    return path


def run_json(argv: list[str], capsys: pytest.CaptureFixture) -> list[dict]:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)["rows"]


def test_light_load_meets_every_slo(placement_file: Path, capsys: pytest.CaptureFixture) -> None:
    rows = run_json(["simulate", str(placement_file), "--rate", "1", "--cv", "1",
                     "--duration", "60"], capsys)
    assert rows[0]["model"] == "(all)"
    assert rows[0]["attainment"] > 0.95
    assert {r["model"] for r in rows[1:]} == {"m0", "m1", "m2"}


def test_overload_drops_requests(placement_file: Path, capsys: pytest.CaptureFixture) -> None:
    rows = run_json(["simulate", str(placement_file), "--rate", "60", "--cv", "4",
                     "--duration", "30", "--slo-scale", "2"], capsys)
    assert rows[0]["dropped"] > 0
    assert rows[0]["attainment"] < 0.8


def test_given_profiles_are_used(placement_file: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture) -> None:
    placement = Placement.from_json(placement_file.read_text())
    db = ProfileDB()
    for group in placement.groups:
        for name, config in group.models.items():
            slow = profile_entry(model=placement.models[name], config=config,
                                 cluster=placement.cluster)
            # ten times slower than analytic: the SLO (5x analytic) can no longer be met
            db.add(type(slow)(**{**slow.__dict__,
                                 "stage_latencies": tuple(10 * x for x in
                                                          slow.stage_latencies)}))
    path = tmp_path / "db.json"
    path.write_text(db.to_json())
    rows = run_json(["simulate", str(placement_file), "--profiles", str(path), "--rate", "1",
                     "--duration", "30"], capsys)
    assert rows[0]["attainment"] == 0.0


def test_trace_models_are_mapped_onto_the_placement(placement_file: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,model\n" + "".join(f"{i * 0.5},fn{i % 5}\n" for i in range(40)))
    out = tmp_path / "req.csv"
    rows = run_json(["simulate", str(placement_file), "--trace", str(trace),
                     "--per-request", str(out)], capsys)
    assert rows[0]["requests"] == 40
    assert out.read_text().count("\n") == 41


def test_errors_are_one_line(placement_file: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture) -> None:
    assert main(["simulate", str(tmp_path / "missing.json")]) == 2
    assert "argument PLAN: file" in capsys.readouterr().err
    assert main(["simulate", str(placement_file), "--rate", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--rate: must be a finite number above 0" in err
    assert "got '-1'" in err
    assert err.count("\n") == 1


def test_alpaserve_mode_trims_requests(placement_file: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    base = ["simulate", str(placement_file), "--rate", "20", "--cv", "4", "--duration", "30",
            "--alpaserve-mode"]
    whole = run_json(base, capsys)[0]["requests"]
    trimmed = run_json([*base, "--warmup", "3", "--cooldown", "3"], capsys)[0]["requests"]
    # int(3 / span * n) requests at each end: about a fifth of them
    assert 0.7 * whole < trimmed < 0.9 * whole
    assert main([*base, "--warmup", "-1"]) == 2
    assert "--warmup" in capsys.readouterr().err


def test_a_plan_packed_by_profile_weights_loads_with_its_profiles(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Five bert-1.3b fit one 13e9-byte device only by the measured (0.8×) weights; the plan
    file names its profile file, so `simulate plan.json` checks memory with it."""
    from alpaserve import Group, Placement, homogeneous_cluster, model_preset
    from alpaserve.errors import SpecError
    from alpaserve.plan_file import PlanFile
    from tests._fixtures_profiles import measured_profiles

    models = [model_preset("bert-1.3b").renamed(f"b{i}") for i in range(5)]
    db = measured_profiles(models, weight_scale=0.8)
    group = Group.uniform(name="g0", device_ids=[0], pipeline_degree=1, models=models)
    cluster = homogeneous_cluster(1)
    spec = {m.name: m for m in models}
    with pytest.raises(SpecError):  # the analytic weights do not fit
        Placement(cluster=cluster, models=spec, groups=(group,))
    placement = Placement(cluster=cluster, models=spec, groups=(group,), profiles=db)
    (tmp_path / "prof.json").write_text(db.to_json())
    PlanFile(placement=placement, slo={m.name: 2.0 for m in models},
             profiles={"source": "file", "path": str(tmp_path / "prof.json")}
             ).save(tmp_path / "plan.json")
    rows = run_json(["simulate", str(tmp_path / "plan.json"), "--rate", "4", "--duration", "20"],
                    capsys)
    assert rows[0]["model"] == "(all)"
    assert rows[0]["served"] > 0
