"""Reading registries: YAML/JSON/file round trips, CSV tables, and named document errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from alpaserve.errors import SpecError
from alpaserve.modelless.registry import VariantRegistry
from alpaserve.modelless.variants import HardwareType
from tests._fixtures_modelless import REGISTRY_DOC as DOC


def test_yaml_json_roundtrip(tmp_path: Path) -> None:
    reg = VariantRegistry.from_yaml(DOC)
    small = reg.get("t", "small-cpu")
    assert small.latency_slope == pytest.approx(0.01)
    assert small.latency_intercept == pytest.approx(0.01)
    assert small.peak_memory_bytes == 100 << 20
    assert small.price_per_hour == 0.17
    again = VariantRegistry.from_json(reg.to_json())
    assert again == reg
    path = tmp_path / "reg.json"
    path.write_text(reg.to_json())
    assert VariantRegistry.from_file(path) == reg
    ypath = tmp_path / "reg.yaml"
    ypath.write_text(DOC)
    assert VariantRegistry.from_file(ypath) == reg
    assert [v.name for v in reg.variants("t", min_accuracy=75)] == ["big-gpu"]
    assert [v.name for v in reg.variants("t", hardware="cpu")] == ["small-cpu"]


def test_csv_loader() -> None:
    hw = [HardwareType(name="cpu", kind="cpu", price_per_hour=0.1, startup_time=1,
                       memory_bytes=1 << 30)]
    text = ("task,name,architecture,framework,hardware,accuracy,latency_slope,"
            "latency_intercept,batch_sizes,latency_ms,load_latency,peak_memory_mib,max_batch\n"
            "t,a,x,tf,cpu,70,0.01,0.002,,,1,10,4\n"
            "t,b,y,tf,cpu,72,,,1;2;4,30;40;60,1,10,4\n")
    reg = VariantRegistry.from_csv(text, hw)
    assert reg.get("t", "a").latency_slope == 0.01
    assert reg.get("t", "b").latency_slope == pytest.approx(0.01)
    with pytest.raises(SpecError, match="line 2"):
        VariantRegistry.from_csv(text.replace("0.01,0.002", "x,0.002"), hw)


@pytest.mark.parametrize(("old", "new", "match"), [
    ("hardware: cpu, accuracy: 70", "hardware: tpu, accuracy: 70", "unknown hardware 'tpu'"),
    ("max_batch: 4}", "max_batch: 4, price_per_hour: 1.0}", "costs"),
    ("max_batch: 4}", "max_batch: 4, colour: red}", "unknown fields"),
    ("format_version: 1", "format_version: 7", "format_version 7"),
    ("latency_ms: [20, 50]", "latency_ms: [50, 20]", "falls with batch size"),
    ("peak_memory_mib: 100", "peak_memory_gib: 100", "more than hardware"),
    ("accuracy: 70", "accuracy: 170", "accuracy"),
    ("load_latency: 1,", "", "missing field 'load_latency'"),
    ("profile: {batch_sizes: [1, 4], latency_ms: [20, 50]}",
     "profile: {batch_sizes: [1, 4]}", "latency_ms"),
])
def test_document_errors_name_the_value(old: str, new: str, match: str) -> None:
    assert old in DOC
    with pytest.raises(SpecError, match=match):
        VariantRegistry.from_yaml(DOC.replace(old, new, 1))


def test_unreadable_inputs_are_named(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="malformed"):
        VariantRegistry.from_yaml("a: [")
    with pytest.raises(SpecError, match="malformed"):
        VariantRegistry.from_json("{")
    with pytest.raises(SpecError, match="must end in"):
        VariantRegistry.from_file("registry.txt")
    with pytest.raises(SpecError, match="cannot read registry file"):
        VariantRegistry.from_file(tmp_path / "missing.yaml")
    with pytest.raises(SpecError, match="a registry document is a mapping"):
        VariantRegistry.from_yaml("- 1\n- 2\n")
