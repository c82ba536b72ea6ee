"""Placements: groups, validation (devices, models, memory) and JSON round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpaserve.cluster_spec import Mesh, homogeneous_cluster
from alpaserve.errors import SpecError
from alpaserve.model_presets import model_preset
from alpaserve.parallel_config import ParallelConfig
from alpaserve.placement_spec import Group, Placement

BERT = model_preset("bert-1.3b")
BIG = model_preset("bert-6.7b")
MODELS = {BERT.name: BERT, BIG.name: BIG}


def test_valid_placement_and_queries() -> None:
    groups = (Group.uniform(name="a", device_ids=range(4), pipeline_degree=2,
                            models=[BERT, BIG]),
              Group.uniform(name="b", device_ids=[4], pipeline_degree=1, models=[BERT]))
    p = Placement(cluster=homogeneous_cluster(8), models=MODELS, groups=groups)
    assert p.num_devices_used == 5
    assert [g.name for g in p.groups_hosting(BERT.name)] == ["a", "b"]
    assert p.hosted_models == {BERT.name, BIG.name}
    assert p.group("b").device_ids == (4,)
    with pytest.raises(SpecError, match=r"no group named 'c'"):
        p.group("c")
    assert len({p, Placement.from_json(p.to_json())}) == 1


def test_overlapping_devices_are_named() -> None:
    g1 = Group.uniform(name="g1", device_ids=[0, 1], pipeline_degree=1, models=[BERT])
    g2 = Group.uniform(name="g2", device_ids=[1, 2], pipeline_degree=1, models=[BERT])
    with pytest.raises(SpecError, match=r"device 1 is in both group 'g1' and group 'g2'"):
        Placement(cluster=homogeneous_cluster(4), models=MODELS, groups=(g1, g2))
    with pytest.raises(SpecError, match=r"uses devices \[1\] in more than one stage"):
        Group(name="x", stage_meshes=(Mesh(device_ids=(0, 1)), Mesh(device_ids=(1, 2))),
              models={})


def test_other_invalid_placements() -> None:
    cluster = homogeneous_cluster(4)
    with pytest.raises(SpecError, match=r"device id 4 is outside"):
        Placement(cluster=cluster, models=MODELS, groups=(
            Group.uniform(name="g", device_ids=range(5), pipeline_degree=1, models=[BERT]),))
    gpt = model_preset("gpt-1.3b")
    with pytest.raises(SpecError, match=r"hosts unknown model 'gpt-1.3b'"):
        Placement(cluster=cluster, models=MODELS, groups=(
            Group.uniform(name="g", device_ids=[0], pipeline_degree=1, models=[gpt]),))
    with pytest.raises(SpecError, match=r"stage 0 needs 13.32 GB.*13.00 GB usable"):
        Placement(cluster=cluster, models=MODELS, groups=(
            Group.uniform(name="g", device_ids=[0], pipeline_degree=1, models=[BIG]),))
    with pytest.raises(SpecError, match=r"duplicate group names \['g'\]"):
        Placement(cluster=cluster, models=MODELS, groups=(
            Group.uniform(name="g", device_ids=[0], pipeline_degree=1, models=[BERT]),
            Group.uniform(name="g", device_ids=[1], pipeline_degree=1, models=[BERT])))
    with pytest.raises(SpecError, match="models\\['x'\\] must be the ModelSpec named 'x'"):
        Placement(cluster=cluster, models={"x": BERT}, groups=())
    with pytest.raises(SpecError, match=r"tensor degree 3 of stage 0"):
        Placement(cluster=homogeneous_cluster(8), models=MODELS, groups=(
            Group.uniform(name="g", device_ids=range(3), pipeline_degree=1, models=[BERT]),))


def test_invalid_groups() -> None:
    with pytest.raises(SpecError, match=r"pipeline_degree=3 does not divide its 4 devices"):
        Group.uniform(name="g", device_ids=range(4), pipeline_degree=3, models=[BERT])
    with pytest.raises(SpecError, match=r"mesh_rows.*0"):
        Group.uniform(name="g", device_ids=range(4), pipeline_degree=1, models=[BERT],
                      mesh_rows=0)
    mesh = (Mesh(device_ids=(0, 1)),)
    with pytest.raises(SpecError, match=r"1 stages but model 'bert-1.3b' uses config pp2-tp1"):
        Group(name="g", stage_meshes=mesh,
              models={BERT.name: ParallelConfig.uniform(num_layers=24, pipeline_degree=2)})
    with pytest.raises(SpecError, match=r"stage 0 has 2 devices.*tensor degree 1"):
        Group(name="g", stage_meshes=mesh, models={BERT.name: ParallelConfig.uniform(
            num_layers=24)})
    with pytest.raises(SpecError, match=r"no stage meshes"):
        Group(name="g", stage_meshes=(), models={})
    with pytest.raises(SpecError, match=r"must be a ParallelConfig"):
        Group(name="g", stage_meshes=mesh, models={BERT.name: "pp1"})  # type: ignore[dict-item]
    with pytest.raises(SpecError, match=r"format_version 2"):
        Placement.from_dict({"format_version": 2})
    with pytest.raises(SpecError, match=r"malformed"):
        Placement.from_json("{not json")


@st.composite
def placements(draw: st.DrawFn) -> Placement:
    cluster = homogeneous_cluster(draw(st.sampled_from([1, 2, 4, 8, 16])))
    free = list(range(cluster.num_devices))
    groups = []
    while free and draw(st.booleans()):
        size = draw(st.sampled_from([s for s in (1, 2, 4, 8) if s <= len(free)]))
        p = draw(st.sampled_from([d for d in (1, 2, 4, 8) if size % d == 0]))
        hosted = draw(st.lists(st.sampled_from([BERT, BIG]), unique_by=lambda m: m.name))
        if size // p == 1 and p == 1:
            hosted = [m for m in hosted if m is BERT]
        groups.append(Group.uniform(name=f"g{len(groups)}", device_ids=free[:size],
                                    pipeline_degree=p, models=hosted))
        free = free[size:]
    return Placement(cluster=cluster, models=MODELS, groups=tuple(groups))


@given(placements())
def test_json_round_trip(p: Placement) -> None:
    again = Placement.from_json(p.to_json())
    assert again == p
    assert hash(again) == hash(p)


def _copies(n: int) -> list:
    from alpaserve.model_presets import model_copies

    return list(model_copies(f"bert-1.3b:{n}"))


def test_profile_weights_drive_validation() -> None:
    from tests._fixtures_profiles import measured_profiles

    six = _copies(6)  # 6 x 2.64 GB analytic > 13 GB; 6 x 2.11 GB measured fits
    group = Group.uniform(name="g0", device_ids=[0], pipeline_degree=1, models=six)
    kwargs = {"cluster": homogeneous_cluster(1), "models": {m.name: m for m in six},
              "groups": (group,)}
    with pytest.raises(SpecError, match=r"15\.81 GB of weights per device \(analytic"):
        Placement(**kwargs)
    light = measured_profiles(six, weight_scale=0.8)
    p = Placement(**kwargs, profiles=light)
    used, sources = p.stage_memory(group)
    assert used == (6 * int(six[0].weight_bytes * 0.8),)
    assert set(sources.values()) == {"profile (measured)"}
    assert Placement.from_json(p.to_json(), profiles=light) == p
    four = six[:4]  # 4 x 2.64 GB analytic fits; 4 x 3.43 GB measured does not
    heavy = measured_profiles(four, weight_scale=1.3)
    g4 = Group.uniform(name="g0", device_ids=[0], pipeline_degree=1, models=four)
    Placement(cluster=homogeneous_cluster(1), models={m.name: m for m in four}, groups=(g4,))
    with pytest.raises(SpecError, match=r"profile \(measured\) weights"):
        Placement(cluster=homogeneous_cluster(1), models={m.name: m for m in four},
                  groups=(g4,), profiles=heavy)
