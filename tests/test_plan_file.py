"""The plan file: written by ``plan --out``, read back by ``load_plan_file``; bare placements."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.errors import SpecError
from alpaserve.model_presets import model_preset
from alpaserve.placement_spec import Group, Placement
from alpaserve.plan_file import PLAN_FORMAT, PlanFile, file_sha256, load_plan_file


def placement() -> Placement:
    models = [model_preset("bert-1.3b").renamed(f"m{i}") for i in range(2)]
    return Placement(cluster=homogeneous_cluster(2), models={m.name: m for m in models},
                     groups=(Group.uniform(name="g0", device_ids=[0], pipeline_degree=1,
                                           models=models[:1]),))


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    pf = PlanFile(placement=placement(), slo={"m0": 0.5, "m1": 0.25},
                  workload={"kind": "mix", "rate": 4.0, "seed": 3},
                  profiles={"source": "analytic"},
                  summary={"policy": "sr", "attainment": math.nan})
    path = tmp_path / "plan.json"
    pf.save(path)
    text = path.read_text()
    assert "NaN" not in text
    data = json.loads(text)
    assert (data["format"], data["version"], data["attainment"]) == (PLAN_FORMAT, 1, None)
    back = load_plan_file(path)
    assert back.placement.to_dict() == pf.placement.to_dict()
    assert back.slo == pf.slo
    assert back.workload == pf.workload
    assert back.summary["policy"] == "sr"
    assert back.path == str(path)
    assert not back.is_bare


def test_a_bare_placement_is_a_plan_without_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(placement().to_json())
    pf = load_plan_file(path)
    assert pf.is_bare
    assert pf.workload is None
    assert pf.slo is None
    assert pf.placement.hosted_models == {"m0"}


@pytest.mark.parametrize(("text", "message"), [
    ("[1, 2]", "must be a JSON object"),
    ("{", "not valid JSON"),
    ('{"groups": []}', "neither a plan file"),
    ('{"format": "other"}', "format 'other' is not 'alpaserve-plan'"),
    ('{"format": "alpaserve-plan", "version": "1"}', "version must be a positive int"),
    ('{"format": "alpaserve-plan", "version": 1}', "has no placement object"),
])
def test_bad_files_are_named_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(SpecError, match=message):
        load_plan_file(path)


def test_bad_fields_are_named(tmp_path: Path) -> None:
    data = PlanFile(placement=placement(), slo={"m0": 0.5}).to_dict()
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**data, "slo": {"m0": -1}}))
    with pytest.raises(SpecError, match=r"SLOs must be positive seconds, got \{.m0.: -1\}"):
        load_plan_file(path)
    path.write_text(json.dumps({**data, "workload": [1]}))
    with pytest.raises(SpecError, match="field 'workload' must be an object or null"):
        load_plan_file(path)


def test_sha256_reads_the_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"x" * 3_000_000)
    b.write_bytes(b"x" * 3_000_000 + b"y")
    assert file_sha256(a) != file_sha256(b)
    assert len(file_sha256(a)) == 64
