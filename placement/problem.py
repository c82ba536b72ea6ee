"""A placement problem: models, cluster, profiles, SLOs and a prepared training workload.

Also the checks every policy shares: models that fit no group of the cluster raise
``InfeasibleError`` (naming each model and the memory it is short; with the analytic
profiles, in :mod:`placement.feasibility`, re-exported here), and SLOs below a model's
fastest possible latency are reported per model.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, partial

import numpy as np

from alpaserve.cluster_spec import ClusterSpec
from alpaserve.model_spec import ModelSpec
from alpaserve.profiles import ProfileDB
from placement.config_select import ShapeRowCache
from placement.evaluator import EvalOptions, EvalWorkload
from placement.feasibility import build_profiles, check_feasible, min_weight_per_device
from placement.partitions import GroupShape
from placement.space import SearchSpace, ShapeRows

logger = logging.getLogger(__name__)

__all__ = ["Problem", "build_profiles", "check_feasible", "log_slo_warnings",
           "min_weight_per_device", "subset_workload"]


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


def _smallest_fastest(db: ProfileDB, model: str) -> tuple[int, float] | None:
    """(devices, total latency) of ``model``'s smallest, then fastest, batch-1 entry."""
    return min(((e.config.num_devices, e.total_latency) for e in db.entries(model, 1)),
               default=None)


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
