"""Which profiled config a model runs with on groups of one pipeline × tensor shape.

:func:`select_entry` picks one model's config on one shape; :func:`shape_rows` does it for
every model of a problem at once (copies of one model share the choice) and lays out the
result as :class:`ShapeRows`, which :class:`~placement.space.SearchSpace` stacks per shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles import ProfileDB, ProfileEntry
from placement.eval_inputs import EvalOptions
from placement.partitions import GroupShape


def _arch(model: ModelSpec) -> tuple:
    """A model's shape without its name (copies of one architecture share it)."""
    return (model.family, model.num_layers, model.hidden_size, model.num_heads,
            model.ffn_size, model.vocab_size, model.seq_len, model.dtype_bytes,
            model.num_experts, model.expert_interval, model.top_k)


def select_entry(profiles: ProfileDB | Sequence[ProfileEntry], model: ModelSpec,
                 shape: GroupShape, slo: float | None = None,
                 weights: Mapping[ParallelConfig, tuple[int, ...]] | None = None
                 ) -> ProfileEntry | None:
    """The best profiled config of ``model`` for groups of ``shape`` (or None).

    ``profiles`` is the database or just ``model``'s entries. Memory is ``weights[config]``
    when given, else the database's (the profile's, the analytic model's without an entry),
    else the analytic model's. Among batch-size-1 entries with
    ``shape.pipeline`` stages of ``shape.tensor`` devices, it prefers a total latency within
    ``slo``, then the fastest slowest stage (throughput), then the lowest total latency, then
    the least memory on the fullest device.

    Parameters
    ----------
    profiles : ProfileDB or Sequence[ProfileEntry]
        Where to look.
    model : ModelSpec
        The model.
    shape : GroupShape
        The group shape the config must match.
    slo : float, optional
        The model's SLO in seconds; None: no preference for configs within it.
    weights : Mapping[ParallelConfig, tuple of int], optional
        Weight bytes per device of each stage, per config, when already computed.

    Returns
    -------
    ProfileEntry or None
        The chosen batch-size-1 entry; None when no entry matches the shape.

    Examples
    --------
    >>> from placement._examples import tiny_model, tiny_profiles
    >>> m = tiny_model("a")
    >>> e = select_entry(tiny_profiles([m]), m, GroupShape(pipeline=2, tensor=1))
    >>> e.config.pipeline_degree
    2
    """
    db = profiles if isinstance(profiles, ProfileDB) else None
    best: tuple[tuple[float, ...], ProfileEntry] | None = None
    for entry in profiles if db is None else db.entries(model.name, 1):
        config = entry.config
        if entry.model != model.name or entry.batch_size != 1 \
                or config.pipeline_degree != shape.pipeline \
                or any(t != shape.tensor for t in config.tensor_degrees):
            continue
        if weights is not None and config in weights:
            mem = weights[config]
        elif db is None:
            mem = config.stage_weight_bytes(model)
        else:
            mem = db.stage_weights(model, config)[0]
        late = 1.0 if slo is not None and entry.total_latency > slo else 0.0
        key = (late, round(entry.max_stage_latency, 12), round(entry.total_latency, 12),
               float(max(mem)))
        if best is None or key < best[0]:
            best = (key, entry)
    return None if best is None else best[1]


@dataclass(frozen=True, kw_only=True, eq=False)
class ShapeRows:
    """Per model, on groups of one shape: the config, inflated latencies and memory.

    ``latency`` and ``memory`` are ``[model, stage]``; a model without a config has
    ``configs[m] is None``, zeros and ``feasible[m]`` False.

    Parameters
    ----------
    configs : tuple of ParallelConfig or None
        The config chosen for each model on this shape (None when it fits no config).
    latency : numpy.ndarray of float64
        ``[model, stage]`` inflated stage latencies, seconds.
    memory : numpy.ndarray of int64
        ``[model, stage]`` weight bytes per device (the profile's where it has an entry).
    feasible : numpy.ndarray of bool
        Per model: whether a config fits.
    """

    configs: tuple[ParallelConfig | None, ...]
    latency: npt.NDArray[np.float64]
    memory: npt.NDArray[np.int64]
    feasible: npt.NDArray[np.bool_]

    def take(self, idx: Sequence[int]) -> ShapeRows:
        """The rows of the models at ``idx``.

        Parameters
        ----------
        idx : sequence of int
            Model indices.

        Returns
        -------
        ShapeRows
            Those models' rows, in ``idx`` order.
        """
        i = np.asarray(idx, dtype=np.int64)
        return ShapeRows(configs=tuple(self.configs[k] for k in idx), latency=self.latency[i],
                         memory=self.memory[i], feasible=self.feasible[i])


def shape_rows(*, models: Sequence[ModelSpec], shape: GroupShape, profiles: ProfileDB,
               options: EvalOptions, slo: Mapping[str, float] | None, capacity: int
               ) -> ShapeRows:
    """Select every model's config on groups of ``shape`` (:func:`select_entry`).

    Memory comes from the profile entry when there is one (the analytic model only
    otherwise). Models whose batch-1 entries, SLO and architecture are all equal (copies
    of one model) share one selection. A caller that needs many shapes keeps a
    :class:`ShapeRowCache` instead.

    Parameters
    ----------
    models
        The models.
    shape
        Pipeline × tensor shape of the groups.
    profiles
        The profile database.
    options
        Latency inflation of the search.
    slo
        Per-model SLOs (seconds), or None.
    capacity
        Usable bytes per device.

    Returns
    -------
    ShapeRows
        One row per model.

    Examples
    --------
    >>> from placement._examples import tiny_model, tiny_profiles
    >>> from placement.partitions import GroupShape
    >>> ms = [tiny_model("a"), tiny_model("b")]
    >>> r = shape_rows(models=ms, shape=GroupShape(pipeline=2, tensor=1),
    ...                profiles=tiny_profiles(ms), options=EvalOptions(), slo=None,
    ...                capacity=10**9)
    >>> [c.pipeline_degree for c in r.configs], r.feasible.tolist()
    ([2, 2], [True, True])
    """
    return ShapeRowCache(models=models, profiles=profiles, options=options, slo=slo,
                         capacity=capacity).rows(shape)


#: one class of models: a representative, its SLO, and its batch-1 entries with their
#: weights keyed by (pipeline degree, tensor degree of every stage)
_Class = tuple[ModelSpec, float | None,
               dict[tuple[int, int], list[tuple[ProfileEntry, tuple[int, ...]]]]]


class ShapeRowCache:
    """:func:`shape_rows` of one problem's models, memoised per shape (one plan's cache).

    The models are first grouped, once, into classes whose architecture, SLO and batch-1
    entries (config, stage latencies and weights, in order) are all equal: copies of one
    model. A shape's configs are then selected once per class, with the entries of that
    shape looked up rather than filtered, and every member gets its class's row; the result
    is :func:`select_entry`'s choice for each model.

    Parameters
    ----------
    models : Sequence[ModelSpec]
        The models (row ``m`` is ``models[m]``).
    profiles : ProfileDB
        The profile database.
    options : EvalOptions
        Latency inflation of the search.
    slo : Mapping[str, float], optional
        Per-model SLOs (seconds).
    capacity : int
        Usable bytes per device.

    Examples
    --------
    >>> from placement._examples import tiny_model, tiny_profiles
    >>> from placement.partitions import GroupShape
    >>> ms = [tiny_model("a"), tiny_model("b")]
    >>> cache = ShapeRowCache(models=ms, profiles=tiny_profiles(ms), options=EvalOptions(),
    ...                       slo=None, capacity=10**9)
    >>> shape = GroupShape(pipeline=2, tensor=1)
    >>> cache.rows(shape) is cache.rows(shape), cache.num_classes
    (True, 1)
    """

    def __init__(self, *, models: Sequence[ModelSpec], profiles: ProfileDB,
                 options: EvalOptions, slo: Mapping[str, float] | None,
                 capacity: int) -> None:
        self._models = tuple(models)
        self._profiles = profiles
        self._options = options
        self._slo = slo
        self._capacity = capacity
        self._rows: dict[GroupShape, ShapeRows] = {}
        self._classes: list[tuple[_Class, npt.NDArray[np.int64]]] | None = None

    @property
    def num_classes(self) -> int:
        """Distinct classes of models (each selects its configs once per shape)."""
        return len(self._grouped())

    def _grouped(self) -> list[tuple[_Class, npt.NDArray[np.int64]]]:
        if self._classes is None:
            index: dict[tuple, int] = {}
            reps: list[_Class] = []
            members: list[list[int]] = []
            for m, model in enumerate(self._models):
                own = self._profiles.entries(model.name, 1)
                weights = [self._profiles.stage_weights(model, e.config)[0] for e in own]
                limit = None if self._slo is None else self._slo.get(model.name)
                key = (_arch(model), limit, tuple((e.config, e.stage_latencies, w)
                                                  for e, w in zip(own, weights, strict=True)))
                k = index.setdefault(key, len(reps))
                if k == len(reps):
                    by_shape: dict[tuple[int, int], list[tuple[ProfileEntry,
                                                              tuple[int, ...]]]] = {}
                    for e, w in zip(own, weights, strict=True):
                        tensor = e.config.tensor_degrees
                        if all(t == tensor[0] for t in tensor):
                            by_shape.setdefault((len(tensor), tensor[0]), []).append((e, w))
                    reps.append((model, limit, by_shape))
                    members.append([])
                members[k].append(m)
            self._classes = [(c, np.array(i, dtype=np.int64))
                             for c, i in zip(reps, members, strict=True)]
        return self._classes

    def rows(self, shape: GroupShape) -> ShapeRows:
        """Every model's config, inflated latencies and memory on groups of ``shape``.

        Parameters
        ----------
        shape : GroupShape
            Pipeline × tensor shape of the groups.

        Returns
        -------
        ShapeRows
            One row per model (the same object for the same shape).
        """
        if shape in self._rows:
            return self._rows[shape]
        n_m, p = len(self._models), shape.pipeline
        latency = np.zeros((n_m, p))
        memory = np.zeros((n_m, p), dtype=np.int64)
        feasible = np.zeros(n_m, dtype=bool)
        configs: list[ParallelConfig | None] = [None] * n_m
        for (model, limit, by_shape), idx in self._grouped():
            own = by_shape.get((p, shape.tensor), [])
            entry = select_entry([e for e, _ in own], model, shape, limit,
                                 {e.config: w for e, w in own})
            if entry is None:
                continue
            mem = next(w for e, w in own if e is entry)
            latency[idx] = self._options.inflate(entry.stage_latencies)
            memory[idx] = mem
            feasible[idx] = max(mem) <= self._capacity
            for m in idx.tolist():
                configs[m] = entry.config
        out = ShapeRows(configs=tuple(configs), latency=latency, memory=memory,
                        feasible=feasible)
        self._rows[shape] = out
        return out
