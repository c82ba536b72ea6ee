"""The search space of one placement problem, and the mutable assignment a search edits.

A :class:`SearchSpace` fixes the device groups (their devices and pipeline × tensor shape)
and, for every (shape, model), the config chosen from the profile database with its stage
latencies and the weight bytes it puts on each device of each stage. An
:class:`Assignment` says which group hosts which model; it tracks memory as it changes and
turns into the evaluator's arrays or into a validated :class:`~alpaserve.Placement`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from alpaserve.cluster_spec import ClusterSpec
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig
from alpaserve.placement_spec import Group, Placement
from alpaserve.profiles import ProfileDB, ProfileEntry
from placement.evaluator import EvalOptions, ReplicaArrays
from placement.partitions import GroupShape, stage_meshes


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
    of one model) share one selection.

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
    n_m, p = len(models), shape.pipeline
    latency = np.zeros((n_m, p))
    memory = np.zeros((n_m, p), dtype=np.int64)
    feasible = np.zeros(n_m, dtype=bool)
    configs: list[ParallelConfig | None] = []
    chosen: dict[tuple, tuple[ProfileEntry, tuple[int, ...]] | None] = {}
    for m, model in enumerate(models):
        own = [e for e in profiles.entries(model.name, 1)
               if e.config.pipeline_degree == p
               and all(t == shape.tensor for t in e.config.tensor_degrees)]
        weights = {e.config: profiles.stage_weights(model, e.config)[0] for e in own}
        limit = None if slo is None else slo.get(model.name)
        key = (_arch(model), limit,
               tuple((e.config, e.stage_latencies, weights[e.config]) for e in own))
        if key not in chosen:
            entry = select_entry(own, model, shape, limit, weights)
            chosen[key] = None if entry is None else (entry, weights[entry.config])
        pick = chosen[key]
        if pick is None:
            configs.append(None)
            continue
        entry, mem = pick
        configs.append(entry.config)
        latency[m] = options.inflate(entry.stage_latencies)
        memory[m] = mem
        feasible[m] = max(mem) <= capacity
    return ShapeRows(configs=tuple(configs), latency=latency, memory=memory,
                     feasible=feasible)


@dataclass(frozen=True, kw_only=True, eq=False)
class SearchSpace:
    """Groups with shapes, and per (shape, model) the config, latencies and memory.

    ``latency[s, m, k]`` is stage ``k``'s latency of model ``m`` on shape ``s`` (inflated by
    the evaluation options), ``memory[s, m, k]`` its weight bytes per device of stage ``k``;
    ``feasible[s, m]`` is False when no config exists or it alone exceeds device memory.
    Build one with :meth:`build` (or :meth:`Problem.search_space
    <placement.problem.Problem.search_space>`).

    Parameters
    ----------
    cluster : ClusterSpec
        The devices.
    models : tuple of ModelSpec
        The models (index ``m``).
    group_devices : tuple of tuple of int
        Each group's device ids (index ``g``).
    group_shape : numpy.ndarray of int64, shape (G,)
        Each group's index into ``shapes``.
    shapes : tuple of GroupShape
        The distinct group shapes (index ``s``).
    configs : tuple of tuple of (ParallelConfig or None)
        ``configs[s][m]``: the chosen config, None when none is profiled.
    latency : numpy.ndarray of float64, shape (len(shapes), M, S)
        Stage latencies in seconds, zero-padded.
    memory : numpy.ndarray of int64, shape (len(shapes), M, S)
        Weight bytes per device of each stage, zero-padded.
    feasible : numpy.ndarray of bool, shape (len(shapes), M)
        Whether model ``m`` can run on shape ``s`` alone.
    capacity : int
        Usable memory bytes of one device.
    profiles : ProfileDB, optional
        The profiles the space was built from (their weights are its memory).

    Examples
    --------
    See :meth:`build`.
    """

    cluster: ClusterSpec
    models: tuple[ModelSpec, ...]
    group_devices: tuple[tuple[int, ...], ...]
    group_shape: npt.NDArray[np.int64]
    shapes: tuple[GroupShape, ...]
    configs: tuple[tuple[ParallelConfig | None, ...], ...]
    latency: npt.NDArray[np.float64]
    memory: npt.NDArray[np.int64]
    feasible: npt.NDArray[np.bool_]
    capacity: int
    #: the weights' source (profile entries, the analytic model without one); placements
    #: built from this space are validated with it
    profiles: ProfileDB | None = None

    @classmethod
    def build(cls, *, cluster: ClusterSpec, models: Sequence[ModelSpec],
              groups: Sequence[tuple[Sequence[int], GroupShape]], profiles: ProfileDB,
              options: EvalOptions | None = None,
              slo: Mapping[str, float] | None = None,
              rows: Callable[[GroupShape], ShapeRows] | None = None) -> SearchSpace:
        """Choose every (shape, model)'s config with :func:`select_entry` and lay it out.

        Parameters
        ----------
        cluster : ClusterSpec
            The devices.
        models : Sequence[ModelSpec]
            The models.
        groups : Sequence of (Sequence[int], GroupShape)
            Each group's device ids and shape (at least one group).
        profiles : ProfileDB
            Profiled configs of the models.
        options : EvalOptions, optional
            Its stage inflation is applied to the latencies; default ``EvalOptions()``.
        slo : Mapping[str, float], optional
            SLO in seconds per model name, preferred by :func:`select_entry`.
        rows : callable, optional
            Each shape's :class:`ShapeRows` for exactly ``models``, so that a caller that
            builds many spaces (one per layout) selects configs once per shape; without it
            they are selected here with :func:`shape_rows`.

        Returns
        -------
        SearchSpace
            The space.

        Raises
        ------
        SpecError
            If a group's stage would span nodes.

        Examples
        --------
        >>> from placement._examples import tiny_cluster, tiny_model, tiny_profiles
        >>> m = tiny_model("a")
        >>> sp = SearchSpace.build(cluster=tiny_cluster(2), models=[m],
        ...                        groups=[((0, 1), GroupShape(pipeline=2, tensor=1))],
        ...                        profiles=tiny_profiles([m]))
        >>> sp.group_stages, sp.feasible.tolist()
        ([2], [[True]])
        """
        opts = options or EvalOptions()
        capacity = cluster.device.usable_memory_bytes
        shapes: list[GroupShape] = []
        for _, shape in groups:
            if shape not in shapes:
                shapes.append(shape)
        if rows is None:
            def rows(shape: GroupShape) -> ShapeRows:
                return shape_rows(models=models, shape=shape, profiles=profiles, options=opts,
                                  slo=slo, capacity=capacity)
        smax = max(s.pipeline for s in shapes)
        n_m = len(models)
        latency = np.zeros((len(shapes), n_m, smax))
        memory = np.zeros((len(shapes), n_m, smax), dtype=np.int64)
        feasible = np.zeros((len(shapes), n_m), dtype=bool)
        configs: list[tuple[ParallelConfig | None, ...]] = []
        for s, shape in enumerate(shapes):
            r = rows(shape)
            latency[s, :, :shape.pipeline] = r.latency
            memory[s, :, :shape.pipeline] = r.memory
            feasible[s] = r.feasible
            configs.append(r.configs)
        for devices, shape in groups:
            stage_meshes(cluster, devices, shape)  # raises when a stage spans nodes
        return cls(cluster=cluster, models=tuple(models),
                   group_devices=tuple(tuple(d) for d, _ in groups),
                   group_shape=np.array([shapes.index(s) for _, s in groups], dtype=np.int64),
                   shapes=tuple(shapes), configs=tuple(configs), latency=latency,
                   memory=memory, feasible=feasible, capacity=int(capacity),
                   profiles=profiles)

    @property
    def num_groups(self) -> int:
        """Number of groups, ``G``."""
        return len(self.group_devices)

    @property
    def num_models(self) -> int:
        """Number of models, ``M``."""
        return len(self.models)

    @property
    def group_stages(self) -> list[int]:
        """Stages of each group, as :class:`~placement.evaluator.Evaluator` takes them."""
        return [self.shapes[s].pipeline for s in self.group_shape]

    @cached_property
    def bottleneck(self) -> npt.NDArray[np.float64]:
        """``[g, m]``: the slowest stage of model ``m`` on group ``g`` (computed once)."""
        return self.latency[self.group_shape].max(axis=2)

    def latencies(self, group: int, model: int) -> tuple[float, ...]:
        """The stage latencies of ``model`` on ``group``.

        Parameters
        ----------
        group, model : int
            Group and model index.

        Returns
        -------
        tuple of float
            Seconds, one per stage of the group (zeros when infeasible).

        Examples
        --------
        >>> from placement._examples import tiny_problem
        >>> from placement.selective_replication import sr_space
        >>> sp = sr_space(tiny_problem(num_models=2, num_devices=2))
        >>> sp.latencies(0, 1)
        (0.1,)
        """
        s = int(self.group_shape[group])
        return tuple(float(x) for x in self.latency[s, model, :self.shapes[s].pipeline])

    def replica_mask(self) -> npt.NDArray[np.bool_]:
        """``[g, m]``: whether model ``m`` can run on group ``g`` at all.

        Returns
        -------
        numpy.ndarray of bool, shape (G, M)
            ``feasible`` looked up by each group's shape.

        Examples
        --------
        >>> from placement._examples import tiny_problem
        >>> from placement.selective_replication import sr_space
        >>> sp = sr_space(tiny_problem(num_models=2, num_devices=2))
        >>> sp.replica_mask().tolist()
        [[True, True], [True, True]]
        """
        return self.feasible[self.group_shape]

    def empty(self) -> Assignment:
        """An assignment with no replica.

        Returns
        -------
        Assignment
            A new, empty assignment on this space.

        Examples
        --------
        >>> from placement._examples import tiny_problem
        >>> from placement.selective_replication import sr_space
        >>> sp = sr_space(tiny_problem(num_models=2, num_devices=2))
        >>> sp.empty().num_replicas
        0
        """
        return Assignment(self)


class Assignment:
    """Which models each group hosts (``hosts[g, m]``), with the memory used per stage.

    Internal, mutable bookkeeping of a search; :meth:`copy` before branching.

    Parameters
    ----------
    space : SearchSpace
        The groups and models.
    hosts : numpy.ndarray of bool, shape (G, M), optional
        Initial replicas (copied); default none.

    Attributes
    ----------
    hosts : numpy.ndarray of bool, shape (G, M)
        Whether group ``g`` hosts model ``m``.
    used : numpy.ndarray of int64, shape (G, S)
        Weight bytes per device of each stage of each group.

    Examples
    --------
    >>> from placement._examples import tiny_problem
    >>> from placement.selective_replication import sr_space
    >>> a = sr_space(tiny_problem(num_models=2, num_devices=2)).empty()
    >>> a.add(0, 1); a.num_replicas, a.fits(0, 1), a.replica_counts().tolist()
    (1, False, [0, 1])
    """

    def __init__(self, space: SearchSpace, hosts: npt.NDArray[np.bool_] | None = None) -> None:
        self.space = space
        self.hosts = np.zeros((space.num_groups, space.num_models), dtype=bool) \
            if hosts is None else hosts.copy()
        mem = space.memory[space.group_shape]  # [g, m, k]
        self._mem = mem
        self.used = np.einsum("gm,gmk->gk", self.hosts.astype(np.int64), mem)
        self._allowed = space.replica_mask()

    def copy(self) -> Assignment:
        """An independent copy.

        Returns
        -------
        Assignment
            Same space, its own ``hosts`` and ``used``.

        Examples
        --------
        >>> from placement._examples import tiny_problem
        >>> from placement.selective_replication import sr_space
        >>> sp = sr_space(tiny_problem(num_models=2, num_devices=2))
        >>> a = sp.empty(); b = a.copy(); b.add(0, 0)
        >>> a.num_replicas, b.num_replicas
        (0, 1)
        """
        return Assignment(self.space, self.hosts)

    def key(self) -> bytes:
        """A hashable fingerprint of ``hosts``.

        Returns
        -------
        bytes
            Equal for assignments with the same replicas on the same space.

        Examples
        --------
        >>> from placement._examples import tiny_problem
        >>> from placement.selective_replication import sr_space
        >>> sp = sr_space(tiny_problem(num_models=2, num_devices=2))
        >>> a, b = sp.empty(), sp.empty()
        >>> a.add(1, 0); b.add(1, 0)
        >>> a.key() == b.key(), a.key() == sp.empty().key()
        (True, False)
        """
        return np.packbits(self.hosts).tobytes()

    # ------------------------------------------------------------------ memory
    def fits(self, group: int, model: int, *, removing: int = -1) -> bool:
        """Whether ``model`` can be added to ``group`` now.

        Parameters
        ----------
        group, model : int
            Group and model index.
        removing : int, default -1
            A model of the group to count as removed first (a swap); -1 for none.

        Returns
        -------
        bool
            True when the model may run on the group, is not hosted there yet and its
            weights fit every stage's free memory.

        Examples
        --------
        >>> from placement._examples import tiny_problem
        >>> from placement.selective_replication import sr_space
        >>> a = sr_space(tiny_problem(num_models=3, num_devices=1)).empty()
        >>> a.add(0, 0); a.add(0, 1)  # a device holds 2.5 models' weights
        >>> a.fits(0, 2), a.fits(0, 2, removing=1)
        (False, True)
        """
        if not self._allowed[group, model] or self.hosts[group, model]:
            return False
        used = self.used[group] + self._mem[group, model]
        if removing >= 0:
            used = used - self._mem[group, removing]
        return bool(np.all(used <= self.space.capacity))

    def fit_matrix(self) -> npt.NDArray[np.bool_]:
        """``[g, m]``: whether adding model ``m`` to group ``g`` is possible now.

        Returns
        -------
        numpy.ndarray of bool, shape (G, M)
            :meth:`fits` of every pair, without removals.

        Examples
        --------
        >>> from placement._examples import tiny_problem
        >>> from placement.selective_replication import sr_space
        >>> sp = sr_space(tiny_problem(num_models=2, num_devices=2))
        >>> a = sp.empty(); a.add(0, 0)
        >>> a.fit_matrix().tolist()
        [[False, True], [True, True]]
        """
        room = self.space.capacity - self.used  # [g, k]
        ok = self._allowed & ~self.hosts
        for k in range(room.shape[1]):  # stage by stage: faster than all() over a short axis
            ok &= self._mem[:, :, k] <= room[:, None, k]
        return ok

    def fit_row(self, group: int) -> npt.NDArray[np.bool_]:
        """Row ``group`` of :meth:`fit_matrix` (all that one add or remove changes).

        Parameters
        ----------
        group : int
            Group index.

        Returns
        -------
        numpy.ndarray of bool
            Per model: whether one more replica fits on ``group``.
        """
        room = self.space.capacity - self.used[group]  # [k]
        mem = self._mem[group]
        ok = self._allowed[group] & ~self.hosts[group]
        for k in range(room.shape[0]):
            ok &= mem[:, k] <= room[k]
        return ok

    def add(self, group: int, model: int) -> None:
        """Host ``model`` on ``group`` (unchecked: call :meth:`fits` first).

        Parameters
        ----------
        group, model : int
            Group and model index.

        Examples
        --------
        >>> from placement._examples import tiny_problem
        >>> from placement.selective_replication import sr_space
        >>> sp = sr_space(tiny_problem(num_models=2, num_devices=2))
        >>> a = sp.empty(); a.add(1, 0)
        >>> a.hosts.tolist(), int(a.used[1, 0]) == int(sp.memory[0, 0, 0])
        ([[False, False], [True, False]], True)
        """
        self.hosts[group, model] = True
        self.used[group] += self._mem[group, model]

    def remove(self, group: int, model: int) -> None:
        """Drop ``model`` from ``group`` (unchecked: it must be hosted there).

        Parameters
        ----------
        group, model : int
            Group and model index.

        Examples
        --------
        >>> from placement._examples import tiny_problem
        >>> from placement.selective_replication import sr_space
        >>> sp = sr_space(tiny_problem(num_models=2, num_devices=2))
        >>> a = sp.empty(); a.add(1, 0); a.remove(1, 0)
        >>> a.num_replicas, int(a.used.sum())
        (0, 0)
        """
        self.hosts[group, model] = False
        self.used[group] -= self._mem[group, model]

    # ------------------------------------------------------------------ views
    @property
    def num_replicas(self) -> int:
        """Replicas over all groups."""
        return int(self.hosts.sum())

    def replica_counts(self) -> npt.NDArray[np.int64]:
        """Replicas per model.

        Returns
        -------
        numpy.ndarray of int64, shape (M,)
            Groups hosting each model.

        Examples
        --------
        >>> from placement._examples import tiny_problem
        >>> from placement.selective_replication import sr_space
        >>> sp = sr_space(tiny_problem(num_models=2, num_devices=2))
        >>> a = sp.empty(); a.add(0, 1); a.add(1, 1)
        >>> a.replica_counts().tolist()
        [0, 2]
        """
        return self.hosts.sum(axis=0).astype(np.int64)

    def arrays(self) -> ReplicaArrays:
        """Replicas sorted by (model, group), for the evaluator.

        Returns
        -------
        ReplicaArrays
            Always active and ready.

        Examples
        --------
        >>> from placement._examples import tiny_problem
        >>> from placement.selective_replication import sr_space
        >>> sp = sr_space(tiny_problem(num_models=2, num_devices=2))
        >>> a = sp.empty(); a.add(1, 0); a.add(0, 1)
        >>> ra = a.arrays()
        >>> ra.model.tolist(), ra.group.tolist(), ra.latencies.tolist()
        ([0, 1], [1, 0], [[0.1], [0.1]])
        """
        m_idx, g_idx = np.nonzero(self.hosts.T)
        sp = self.space
        lat = sp.latency[sp.group_shape[g_idx], m_idx]
        return ReplicaArrays.build(model=m_idx.astype(np.int64), group=g_idx.astype(np.int64),
                                   latencies=lat, num_models=sp.num_models)

    def to_placement(self, *, all_models: Sequence[ModelSpec] | None = None,
                     group_offset: int = 0) -> Placement:
        """A validated :class:`Placement`; ``all_models`` may list models beyond this space.

        Parameters
        ----------
        all_models : Sequence[ModelSpec], optional
            The placement's models; default the space's.
        group_offset : int, default 0
            Groups are named ``g<offset + index>``.

        Returns
        -------
        Placement
            One group per group of the space, hosting the assigned models' configs.

        Raises
        ------
        SpecError
            If the placement is invalid (e.g. over memory).

        Examples
        --------
        >>> from placement._examples import tiny_problem
        >>> from placement.selective_replication import sr_space
        >>> sp = sr_space(tiny_problem(num_models=2, num_devices=2))
        >>> a = sp.empty(); a.add(0, 1)
        >>> p = a.to_placement(group_offset=3)
        >>> [g.name for g in p.groups], sorted(p.hosted_models)
        (['g3', 'g4'], ['m1'])
        """
        return Placement(cluster=self.space.cluster,
                         models={m.name: m for m in (all_models or self.space.models)},
                         groups=tuple(self.groups(group_offset)),
                         profiles=self.space.profiles)

    def groups(self, offset: int = 0) -> list[Group]:
        """The space's groups with the assigned models.

        Parameters
        ----------
        offset : int, default 0
            Groups are named ``g<offset + index>``.

        Returns
        -------
        list of Group
            One per group of the space (empty groups included).

        Examples
        --------
        >>> from placement._examples import tiny_problem
        >>> from placement.selective_replication import sr_space
        >>> sp = sr_space(tiny_problem(num_models=2, num_devices=2))
        >>> a = sp.empty(); a.add(1, 0)
        >>> [(g.name, sorted(g.models)) for g in a.groups()]
        [('g0', []), ('g1', ['m0'])]
        """
        sp = self.space
        out = []
        for g, devices in enumerate(sp.group_devices):
            s = int(sp.group_shape[g])
            meshes = stage_meshes(sp.cluster, devices, sp.shapes[s])
            hosted = {}
            for m in np.flatnonzero(self.hosts[g]):
                config = sp.configs[s][m]
                if config is not None:
                    hosted[sp.models[m].name] = config
            out.append(Group(name=f"g{g + offset}", stage_meshes=meshes, models=hosted))
        return out
