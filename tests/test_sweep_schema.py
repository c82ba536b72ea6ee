"""The experiment file: every key and type checked, one-line errors naming the value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.errors import SpecError
from alpaserve.sweep.cases import SETTINGS
from alpaserve.sweep.schema import ALLOWED, grid_from_mapping, load_experiment

ROOT = Path(__file__).resolve().parents[1]


def grid(**data: object) -> Any:
    return grid_from_mapping({"policies": ["sr"], **data}, settings_schema=SETTINGS)


@pytest.mark.parametrize(("data", "match"), [
    ({"colour": "red"}, r"unknown key 'colour'; allowed: policies, devices, rate_scales"),
    ({"policy": "sr"}, r"unknown key 'policy'"),
    ({"devices": "eight"}, r"devices must be an integer or a list of them, got 'eight' \(str\)"),
    ({"devices": [4, 8.5]}, r"devices must be an integer .* got 8\.5 \(float\)"),
    ({"devices": [True]}, r"devices must be an integer .* got True \(bool\)"),
    ({"devices": []}, r"devices must not be empty"),
    ({"rate_scales": ["x"]}, r"rate_scales must be a number .* got 'x' \(str\)"),
    ({"cv_scales": {"a": 1}}, r"cv_scales must be a number .* got \{'a': 1\} \(dict\)"),
    ({"slo_scales": None}, r"slo_scales must be a number .* got None"),
    ({"windows": [[0, 10, 20]]}, r"windows must be a \[start_s, end_s\] pair .* or null"),
    ({"windows": [["a", 1]]}, r"windows must be a \[start_s, end_s\] pair"),
    ({"seed": 1.5}, r"seed must be an integer, got 1\.5 \(float\)"),
    ({"seeds": ["1"]}, r"seeds must be an integer .* got '1' \(str\)"),
    ({"seed": 1, "seeds": [2]}, r"give 'seed' or 'seeds', not both"),
    ({"settings": [1, 2]}, r"settings must be a mapping, got \[1, 2\] \(list\)"),
    ({"settings": {"rat": 16}}, r"unknown settings key 'rat'; allowed: models, device"),
    ({"settings": {"rate": "fast"}}, r"settings\.rate must be a number \(req/s\), got 'fast'"),
    ({"settings": {"models": 3}}, r"settings\.models must be a string"),
    ({"settings": {"devices_per_node": 0}}, r"devices_per_node must be a positive integer"),
    ({"devices": [0]}, r"devices must be positive ints, got 0"),
    ({"rate_scales": [-1]}, r"rate_scales must be positive and finite, got -1"),
    ({"cv_scales": [float("inf")]}, r"cv_scales must be positive and finite, got inf"),
    ({"slo_scales": [float("nan")]}, r"slo_scales must be positive and finite, got nan"),
    ({"windows": [[60, 0]]}, r"windows must be a \[start_s, end_s\] pair \(0 <= start < end\)"),
    ({"windows": [[-1, 5]]}, r"windows must be a \[start_s, end_s\] pair"),
])
def test_schema_errors(data: dict, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        grid(**data)


def test_policies_required_and_a_mapping_expected() -> None:
    with pytest.raises(SpecError, match="'policies' is required"):
        grid_from_mapping({"devices": [4]})
    with pytest.raises(SpecError, match="must hold a mapping of policies"):
        grid_from_mapping(["sr"])


def test_values_and_lists() -> None:
    g = grid(devices=4, windows=[0, 60], seeds=[1, 2], settings={"rate": 8})
    assert g.policies == ("sr",)
    assert g.devices == (4,)
    assert g.windows == ((0.0, 60.0),)
    assert grid(windows=[[0, 60], None]).windows == ((0.0, 60.0), None)
    assert len(grid(seeds=[1, 2], devices=[2, 4]).cases()) == 4


@pytest.mark.parametrize(("name", "text", "match"), [
    ("e.yaml", "policies: [sr\n", r"is malformed: "),
    ("e.json", "{\"policies\": ", r"is malformed: "),
    ("e.yaml", "- sr\n", r"must hold a mapping"),
    ("e.toml", "policies = ['sr']", r"must end in \.yaml, \.yml or \.json"),
])
def test_file_errors(tmp_path: Path, name: str, text: str, match: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SpecError, match=match) as info:
        load_experiment(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"cannot read experiment file .*none\.yaml"):
        load_experiment(tmp_path / "none.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SpecError, match="not UTF-8 text"):
        load_experiment(tmp_path / "bin.yaml")


@pytest.mark.parametrize("name", ["sweep_synthetic.yaml", "trace_sweep.yaml"])
def test_example_files_are_valid(name: str) -> None:
    g = load_experiment(ROOT / "examples" / name, settings_schema=SETTINGS)
    assert len(g.cases()) >= 16


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 50) | st.floats(-1, 50)
                     | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([*ALLOWED, "colour", "seeds "]), _JSON, max_size=5)
       | _JSON)
def test_any_parsed_file_gives_a_grid_or_a_spec_error(data: object) -> None:
    message = ""
    try:
        g = grid_from_mapping(data, settings_schema=SETTINGS)
    except SpecError as exc:
        message = str(exc)
    else:
        assert all(isinstance(c.policy, str) for c in g.cases())
    assert "\n" not in message
