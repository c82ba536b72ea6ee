"""Model specs: validation, parameter counts, structure and JSON round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from alpaserve.errors import SpecError
from alpaserve.model_presets import model_preset
from alpaserve.model_spec import ModelSpec
from tests._fixtures_foundation import model_specs

BASE = dict(name="m", family="bert", num_layers=2, hidden_size=64, num_heads=4, ffn_size=256,
            vocab_size=100, seq_len=16)


@pytest.mark.parametrize(("field", "value"), [
    ("num_layers", -1), ("hidden_size", 0), ("num_heads", -4), ("ffn_size", -256),
    ("vocab_size", 0), ("seq_len", -16), ("dtype_bytes", 0), ("num_layers", 2.5),
    ("num_layers", True), ("top_k", 0),
])
def test_invalid_sizes_name_the_value(field: str, value: object) -> None:
    with pytest.raises(SpecError, match=f"{field}.*{value!r}"):
        ModelSpec(**{**BASE, field: value})


def test_other_invalid_specs() -> None:
    with pytest.raises(SpecError, match=r"hidden_size=66 is not divisible by num_heads=4"):
        ModelSpec(**{**BASE, "hidden_size": 66})
    with pytest.raises(SpecError, match=r"'rnn'"):
        ModelSpec(**{**BASE, "family": "rnn"})
    with pytest.raises(SpecError, match=r"num_experts must be >= 2.*1"):
        ModelSpec(**{**BASE, "family": "moe", "num_experts": 1})
    with pytest.raises(SpecError, match=r"top_k=3 exceeds num_experts=2"):
        ModelSpec(**{**BASE, "family": "moe", "num_experts": 2, "top_k": 3})
    with pytest.raises(SpecError, match=r"num_experts must be 0.*4"):
        ModelSpec(**{**BASE, "num_experts": 4})
    with pytest.raises(SpecError, match=r"name"):
        ModelSpec(**{**BASE, "name": " "})
    with pytest.raises(SpecError, match=r"cannot build a ModelSpec.*colour"):
        ModelSpec.from_dict({**BASE, "colour": "red"})


def test_structure_queries() -> None:
    moe = model_preset("moe-1.3b")
    assert [moe.is_moe_layer(i) for i in range(4)] == [False, True, False, True]
    assert moe.layer_params(1) > moe.layer_params(0)
    with pytest.raises(SpecError, match=r"layer 16 is out of range"):
        moe.is_moe_layer(16)
    with pytest.raises(SpecError, match=r"\[3, 3\)"):
        moe.layer_range_weight_bytes(3, 3)
    bert = model_preset("bert-1.3b")
    assert bert.layer_range_weight_bytes(0, 24) == bert.weight_bytes
    assert bert.layer_range_weight_bytes(0, 12) + bert.layer_range_weight_bytes(12, 24) \
        == bert.weight_bytes
    assert bert.kv_cache_bytes_per_token() == 0
    gpt = model_preset("gpt-1.3b")
    assert gpt.kv_cache_bytes_per_token() == 2 * 24 * 2048 * 2
    assert gpt.renamed("gpt#2").name == "gpt#2"
    assert gpt.renamed("gpt#2").num_params == gpt.num_params


@given(model_specs())
def test_json_round_trip(spec: ModelSpec) -> None:
    assert ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
