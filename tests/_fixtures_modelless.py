"""Small registries and queries for the model-less simulator and INFaaS policy tests."""

from __future__ import annotations

from alpaserve.modelless.queries import ModellessQueries
from alpaserve.modelless.registry import VariantRegistry
from alpaserve.modelless.variants import HardwareType, Variant

TASK = "classify"
GIB = 1 << 30
# A registry document of the schema in alpaserve.modelless.registry: two types, two variants.
REGISTRY_DOC = """
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


def small_registry(*, cpu_startup: float = 10.0, gpu_startup: float = 20.0,
                   gpu_price: float = 2.0) -> VariantRegistry:
    """Two CPU variants (cheap, slow) and two GPU variants (dear, fast)."""
    hw = [HardwareType(name="cpu", kind="cpu", price_per_hour=0.2, startup_time=cpu_startup,
                       memory_bytes=4 * GIB),
          HardwareType(name="gpu", kind="gpu", price_per_hour=gpu_price, startup_time=gpu_startup,
                       memory_bytes=8 * GIB)]

    def v(name: str, hardware: str, acc: float, slope: float, icpt: float, mb: int,
          price: float) -> Variant:
        return Variant(task=TASK, name=name, architecture=name.split("-")[0], framework="f",
                       hardware=hardware, accuracy=acc, latency_slope=slope,
                       latency_intercept=icpt, load_latency=1.0, peak_memory_bytes=GIB,
                       max_batch=mb, price_per_hour=price)

    return VariantRegistry(hw, [
        v("small-cpu", "cpu", 70.0, 0.010, 0.002, 4, 0.2),
        v("big-cpu", "cpu", 78.0, 0.040, 0.004, 2, 0.2),
        v("small-gpu", "gpu", 70.0, 0.0005, 0.001, 32, gpu_price),
        v("big-gpu", "gpu", 78.0, 0.001, 0.002, 32, gpu_price),
    ])


def queries(arrival: list[float], *, slo: float = 0.2, min_accuracy: float = 70.0
            ) -> ModellessQueries:
    return ModellessQueries.from_arrays(arrival=arrival, task=TASK, slo=slo,
                                        min_accuracy=min_accuracy)
