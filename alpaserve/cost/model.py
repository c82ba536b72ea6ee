"""Analytic profiles: the configs a model admits, which of them fit, and their profile entries.

The entries are built from the stage latencies and peak memory of :mod:`alpaserve.cost.stage`
(whose docstring describes the cost model and its calibration). This module is also the cost
model's front door: it re-exports the primitives of :mod:`alpaserve.cost.primitives` and the
stage costs of :mod:`alpaserve.cost.stage` (see ``__all__``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from alpaserve._validation import positive_int
from alpaserve.cluster_spec import ClusterSpec
from alpaserve.cost.layers import layer_cost
from alpaserve.cost.primitives import (
    DEFAULT_MATMUL_EFFICIENCY,
    DEFAULT_MEMORY_EFFICIENCY,
    GEMM_TILE,
    LAYER_OVERHEAD_S,
    STAGE_OVERHEAD_S,
    allreduce_time,
    gemm_quantization,
    op_time,
    ops_time,
    p2p_time,
    roofline_time,
)
from alpaserve.cost.stage import (
    layer_time,
    resolve_stage_devices,
    single_device_latency,
    stage_latencies,
    stage_latency,
    stage_peak_memory_bytes,
)
from alpaserve.device_spec import DeviceSpec
from alpaserve.errors import InfeasibleError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles import ProfileDB, ProfileEntry

__all__ = [
    "DEFAULT_MATMUL_EFFICIENCY",
    "DEFAULT_MEMORY_EFFICIENCY",
    "GEMM_TILE",
    "LAYER_OVERHEAD_S",
    "STAGE_OVERHEAD_S",
    "allreduce_time",
    "analytic_profiles",
    "check_fits",
    "fits",
    "gemm_quantization",
    "layer_time",
    "min_devices_to_fit",
    "op_time",
    "ops_time",
    "p2p_time",
    "profile_entry",
    "resolve_stage_devices",
    "roofline_time",
    "single_device_latency",
    "stage_latencies",
    "stage_latency",
    "stage_peak_memory_bytes",
    "uniform_configs",
]

logger = logging.getLogger(__name__)


def profile_entry(*, model: ModelSpec, config: ParallelConfig, cluster: ClusterSpec,
                  batch_size: int = 1,
                  stage_device_ids: Sequence[Sequence[int]] | None = None) -> ProfileEntry:
    """The analytic profile of ``model`` under ``config`` on ``cluster``.

    Without ``stage_device_ids`` the stages are packed on devices ``0, 1, ...``, so a group
    that fits in a node uses intra-node links. Memory is recorded, not checked.

    Parameters
    ----------
    model : ModelSpec
        The model.
    config : ParallelConfig
        The stages.
    cluster : ClusterSpec
        The cluster.
    batch_size : int, default 1
        Requests in the batch.
    stage_device_ids : sequence of sequence of int, optional
        Devices of each stage; default: stages packed on devices ``0, 1, ...``.

    Returns
    -------
    ProfileEntry
        Stage latencies, weights and peak memory, with ``source="analytic"``.

    Raises
    ------
    SpecError
        If the config cannot run ``model`` or the devices do not fit it.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> from alpaserve.model_presets import model_preset
    >>> bert = model_preset("bert-1.3b")
    >>> cfg = ParallelConfig.uniform(num_layers=24, pipeline_degree=2)
    >>> e = profile_entry(model=bert, config=cfg, cluster=homogeneous_cluster(8))
    >>> e.source, [round(x, 3) for x in e.stage_latencies]
    ('analytic', [0.05, 0.05])
    """
    lats = stage_latencies(model=model, config=config, cluster=cluster, batch_size=batch_size,
                           stage_device_ids=stage_device_ids)
    flops = sum(layer_cost(model, layer, batch_size=batch_size).flops
                for layer in range(model.num_layers))
    return ProfileEntry(
        model=model.name, config=config, batch_size=batch_size, stage_latencies=lats,
        stage_weight_bytes=config.stage_weight_bytes(model),
        stage_peak_memory_bytes=stage_peak_memory_bytes(model=model, config=config,
                                                        batch_size=batch_size),
        source="analytic", tflops=flops / sum(lats) / config.num_devices / 1e12,
    )


def uniform_configs(model: ModelSpec, max_group_size: int = 8) -> list[ParallelConfig]:
    """Uniform pipeline × tensor configs on power-of-two groups up to ``max_group_size``.

    Kept are those ``model`` admits: the tensor degree divides the heads and the FFN size,
    and the pipeline degree is at most the number of layers.

    Parameters
    ----------
    model : ModelSpec
        The model.
    max_group_size : int, default 8
        Largest group size; positive.

    Returns
    -------
    list of ParallelConfig
        The configs by group size, then pipeline degree.

    Raises
    ------
    SpecError
        If ``max_group_size`` is not positive.

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> [c.key for c in uniform_configs(model_preset("bert-1.3b"), 2)]
    ['pp1-tp1', 'pp1-tp2', 'pp2-tp1']
    """
    positive_int("uniform_configs", "max_group_size", max_group_size)
    configs: list[ParallelConfig] = []
    size = 1
    while size <= max_group_size:
        configs += _configs_of_size(model, size)
        size *= 2
    return configs


def _configs_of_size(model: ModelSpec, size: int) -> list[ParallelConfig]:
    configs = []
    for p in (d for d in range(1, size + 1) if size % d == 0):
        t = size // p
        if model.num_heads % t or model.ffn_size % t or p > model.num_layers:
            continue
        configs.append(ParallelConfig.uniform(num_layers=model.num_layers,
                                              pipeline_degree=p, tensor_degree=t))
    return configs


def fits(*, model: ModelSpec, config: ParallelConfig, device: DeviceSpec,
         batch_size: int = 1) -> bool:
    """Whether every stage's peak memory per device fits ``device``'s usable memory.

    Parameters
    ----------
    model : ModelSpec
        The model.
    config : ParallelConfig
        The stages.
    device : DeviceSpec
        The device.
    batch_size : int, default 1
        Requests in the batch.

    Returns
    -------
    bool
        True if no stage's peak exceeds ``device.usable_memory_bytes``.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> from alpaserve.model_presets import model_preset
    >>> cfg = ParallelConfig.uniform(num_layers=32)
    >>> fits(model=model_preset("bert-6.7b"), config=cfg, device=device_preset("v100-16gb"))
    False
    """
    peaks = stage_peak_memory_bytes(model=model, config=config, batch_size=batch_size)
    return max(peaks) <= device.usable_memory_bytes


def _smallest_fit(model: ModelSpec, device: DeviceSpec, limit: int) -> int | None:
    size = 1
    while size <= limit:
        if any(fits(model=model, config=c, device=device) for c in _configs_of_size(model, size)):
            return size
        size *= 2
    return None


def min_devices_to_fit(*, model: ModelSpec, device: DeviceSpec) -> int:
    """Smallest power-of-two group on which some uniform config of ``model`` fits at batch 1.

    Parameters
    ----------
    model : ModelSpec
        The model.
    device : DeviceSpec
        The device.

    Returns
    -------
    int
        Devices in the smallest group that fits.

    Raises
    ------
    InfeasibleError
        When no admissible config fits at all.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> from alpaserve.model_presets import model_preset
    >>> v100 = device_preset("v100-16gb")
    >>> [min_devices_to_fit(model=model_preset(m), device=v100)
    ...  for m in ("bert-1.3b", "bert-6.7b", "bert-103.5b")]
    [1, 2, 32]
    """
    limit = model.num_layers * model.num_heads
    need = _smallest_fit(model, device, limit)
    if need is None:
        raise InfeasibleError(_no_fit_message(model, device, limit))
    return need


def check_fits(*, model: ModelSpec, device: DeviceSpec, max_group_size: int = 8) -> int:
    """:func:`min_devices_to_fit`, raising ``InfeasibleError`` when it exceeds ``max_group_size``.

    Parameters
    ----------
    model : ModelSpec
        The model.
    device : DeviceSpec
        The device.
    max_group_size : int, default 8
        Largest group allowed; positive.

    Returns
    -------
    int
        Devices in the smallest power-of-two group that fits.

    Raises
    ------
    InfeasibleError
        If no group up to ``max_group_size`` fits the model.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> from alpaserve.model_presets import model_preset
    >>> v100 = device_preset("v100-16gb")
    >>> check_fits(model=model_preset("bert-6.7b"), device=v100)
    2
    >>> check_fits(model=model_preset("bert-103.5b"), device=v100)
    Traceback (most recent call last):
    alpaserve.errors.InfeasibleError: model 'bert-103.5b' (207.5 GB of weights) fits no group ...
    """
    positive_int("check_fits", "max_group_size", max_group_size)
    need = _smallest_fit(model, device, max_group_size)
    if need is None:
        raise InfeasibleError(_no_fit_message(model, device, max_group_size))
    return need


def _no_fit_message(model: ModelSpec, device: DeviceSpec, size: int) -> str:
    return (f"model {model.name!r} ({model.weight_bytes / 1e9:.1f} GB of weights) fits no "
            f"group of up to {size} {device.name} devices "
            f"({device.usable_memory_bytes / 1e9:.1f} GB usable each)")


def analytic_profiles(*, models: Iterable[ModelSpec], cluster: ClusterSpec,
                      configs: Mapping[str, Sequence[ParallelConfig]] | None = None,
                      max_group_size: int = 8, batch_sizes: Sequence[int] = (1,)) -> ProfileDB:
    """Analytic profiles of ``models`` at every batch size, for the given or uniform configs.

    ``configs`` maps model names to their configs; a model it does not name, or ``None``,
    gets :func:`uniform_configs` up to ``min(max_group_size, cluster.num_devices)``. Configs
    whose peak memory per device exceeds the device's usable memory are skipped; the number
    skipped is logged. A model with no config that fits raises ``InfeasibleError``.

    Parameters
    ----------
    models : iterable of ModelSpec
        The models.
    cluster : ClusterSpec
        The cluster (device and links).
    configs : Mapping[str, sequence of ParallelConfig], optional
        Configs per model name; default: uniform configs.
    max_group_size : int, default 8
        Largest group of the uniform configs; positive.
    batch_sizes : sequence of int, default (1,)
        Batch sizes to profile; positive.

    Returns
    -------
    ProfileDB
        One analytic entry per model, fitting config and batch size.

    Raises
    ------
    InfeasibleError
        If a model has no config that fits.
    SpecError
        If a size is not positive or a given config cannot run its model.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> from alpaserve.model_presets import model_preset
    >>> db = analytic_profiles(models=[model_preset("bert-6.7b")], cluster=homogeneous_cluster(4))
    >>> sorted(c.key for c in db.configs("bert-6.7b"))
    ['pp1-tp2', 'pp1-tp4', 'pp2-tp1', 'pp2-tp2', 'pp4-tp1']
    """
    positive_int("analytic_profiles", "max_group_size", max_group_size)
    for b in batch_sizes:
        positive_int("analytic_profiles", "batch_sizes", b)
    size = min(max_group_size, cluster.num_devices)
    db = ProfileDB()
    for model in models:
        chosen = (configs or {}).get(model.name)
        candidates = list(chosen) if chosen is not None else uniform_configs(model, size)
        skipped = 0
        for config in candidates:
            for b in batch_sizes:
                if not fits(model=model, config=config, device=cluster.device, batch_size=b):
                    skipped += 1
                    continue
                db.add(profile_entry(model=model, config=config, cluster=cluster, batch_size=b))
        if skipped:
            logger.info("skipped %d of %d (config, batch size) pairs of %s that exceed the "
                        "%.1f GB usable on %s", skipped, len(candidates) * len(batch_sizes),
                        model.name, cluster.device.usable_memory_bytes / 1e9, cluster.device.name)
        if not db.configs(model.name):
            raise InfeasibleError(_no_fit_message(model, cluster.device, size)
                                  + f" at batch sizes {list(batch_sizes)}")
    return db
