"""The variant registry and its loaders (YAML, JSON, CSV, profiles)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alpaserve.errors import ProfileError, SpecError
from alpaserve.modelless.profiled import variants_from_profiles
from alpaserve.modelless.registry import VariantRegistry, example_registry
from alpaserve.modelless.variants import HardwareType
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles import ProfileDB, ProfileEntry

TASK = "image-classification"
DOC = """
format_version: 1
hardware:
  - {name: cpu, kind: cpu, price_per_hour: 0.17, startup_time: 30, memory_gib: 8}
  - {name: gpu, kind: gpu, price_per_hour: 3.0, startup_time: 40, memory_gib: 16}
defaults: {task: t}
variants:
  - {name: small-cpu, architecture: small, framework: tf, hardware: cpu, accuracy: 70,
     profile: {batch_sizes: [1, 4], latency_ms: [20, 50]}, load_latency: 1,
     peak_memory_mib: 100, max_batch: 4}
  - {name: big-gpu, architecture: big, framework: trt, hardware: gpu, accuracy: 78,
     latency_slope: 0.001, latency_intercept: 0.002, load_latency: 2,
     peak_memory_bytes: 1000000, max_batch: 32}
"""


def test_example_registry_is_complete_and_sane() -> None:
    reg = example_registry()
    assert reg.tasks() == [TASK]
    assert len(reg) == 24
    kinds = {reg.hardware_of(v).kind for v in reg}
    assert kinds == {"cpu", "gpu", "accelerator"}
    for v in reg:
        assert 70 <= v.accuracy <= 80
        assert v.latency(1) < v.latency(v.max_batch)
        assert v.price_per_hour == reg.hardware_of(v).price_per_hour
    # the accelerators are faster per image than the CPU for the same architecture
    cpu = reg.get(TASK, "resnet50-tf-cpu")
    inf = reg.get(TASK, "resnet50-neuron-inf1")
    assert inf.throughput() > 20 * cpu.throughput()


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


def test_registry_errors() -> None:
    reg = VariantRegistry.from_yaml(DOC)
    with pytest.raises(SpecError, match="registered twice"):
        reg.add(reg.get("t", "small-cpu"))
    with pytest.raises(SpecError, match="unknown task 'u'"):
        reg.get("u", "x")
    with pytest.raises(SpecError, match="no variant 'x'"):
        reg.get("t", "x")
    with pytest.raises(SpecError, match="malformed"):
        VariantRegistry.from_yaml("a: [")
    with pytest.raises(SpecError, match="malformed"):
        VariantRegistry.from_json("{")
    with pytest.raises(SpecError, match="must end in"):
        VariantRegistry.from_file("registry.txt")


def _db() -> ProfileDB:
    one = ParallelConfig.uniform(num_layers=4)
    two = ParallelConfig.uniform(num_layers=4, pipeline_degree=2)
    db = ProfileDB()
    for b in (1, 2, 8):
        db.add(ProfileEntry(model="m", config=one, batch_size=b,
                            stage_latencies=(0.004 + 0.001 * b,),
                            stage_weight_bytes=(2 * 10**9,),
                            stage_peak_memory_bytes=(3 * 10**9,), source="measured"))
        db.add(ProfileEntry(model="m", config=two, batch_size=b,
                            stage_latencies=(0.003, 0.003), stage_weight_bytes=(10**9, 10**9),
                            stage_peak_memory_bytes=(2 * 10**9, 2 * 10**9),
                            source="measured"))
    return db


def test_variants_from_profiles() -> None:
    hw = HardwareType(name="gpu", kind="gpu", price_per_hour=3.0, startup_time=40,
                      memory_bytes=16 << 30)
    vs = variants_from_profiles(_db(), task="t", hardware=hw, accuracy={"m": 76.0},
                                load_bandwidth=1e9, load_overhead=0.0)
    assert len(vs) == 1  # the two-device config is skipped on a one-device worker
    v = vs[0]
    assert v.latency_slope == pytest.approx(0.001)
    assert v.latency_intercept == pytest.approx(0.004)
    assert v.load_latency == pytest.approx(2.0)
    assert (v.max_batch, v.peak_memory_bytes, v.price_per_hour) == (8, 3 * 10**9, 3.0)
    reg = VariantRegistry([hw], vs)
    assert reg.get("t", v.name) == v
    two = variants_from_profiles(_db(), task="t", hardware=hw, accuracy={"m": 76.0},
                                 devices_per_worker=2)
    assert [x.name for x in two] == ["m-pp2-tp1-gpu"]
    with pytest.raises(ProfileError, match="no accuracy given for model 'm'"):
        variants_from_profiles(_db(), task="t", hardware=hw, accuracy={})
