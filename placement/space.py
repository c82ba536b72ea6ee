"""The search space of one placement problem, and the mutable assignment a search edits.

A :class:`SearchSpace` fixes the device groups (their devices and pipeline × tensor shape)
and, for every (shape, model), the config chosen from the profile database with its stage
latencies and the weight bytes it puts on each device of each stage (chosen in
:mod:`placement.config_select`). An :class:`~placement.assignment.Assignment` (re-exported
here) says which group hosts which model.
"""


from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from alpaserve.cluster_spec import ClusterSpec
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles import ProfileDB
from placement.assignment import Assignment
from placement.config_select import ShapeRows, select_entry, shape_rows
from placement.eval_inputs import EvalOptions
from placement.partitions import GroupShape, check_shape

__all__ = ["Assignment", "SearchSpace", "ShapeRows", "select_entry", "shape_rows"]


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
            check_shape(cluster, devices, shape)  # raises when a stage spans nodes
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

    @cached_property
    def group_latency(self) -> npt.NDArray[np.float64]:
        """``[g, m, k]``: ``latency`` looked up by each group's shape (computed once,
        read-only: every assignment on the space shares it)."""
        return _frozen(self.latency[self.group_shape])

    @cached_property
    def group_memory(self) -> npt.NDArray[np.int64]:
        """``[g, m, k]``: ``memory`` looked up by each group's shape (computed once,
        read-only)."""
        return _frozen(self.memory[self.group_shape])

    @cached_property
    def group_feasible(self) -> npt.NDArray[np.bool_]:
        """``[g, m]``: :meth:`replica_mask`, computed once and read-only."""
        return _frozen(self.feasible[self.group_shape])

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


def _frozen(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    a.flags.writeable = False
    return a
