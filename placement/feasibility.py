"""Whether a problem's models fit its cluster at all, and analytic profiles when none are given.

:func:`check_feasible` raises ``InfeasibleError`` naming each model that fits no group of the
cluster (with the profile's weights where it has entries, the analytic model's otherwise);
:func:`build_profiles` computes analytic profiles once per distinct model shape.
:mod:`placement.problem` re-exports both.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import asdict

from alpaserve.cluster_spec import ClusterSpec
from alpaserve.errors import InfeasibleError, SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles import ProfileDB, ProfileEntry

__all__ = ["build_profiles", "check_feasible", "min_weight_per_device"]


def _shape_key(model: ModelSpec) -> tuple:
    data = asdict(model)
    data.pop("name")
    return tuple(sorted(data.items()))


def build_profiles(models: Sequence[ModelSpec], cluster: ClusterSpec, *,
                   max_group_size: int, batch_sizes: Sequence[int] = (1,)) -> ProfileDB:
    """Analytic profiles of ``models``, computed once per distinct model shape.

    Copies of one architecture (``bert-1.3b#0``, ``#1``, ...) share their entries, renamed.

    Parameters
    ----------
    models : Sequence[ModelSpec]
        The models to profile.
    cluster : ClusterSpec
        The devices (their type sets the costs).
    max_group_size : int
        Largest group size to profile, capped at the cluster's device count.
    batch_sizes : sequence of int, default (1,)
        Batch sizes to profile (the simulator batches with the sizes profiled).

    Returns
    -------
    ProfileDB
        Analytic entries (see :func:`alpaserve.cost.model.analytic_profiles`).

    Examples
    --------
    >>> from placement._examples import tiny_cluster, tiny_model
    >>> db = build_profiles([tiny_model("a"), tiny_model("b")], tiny_cluster(2),
    ...                     max_group_size=2)
    >>> sorted(db.models()), len(db.configs("a")) == len(db.configs("b"))
    (['a', 'b'], True)
    """
    from alpaserve.cost.model import analytic_profiles

    by_shape: dict[tuple, list[ModelSpec]] = {}
    for m in models:
        by_shape.setdefault(_shape_key(m), []).append(m)
    db = ProfileDB()
    size = min(max_group_size, cluster.num_devices)
    for group in by_shape.values():
        base = analytic_profiles(models=[group[0]], cluster=cluster, max_group_size=size,
                                 batch_sizes=batch_sizes)
        for m in group:
            for e in base:
                db.add(ProfileEntry(**{**_entry_fields(e), "model": m.name}))
    return db


def _entry_fields(e: ProfileEntry) -> dict:
    return {"model": e.model, "config": e.config, "batch_size": e.batch_size,
            "stage_latencies": e.stage_latencies, "stage_weight_bytes": e.stage_weight_bytes,
            "stage_peak_memory_bytes": e.stage_peak_memory_bytes, "source": e.source,
            "latency_std": e.latency_std, "tflops": e.tflops}


def min_weight_per_device(model: ModelSpec, cluster: ClusterSpec) -> int:
    """Fewest weight bytes per device ``model`` can need on this cluster.

    Tried are uniform configs on the largest power-of-two group the cluster holds whose
    tensor stages stay within a node (pipeline across nodes).

    Parameters
    ----------
    model : ModelSpec
        The model.
    cluster : ClusterSpec
        The devices.

    Returns
    -------
    int
        Bytes of the heaviest stage in the best config; the whole model's weight bytes
        when no config is admissible.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> from alpaserve.model_spec import model_preset
    >>> bert = model_preset("bert-1.3b")
    >>> min_weight_per_device(bert, homogeneous_cluster(2)) < bert.weight_bytes
    True
    """
    size = 1 << (cluster.num_devices.bit_length() - 1)
    best = math.inf
    t = 1
    while t <= min(size, cluster.devices_per_node):
        p = size // t
        if size % t == 0 and p <= model.num_layers \
                and model.num_heads % t == 0 and model.ffn_size % t == 0:
            cfg = ParallelConfig.uniform(num_layers=model.num_layers, pipeline_degree=p,
                                         tensor_degree=t)
            best = min(best, max(cfg.stage_weight_bytes(model)))
        t *= 2
    if best is math.inf:  # no admissible config at all: the weights must fit one device
        best = model.weight_bytes
    return int(best)


def check_feasible(models: Sequence[ModelSpec], cluster: ClusterSpec,
                   profiles: ProfileDB | None = None) -> None:
    """Raise ``InfeasibleError`` naming every model that fits no group of ``cluster``.

    A model with profile entries needs the fewest weight bytes per device (the entries' own
    weights) of any profiled config that the cluster has devices for; a model without
    entries needs the analytic :func:`min_weight_per_device`.

    Parameters
    ----------
    models : Sequence[ModelSpec]
        The models, with distinct names.
    cluster : ClusterSpec
        The cluster; its device's usable memory is the budget.
    profiles : ProfileDB, optional
        Profiles whose weights are the truth where they exist.

    Raises
    ------
    SpecError
        If two models share a name.
    InfeasibleError
        If any model fits no group, naming each with the memory it is short.

    Returns
    -------
    None

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> from alpaserve.model_spec import model_preset
    >>> check_feasible([model_preset("bert-1.3b")], homogeneous_cluster(1))
    >>> check_feasible([model_preset("bert-103.5b")], homogeneous_cluster(4))
    Traceback (most recent call last):
    alpaserve.errors.InfeasibleError: 1 model(s) fit no group of the 4 v100-16gb devices ...
    """
    names = [m.name for m in models]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SpecError(f"model names must be distinct, got duplicates {dup}")
    cap = cluster.device.usable_memory_bytes
    short = []
    for m in models:
        source = "analytic"
        need = None if profiles is None else _lightest_profiled(profiles, m.name,
                                                                cluster.num_devices)
        if need is not None:
            source = "profiled"
        else:
            need = min_weight_per_device(m, cluster)
        if need > cap:
            short.append(f"{m.name!r} needs {need / 1e9:.2f} GB per device ({source}), "
                         f"{(need - cap) / 1e9:.2f} GB short")
    if short:
        raise InfeasibleError(f"{len(short)} model(s) fit no group of the {cluster.num_devices} "
                              f"{cluster.device.name} devices ({cap / 1e9:.2f} GB usable each): "
                              + "; ".join(short))


def _lightest_profiled(db: ProfileDB, model: str, num_devices: int) -> int | None:
    """Fewest bytes on the fullest device of any ``model`` entry (any batch size) whose
    config needs at most ``num_devices`` devices; None when there is none."""

    def build() -> tuple[tuple[int, ...], tuple[int, ...]]:
        lightest: dict[int, int] = {}
        for e in db.entries(model):
            n, w = e.config.num_devices, max(e.stage_weight_bytes)
            lightest[n] = min(lightest.get(n, w), w)
        sizes = sorted(lightest)
        running, prefix = None, []
        for n in sizes:  # the lightest of every config on at most n devices
            running = lightest[n] if running is None else min(running, lightest[n])
            prefix.append(running)
        return tuple(sizes), tuple(prefix)

    sizes, prefix = db.derived(("lightest-by-devices", model), build)
    i = bisect.bisect_right(sizes, num_devices)
    return prefix[i - 1] if i else None
