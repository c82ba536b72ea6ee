"""Parallel configs: uniform splits, validation against models, weights per device."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpaserve.errors import SpecError
from alpaserve.model_presets import model_preset
from alpaserve.parallel_config import ParallelConfig, StageConfig
from tests._fixtures_foundation import parallel_configs


def test_uniform_split() -> None:
    cfg = ParallelConfig.uniform(num_layers=10, pipeline_degree=4, tensor_degree=2)
    assert [(s.layer_start, s.layer_end) for s in cfg.stages] == [(0, 3), (3, 6), (6, 8), (8, 10)]
    assert (cfg.key, cfg.num_devices, cfg.tensor_degrees) == ("pp4-tp2", 8, (2, 2, 2, 2))
    assert cfg.is_uniform
    rows = ParallelConfig.uniform(num_layers=4, tensor_degree=4, mesh_rows=2)
    assert rows.key == "pp1-tp4x2"
    assert rows.stages[0].mesh_shape == (2, 2)
    odd = ParallelConfig(stages=(StageConfig(layer_start=0, layer_end=1),
                                 StageConfig(layer_start=1, layer_end=4, mesh_shape=(1, 2))))
    assert not odd.is_uniform
    assert odd.key == "stages[0:1@1x1,1:4@1x2]"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"layer_start": -1, "layer_end": 2}, "layer_start.*-1"),
    ({"layer_start": 3, "layer_end": 3}, r"\[3, 3\) is empty"),
    ({"layer_start": 0, "layer_end": 2, "mesh_shape": (0, 2)}, r"two positive ints.*\(0, 2\)"),
    ({"layer_start": 0, "layer_end": 2, "mesh_shape": (2,)}, r"\(2,\)"),
])
def test_invalid_stage(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        StageConfig(**kwargs)  # type: ignore[arg-type]


def test_invalid_configs() -> None:
    with pytest.raises(SpecError, match=r"must not be empty"):
        ParallelConfig(stages=())
    with pytest.raises(SpecError, match=r"must start at layer 0, starts at 2"):
        ParallelConfig(stages=(StageConfig(layer_start=2, layer_end=4),))
    with pytest.raises(SpecError, match=r"not contiguous: \[0, 2\) then \[3, 4\)"):
        ParallelConfig(stages=(StageConfig(layer_start=0, layer_end=2),
                               StageConfig(layer_start=3, layer_end=4)))
    with pytest.raises(SpecError, match=r"must hold StageConfig"):
        ParallelConfig(stages=((0, 4),))  # type: ignore[arg-type]
    with pytest.raises(SpecError, match=r"pipeline_degree=5 exceeds num_layers=4"):
        ParallelConfig.uniform(num_layers=4, pipeline_degree=5)
    with pytest.raises(SpecError, match=r"tensor_degree.*-2"):
        ParallelConfig.uniform(num_layers=4, tensor_degree=-2)
    with pytest.raises(SpecError, match=r"mesh_rows=3 does not divide tensor_degree=4"):
        ParallelConfig.uniform(num_layers=4, tensor_degree=4, mesh_rows=3)


def test_validate_for_model() -> None:
    bert = model_preset("bert-1.3b")  # 32 heads, ffn 8192, 24 layers
    with pytest.raises(SpecError, match=r"tensor degree 3 of stage 0.*num_heads=32"):
        ParallelConfig.uniform(num_layers=24, tensor_degree=3).validate_for(bert)
    with pytest.raises(SpecError, match=r"covers 12 layers but model 'bert-1.3b' has 24"):
        ParallelConfig.uniform(num_layers=12).validate_for(bert)
    ParallelConfig.uniform(num_layers=24, pipeline_degree=4, tensor_degree=8).validate_for(bert)


def test_stage_weights_fall_as_one_over_devices() -> None:
    bert = model_preset("bert-2.6b")
    whole = ParallelConfig.uniform(num_layers=32).stage_weight_bytes(bert)[0]
    assert whole == bert.weight_bytes
    for p, t in [(2, 1), (1, 4), (2, 4), (8, 1)]:
        per = ParallelConfig.uniform(num_layers=32, pipeline_degree=p, tensor_degree=t)
        weights = per.stage_weight_bytes(bert)
        # Stage 0 also holds the embeddings, so the mean falls as 1/(p·t), the max roughly.
        assert sum(weights) / p == pytest.approx(whole / (p * t), rel=1e-6)
        assert whole / (p * t) <= max(weights) <= 1.4 * whole / (p * t)


@given(parallel_configs())
def test_json_round_trip(config: ParallelConfig) -> None:
    again = ParallelConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert hash(again) == hash(config)
    assert again.key == config.key


@given(st.integers(1, 64), st.integers(1, 64), st.sampled_from([1, 2, 4, 8]))
def test_uniform_covers_every_layer(layers: int, p: int, t: int) -> None:
    if p > layers:
        return
    cfg = ParallelConfig.uniform(num_layers=layers, pipeline_degree=p, tensor_degree=t)
    sizes = [s.num_layers for s in cfg.stages]
    assert sum(sizes) == layers
    assert max(sizes) - min(sizes) <= 1
    assert cfg.is_uniform


def test_from_dict_errors() -> None:
    with pytest.raises(SpecError, match=r"cannot build a StageConfig"):
        StageConfig.from_dict({"layers": [0, 1, 2], "mesh_shape": [1, 1]})
    with pytest.raises(SpecError, match=r"cannot build a ParallelConfig"):
        ParallelConfig.from_dict({})


def test_derived_values_and_hash_are_cached_consistently():
    import pickle

    cfg = ParallelConfig.uniform(num_layers=8, pipeline_degree=2, tensor_degree=4)
    twin = ParallelConfig.uniform(num_layers=8, pipeline_degree=2, tensor_degree=4)
    assert cfg.tensor_degrees == (4, 4)
    assert cfg.num_devices == 8
    assert hash(cfg) == hash(twin) == hash((cfg.stages,))  # the dataclass formula
    back = pickle.loads(pickle.dumps(cfg))
    assert back == cfg
    assert hash(back) == hash(cfg)
    assert {cfg: 1}[back] == 1
    assert cfg != ParallelConfig.uniform(num_layers=8, pipeline_degree=4, tensor_degree=2)
    assert repr(cfg).count("_hash") == 0
