"""A placement problem: models, cluster, profiles, SLOs and a prepared training workload.

Also the checks every policy shares: models that fit no group of the cluster raise
``InfeasibleError`` (naming each model and the memory it is short), and SLOs below a model's
fastest possible latency are reported per model.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property, partial

import numpy as np

from alpaserve.cluster_spec import ClusterSpec
from alpaserve.errors import InfeasibleError, SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles import ProfileDB, ProfileEntry
from placement.config_select import ShapeRowCache
from placement.evaluator import EvalOptions, EvalWorkload
from placement.partitions import GroupShape
from placement.space import SearchSpace, ShapeRows

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, eq=False)
class Problem:
    """Everything a placement policy needs; ``train`` indexes models as ``models`` does.

    Parameters
    ----------
    models : tuple of ModelSpec
        The models to place, distinct names.
    cluster : ClusterSpec
        The devices.
    profiles : ProfileDB
        Stage latencies and memory of every (model, parallel configuration, batch size).
    slo : Mapping[str, float]
        SLO in seconds per model name.
    train : EvalWorkload
        The workload the search scores with, prepared for ``models`` in order.
    options : EvalOptions
        How the search simulates.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> p = tiny_problem(num_models=2)
    >>> p.model_names, dict(p.slo)
    (('m0', 'm1'), {'m0': 0.3, 'm1': 0.3})
    """

    models: tuple[ModelSpec, ...]
    cluster: ClusterSpec
    profiles: ProfileDB
    slo: Mapping[str, float]
    train: EvalWorkload
    options: EvalOptions

    @cached_property
    def row_cache(self) -> ShapeRowCache:
        """Each group shape's config selection for all models, made once per class of equal
        models (a search builds a space per layout and bucket, and layouts share shapes).

        Kept by the profile database until its next change, keyed on everything the rows
        read besides the entries (the models, their SLOs, the options and the capacity): a
        later plan of the same problem selects nothing again."""
        names = self.model_names
        slo = tuple(self.slo.get(n) for n in names)
        capacity = self.cluster.device.usable_memory_bytes
        return self.profiles.derived(
            ("shape-rows", self.models, slo, self.options, capacity),
            lambda: ShapeRowCache(models=self.models, profiles=self.profiles,
                                  options=self.options,
                                  slo={n: v for n, v in zip(names, slo, strict=True)
                                       if v is not None},
                                  capacity=capacity))

    def can_host(self, groups: Sequence[tuple[Sequence[int], GroupShape]],
                 model_idx: Sequence[int] | None = None) -> bool:
        """Whether any of the models (all, or those at ``model_idx``) fits any group alone:
        :meth:`search_space`'s ``replica_mask().any()``, without building the space.

        Parameters
        ----------
        groups : Sequence of (Sequence[int], GroupShape)
            Each group's device ids and shape.
        model_idx : Sequence[int], optional
            Indices into ``models``; default all.

        Returns
        -------
        bool
            False when no replica can be placed on these groups.

        Examples
        --------
        >>> from placement._examples import tiny_problem
        >>> p = tiny_problem(num_models=2, num_devices=2)
        >>> p.can_host([((0, 1), GroupShape(pipeline=2, tensor=1))], [1])
        True
        """
        cache = self.row_cache
        idx = None if model_idx is None else np.asarray(model_idx, dtype=np.int64)
        for shape in {shape for _, shape in groups}:
            feasible = cache.rows(shape).feasible
            if (feasible if idx is None else feasible[idx]).any():
                return True
        return False

    @property
    def model_names(self) -> tuple[str, ...]:
        """The models' names, in order."""
        return tuple(m.name for m in self.models)

    def search_space(self, groups: Sequence[tuple[Sequence[int], GroupShape]],
                     model_idx: Sequence[int] | None = None) -> SearchSpace:
        """The search space of ``groups`` for all models, or those at ``model_idx``.

        Parameters
        ----------
        groups : Sequence of (Sequence[int], GroupShape)
            Each group's device ids and shape (see :meth:`Layout.groups
            <placement.buckets.Layout.groups>`).
        model_idx : Sequence[int], optional
            Indices into ``models``; default all.

        Returns
        -------
        SearchSpace
            Latencies, memory and feasibility of every (group, model) pair.

        Examples
        --------
        >>> from placement._examples import tiny_problem
        >>> p = tiny_problem(num_models=2, num_devices=2)
        >>> sp = p.search_space([((0, 1), GroupShape(pipeline=2, tensor=1))], [1])
        >>> sp.group_stages, [m.name for m in sp.models]
        ([2], ['m1'])
        """
        if model_idx is not None and list(model_idx) == list(range(len(self.models))):
            model_idx = None  # every model in order: the cached rows as they are
        models = self.models if model_idx is None else [self.models[i] for i in model_idx]

        cache = self.row_cache

        def rows(shape: GroupShape) -> ShapeRows:
            full = cache.rows(shape)
            return full if model_idx is None else full.take(model_idx)

        return SearchSpace.build(cluster=self.cluster, models=models, groups=groups,
                                 profiles=self.profiles, options=self.options, slo=self.slo,
                                 rows=rows)

    def fastest_latency(self) -> dict[str, float]:
        """Per model: the lowest total latency of any profiled config, plus the overhead.

        Returns
        -------
        dict of str to float
            Seconds at batch size 1, stage inflation applied; ``inf`` for an unprofiled
            model.

        Examples
        --------
        >>> from placement._examples import tiny_problem
        >>> round(tiny_problem(num_models=1).fastest_latency()["m0"], 4)  # on 4 devices
        0.0265
        """
        names, db, options = self.model_names, self.profiles, self.options

        def build() -> tuple[float, ...]:
            out = dict.fromkeys(names, math.inf)
            total: dict[tuple[float, ...], float] = {}  # copies share stage latencies
            for name in out:
                for e in db.entries(name, 1):
                    lat = e.stage_latencies
                    if lat not in total:
                        total[lat] = sum(options.inflate(lat))
                    out[name] = min(out[name], total[lat])
            return tuple(v + options.overhead for v in out.values())

        # kept by the database until its next change: plan() asks on every call
        fastest = db.derived(("fastest-latency", names, options), build)
        return dict(zip(names, fastest, strict=True))

    def reference_latency(self) -> dict[str, float]:
        """Per model: the fastest total latency on its smallest profiled group size.

        Returns
        -------
        dict of str to float
            Seconds at batch size 1, without inflation or overhead; ``inf`` for an
            unprofiled model. :func:`~placement.buckets.model_buckets` cuts on these.

        Examples
        --------
        >>> from placement._examples import tiny_problem
        >>> tiny_problem(num_models=1).reference_latency()  # on one device
        {'m0': 0.1}
        """
        db = self.profiles

        out = {}
        for m in self.model_names:
            best = db.derived(("reference-latency", m), partial(_smallest_fastest, db, m))
            out[m] = math.inf if best is None else best[1]
        return out

    def slo_warnings(self) -> dict[str, str]:
        """Models whose SLO is below their fastest possible latency (none can be good).

        Returns
        -------
        dict of str to str
            Per such model name: a message naming both times in ms.

        Examples
        --------
        >>> import dataclasses
        >>> from placement._examples import tiny_problem
        >>> p = tiny_problem(num_models=2)
        >>> p.slo_warnings()
        {}
        >>> list(dataclasses.replace(p, slo={"m0": 0.01, "m1": 0.3}).slo_warnings())
        ['m0']
        """
        out = {}
        for name, fastest in self.fastest_latency().items():
            if self.slo[name] < fastest:
                out[name] = (f"SLO {self.slo[name] * 1e3:.1f} ms is below the fastest possible "
                             f"latency {fastest * 1e3:.1f} ms of {name!r}; no request can meet it")
        return out


def subset_workload(prepared: EvalWorkload, models: Sequence[int]) -> EvalWorkload:
    """Only the requests of ``models`` (indices), re-indexed ``0 .. len(models) - 1``.

    Parameters
    ----------
    prepared : EvalWorkload
        The workload.
    models : Sequence[int]
        Indices into ``prepared.model_names``, distinct; their order is the new one.

    Returns
    -------
    EvalWorkload
        The kept requests, in arrival order, with deadlines unchanged.

    Examples
    --------
    >>> from placement.evaluator import prepare_workload
    >>> from workloads.workload import Workload
    >>> w = prepare_workload(Workload.from_arrays(arrival=[0.0, 1.0, 2.0],
    ...                                           model=["a", "b", "a"]), ["a", "b"], slo=1.0)
    >>> s = subset_workload(w, [1])
    >>> s.model_names, s.arrival.tolist(), s.code.tolist()
    (('b',), [1.0], [0])
    """
    idx = np.asarray(models, dtype=np.int64)
    remap = np.full(len(prepared.model_names), -1, dtype=np.int32)
    remap[idx] = np.arange(idx.size, dtype=np.int32)
    keep = remap[prepared.code] >= 0
    return EvalWorkload(
        model_names=tuple(prepared.model_names[i] for i in idx),
        arrival=np.ascontiguousarray(prepared.arrival[keep]),
        code=np.ascontiguousarray(remap[prepared.code[keep]]),
        slo=np.ascontiguousarray(prepared.slo[keep]),
        deadline=np.ascontiguousarray(prepared.deadline[keep]),
        counts=prepared.counts[idx].copy())


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


def _smallest_fastest(db: ProfileDB, model: str) -> tuple[int, float] | None:
    """(devices, total latency) of ``model``'s smallest, then fastest, batch-1 entry."""
    return min(((e.config.num_devices, e.total_latency) for e in db.entries(model, 1)),
               default=None)


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


def log_slo_warnings(warnings: Mapping[str, str]) -> None:
    """Log each message of :meth:`Problem.slo_warnings` as a warning.

    Parameters
    ----------
    warnings : Mapping[str, str]
        Model name to message.

    Examples
    --------
    >>> log_slo_warnings({})  # logs nothing
    """
    for text in warnings.values():
        logger.warning(text)
