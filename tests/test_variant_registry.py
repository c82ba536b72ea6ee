"""The variant registry: the bundled example, lookups, errors, variants from profiles."""

from __future__ import annotations

import pytest

from alpaserve.errors import ProfileError, SpecError
from alpaserve.modelless.profiled import variants_from_profiles
from alpaserve.modelless.registry import VariantRegistry, example_registry
from alpaserve.modelless.variants import HardwareType
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles import ProfileDB, ProfileEntry
from tests._fixtures_modelless import REGISTRY_DOC as DOC

TASK = "image-classification"


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


def test_registry_errors() -> None:
    reg = VariantRegistry.from_yaml(DOC)
    with pytest.raises(SpecError, match="registered twice"):
        reg.add(reg.get("t", "small-cpu"))
    with pytest.raises(SpecError, match="unknown task 'u'"):
        reg.get("u", "x")
    with pytest.raises(SpecError, match="no variant 'x'"):
        reg.get("t", "x")


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
