"""Model presets: published sizes, names in any case, named copies, the old import path."""

from __future__ import annotations

import pytest

from alpaserve.errors import SpecError
from alpaserve.model_presets import model_copies, model_preset, preset_names


@pytest.mark.parametrize("name", preset_names())
def test_preset_parameter_counts_match_their_names(name: str) -> None:
    if name.endswith("-tiny"):  # the CPU presets: small enough to serve in milliseconds
        assert model_preset(name).num_params < 50e6
        return
    target = float(name.split("-")[1].removesuffix("b")) * 1e9
    assert model_preset(name).num_params == pytest.approx(target, rel=0.05)


def test_required_presets_exist() -> None:
    for name in ("bert-1.3b", "bert-2.6b", "bert-6.7b", "bert-103.5b", "gpt-1.3b", "gpt-30b",
                 "moe-1.3b", "moe-10b"):
        assert model_preset(name.upper()).name == name


def test_bert_weights_match_alpaserve() -> None:
    assert model_preset("bert-1.3b").weight_bytes / 1e9 == pytest.approx(2.6, rel=0.05)
    assert model_preset("bert-2.6b").weight_bytes / 1e9 == pytest.approx(5.2, rel=0.05)


def test_unknown_preset_is_named() -> None:
    with pytest.raises(SpecError, match=r"'bert-9b'"):
        model_preset("bert-9b")


def test_model_copies_names_and_errors() -> None:
    names = [m.name for m in model_copies(" bert-1.3b:2 , gpt-1.3b ")]
    assert names == ["bert-1.3b#0", "bert-1.3b#1", "gpt-1.3b#0"]
    with pytest.raises(SpecError, match=r"'bert-1\.3b:x' is not an integer"):
        model_copies("bert-1.3b:x")
    with pytest.raises(SpecError, match="must be positive"):
        model_copies("bert-1.3b:0")
    with pytest.raises(SpecError, match="unknown model preset 'nope'"):
        model_copies("nope:2")
    with pytest.raises(SpecError, match="no models in ' , '"):
        model_copies(" , ")


def test_old_import_path_still_works() -> None:
    from alpaserve.model_spec import model_preset as old  # type: ignore[attr-defined]

    assert old("bert-1.3b") == model_preset("bert-1.3b")
    import alpaserve.model_spec as spec_module

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        spec_module.nope  # noqa: B018


@pytest.mark.parametrize("lookup", ["model", "device", "llm"])
def test_a_preset_name_that_is_not_a_string_gets_a_named_error(lookup: str) -> None:
    from alpaserve.device_spec import device_preset
    from alpaserve.llm.spec import llm_preset

    find = {"model": model_preset, "device": device_preset, "llm": llm_preset}[lookup]
    with pytest.raises(SpecError, match=r"unknown (model|device|LLM) preset 3; known: "):
        find(3)
    with pytest.raises(SpecError, match=r"preset 'no-such'; known: "):
        find("no-such")
