"""Small hand-made simulator scenarios: tiny models, pipelines of 1-8 stages, Gamma arrivals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alpaserve.cluster_spec import Mesh, homogeneous_cluster
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig
from alpaserve.placement_spec import Group, Placement
from alpaserve.profiles import ProfileDB, ProfileEntry
from workloads.workload import Workload

NUM_LAYERS = 8
BATCH_SIZES = (1, 2, 4)


def tiny_model(name: str) -> ModelSpec:
    return ModelSpec(name=name, family="bert", num_layers=NUM_LAYERS, hidden_size=32,
                     num_heads=4, ffn_size=64, vocab_size=100, seq_len=8)


def gamma_arrivals(rng: np.random.Generator, n: int, rate: float, cv: float) -> np.ndarray:
    """``n`` Gamma renewal arrivals: shape ``1/cv^2``, scale ``cv^2/rate``."""
    shape = 1.0 / cv**2
    return np.cumsum(rng.gamma(shape, 1.0 / (rate * shape), size=n))


def build_placement(models: list[str], stages: list[int], hosted: list[list[str]]) -> Placement:
    """One group per entry of ``stages``, each stage on one device, hosting ``hosted[g]``."""
    specs = {m: tiny_model(m) for m in models}
    groups, device = [], 0
    for g, (s, names) in enumerate(zip(stages, hosted, strict=True)):
        meshes = tuple(Mesh(device_ids=(device + k,)) for k in range(s))
        device += s
        config = ParallelConfig.uniform(num_layers=NUM_LAYERS, pipeline_degree=s)
        groups.append(Group(name=f"g{g}", stage_meshes=meshes,
                            models={m: config for m in names}))
    return Placement(cluster=homogeneous_cluster(max(device, 1), devices_per_node=1),
                     models=specs, groups=tuple(groups))


def entry(model: str, config: ParallelConfig, batch: int, stage_lat: list[float]) -> ProfileEntry:
    p = config.pipeline_degree
    return ProfileEntry(model=model, config=config, batch_size=batch,
                        stage_latencies=tuple(stage_lat), stage_weight_bytes=(0,) * p,
                        stage_peak_memory_bytes=(0,) * p, source="analytic")


def build_profiles(placement: Placement, rng: np.random.Generator, *, grid: float = 0.0,
                   base: dict[str, float] | None = None) -> ProfileDB:
    """Random stage latencies per (model, config); batch b costs ``(1 + 0.6 (b - 1))`` × b=1."""
    db = ProfileDB()
    for group in placement.groups:
        for model, config in group.models.items():
            if (model, config, 1) in db:
                continue
            total = base[model] if base else float(rng.uniform(0.02, 0.2))
            parts = rng.dirichlet(np.ones(config.pipeline_degree)) * total
            if grid:
                parts = np.maximum(np.round(parts / grid), 1) * grid
            for b in BATCH_SIZES:
                db.add(entry(model, config, b, [float(x) * (1 + 0.6 * (b - 1)) for x in parts]))
    return db


@dataclass(frozen=True)
class Scenario:
    placement: Placement
    profiles: ProfileDB
    workload: Workload
    slo: dict[str, float]


def random_scenario(seed: int, *, n: int = 60, cv: float = 1.0, slo_scale: float = 3.0,
                    grid: bool = False, max_groups: int = 4, max_models: int = 4,
                    max_stages: int = 8, per_request_slo: bool = False) -> Scenario:
    """A random placement (some models possibly unhosted), its profiles and a workload."""
    rng = np.random.default_rng(seed)
    num_models = int(rng.integers(1, max_models + 1))
    models = [f"m{i}" for i in range(num_models)]
    num_groups = int(rng.integers(1, max_groups + 1))
    stages = [int(rng.integers(1, max_stages + 1)) for _ in range(num_groups)]
    hosted = [[m for m in models if rng.random() < 0.6] for _ in range(num_groups)]
    placement = build_placement(models, stages, hosted)
    profiles = build_profiles(placement, rng, grid=0.01 if grid else 0.0)
    rate = float(rng.uniform(5, 40)) * num_groups
    arrival = gamma_arrivals(rng, n, rate, cv)
    if grid:
        arrival = np.round(arrival, 2)
    codes = rng.integers(0, num_models, size=n)
    slo = {m: float(slo_scale * rng.uniform(0.05, 0.25)) for m in models}
    if grid:
        slo = {m: round(v, 2) + 0.01 for m, v in slo.items()}
    per_request = None
    if per_request_slo:
        per_request = np.array([slo[models[c]] for c in codes]) * rng.uniform(0.5, 1.5, n)
    workload = Workload.from_arrays(arrival=arrival, model=codes, model_names=models,
                                    slo=per_request)
    return Scenario(placement=placement, profiles=profiles, workload=workload, slo=slo)
