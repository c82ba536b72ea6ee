"""Tiny, fast problems for doctests and tests (hand-made profiles, no cost model)."""

from __future__ import annotations

from alpaserve.cluster_spec import ClusterSpec
from alpaserve.device_spec import DeviceSpec
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles import ProfileDB, ProfileEntry
from placement.evaluator import EvalOptions, prepare_workload
from placement.problem import Problem
from workloads.mixes import MixSpec, generate_mix


def tiny_model(name: str, layers: int = 4) -> ModelSpec:
    """A 4-layer model of about 1.07 MB of fp16 weights."""
    return ModelSpec(name=name, family="bert", num_layers=layers, hidden_size=64, num_heads=4,
                     ffn_size=256, vocab_size=1000, seq_len=32)


def tiny_cluster(num_devices: int = 4, per_node: int = 4, memory_models: float = 2.5
                 ) -> ClusterSpec:
    """Devices that each hold ``memory_models`` tiny models' weights."""
    weights = tiny_model("x").weight_bytes
    dev = DeviceSpec(name="tiny", peak_flops=1e12, memory_bandwidth=1e11,
                     memory_bytes=int(weights * memory_models) + 1000, reserved_bytes=0)
    return ClusterSpec(num_nodes=max(1, num_devices // per_node),
                       devices_per_node=min(per_node, num_devices), device=dev)


def tiny_profiles(models: list[ModelSpec], latency: float = 0.1, overhead: float = 0.02,
                  max_group: int = 4) -> ProfileDB:
    """Uniform configs: each of ``p`` stages takes ``latency × (1 + overhead) / (p t)``."""
    db = ProfileDB()
    for m in models:
        size = 1
        while size <= max_group:
            for t in (1, 2, 4):
                if size % t or t > size:
                    continue
                p = size // t
                cfg = ParallelConfig.uniform(num_layers=m.num_layers, pipeline_degree=p,
                                             tensor_degree=t)
                lat = latency * (1 + overhead * (size - 1)) / size
                db.add(ProfileEntry(model=m.name, config=cfg, batch_size=1,
                                    stage_latencies=(lat,) * p,
                                    stage_weight_bytes=cfg.stage_weight_bytes(m),
                                    stage_peak_memory_bytes=cfg.stage_weight_bytes(m),
                                    source="analytic"))
            size *= 2
    return db


def tiny_problem(num_models: int = 3, num_devices: int = 4, rate: float = 12.0,
                 cv: float = 3.0, slo: float = 0.3, duration: float = 30.0, seed: int = 0,
                 memory_models: float = 2.5) -> Problem:
    models = tuple(tiny_model(f"m{i}") for i in range(num_models))
    cluster = tiny_cluster(num_devices, memory_models=memory_models)
    spec = MixSpec(model_names=tuple(m.name for m in models), total_rate=rate,
                   zipf_alpha=1.0, cv=cv)
    w = generate_mix(spec, duration=duration, seed=seed)
    slos = {m.name: slo for m in models}
    return Problem(models=models, cluster=cluster, profiles=tiny_profiles(list(models)),
                   slo=slos, train=prepare_workload(w, spec.model_names, slo=slos),
                   options=EvalOptions())
