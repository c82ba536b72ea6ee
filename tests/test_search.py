from __future__ import annotations

import pytest

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.cost.model import STAGE_OVERHEAD_S
from alpaserve.errors import InfeasibleError, SpecError
from alpaserve.model_presets import model_preset
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel.search import ConfigSearchOptions, search_configs, tensor_degrees

SPEC = model_preset("bert-1.3b")
ONE_BS = ConfigSearchOptions(batch_sizes=(1,))


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    return search_configs(SPEC, homogeneous_cluster(8), options=ONE_BS)


def test_every_factorisation_is_a_candidate(result) -> None:  # type: ignore[no-untyped-def]
    keys = {(c.group_size, c.config.key) for c in result.candidates}
    for g in (1, 2, 4, 8):
        for t in tensor_degrees(SPEC, g):
            if g % t == 0:
                assert any(k[0] == g and k[1].startswith(f"pp{g // t}-tp{t}") for k in keys)
    db = result.profile_db()
    assert len(db) == len(result.candidates)
    assert {e.source for e in db} == {"analytic-dp-ilp"}
    for c in result.candidates:
        c.config.validate_for(SPEC)
        assert c.config.num_devices == c.group_size


def test_latency_and_memory_scale(result) -> None:  # type: ignore[no-untyped-def]
    # by pipeline × tensor degree, whatever logical mesh shape each stage got
    by_key = {f"pp{c.config.pipeline_degree}-tp{c.config.stages[0].tensor_degree}": c.entries[0]
              for c in result.candidates if c.equal_stages}
    single = by_key["pp1-tp1"]
    work = single.total_latency - STAGE_OVERHEAD_S  # every stage pays its own overhead
    for p in (2, 4, 8):
        e = by_key[f"pp{p}-tp1"]
        assert e.max_stage_latency - STAGE_OVERHEAD_S == pytest.approx(work / p, rel=0.06)
        assert e.total_latency >= single.total_latency  # activation transfers add up
        assert e.total_latency - p * STAGE_OVERHEAD_S == pytest.approx(work, rel=0.02)
    for key in ("pp2-tp1", "pp1-tp2", "pp2-tp2", "pp4-tp2", "pp2-tp4", "pp8-tp1"):
        e = by_key[key]
        p, t = e.config.pipeline_degree, e.config.stages[0].tensor_degree
        # Weights per device fall as 1/(p·t): the shards add up to the whole model, and
        # the fullest device holds little more than its share (embedding, layer norms).
        total = sum(w * s.tensor_degree for w, s in zip(e.stage_weight_bytes,
                                                         e.config.stages, strict=True))
        assert total == pytest.approx(SPEC.weight_bytes, rel=0.01)
        assert max(e.stage_weight_bytes) <= 1.6 * SPEC.weight_bytes / (p * t)
    tp = [by_key[f"pp1-tp{t}"].total_latency for t in (1, 2, 4)]
    assert tp[0] > tp[1] > tp[2] > tp[0] / 4  # tensor parallelism pays communication


def test_batch_sizes_and_unequal_meshes() -> None:
    spec = ModelSpec(name="odd", family="bert", num_layers=6, hidden_size=256, num_heads=4,
                     ffn_size=1024, vocab_size=1000, seq_len=64)
    res = search_configs(spec, homogeneous_cluster(4),
                         options=ConfigSearchOptions(batch_sizes=(1, 4), group_sizes=(4,)))
    for c in res.candidates:
        assert [e.batch_size for e in c.entries] == [1, 4]
        assert c.entries[1].total_latency > c.entries[0].total_latency
    # small layers: extra devices only add overhead, so unequal splits may win; any kept
    # unequal split must beat every equal one on the slowest stage
    equal = [c for c in res.candidates if c.equal_stages]
    for c in res.candidates:
        if not c.equal_stages:
            assert c.entries[0].max_stage_latency < min(e.entries[0].max_stage_latency
                                                        for e in equal)


def test_infeasible_names_the_smallest_group() -> None:
    with pytest.raises(InfeasibleError, match=r"bert-103\.5b.*4 × v100-16gb.*32 devices"):
        search_configs(model_preset("bert-103.5b"), homogeneous_cluster(4), options=ONE_BS)


def test_bad_arguments() -> None:
    with pytest.raises(SpecError, match="max_devices=16"):
        search_configs(SPEC, homogeneous_cluster(8), max_devices=16)
    with pytest.raises(SpecError, match="batch_sizes"):
        ConfigSearchOptions(batch_sizes=(0,))
    with pytest.raises(SpecError, match="exceed max_devices"):
        search_configs(SPEC, homogeneous_cluster(2), options=ConfigSearchOptions(group_sizes=(4,)))
