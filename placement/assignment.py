"""The mutable assignment a search edits: which group hosts which model.

An :class:`Assignment` lives on a :class:`~placement.space.SearchSpace`; it tracks memory as
replicas come and go and turns into the evaluator's arrays or into a validated
:class:`~alpaserve.Placement`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from alpaserve.model_spec import ModelSpec
from alpaserve.placement_spec import Group, Placement
from placement.partitions import stage_meshes
from placement.replicas import ReplicaArrays

if TYPE_CHECKING:
    from placement.space import SearchSpace


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
        mem = space.group_memory  # [g, m, k], shared read-only by the space's assignments
        self._mem = mem
        if hosts is None:  # nothing hosted, nothing used
            self.hosts = np.zeros((space.num_groups, space.num_models), dtype=bool)
            self.used = np.zeros((mem.shape[0], mem.shape[2]), dtype=np.int64)
        else:
            self.hosts = hosts.copy()
            self.used = np.einsum("gm,gmk->gk", self.hosts.astype(np.int64), mem)
        self._allowed = space.group_feasible
        # fit_matrix's result, kept up to date row by row: a step changes a few groups
        self._fit: npt.NDArray[np.bool_] | None = None
        self._stale: set[int] = set()

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
        twin = Assignment.__new__(Assignment)
        twin.space, twin._mem, twin._allowed = self.space, self._mem, self._allowed
        twin.hosts, twin.used = self.hosts.copy(), self.used.copy()
        twin._fit = None if self._fit is None else self._fit.copy()
        twin._stale = set(self._stale)
        return twin

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
        if self._fit is None:
            room = self.space.capacity - self.used  # [g, k]
            ok = self._allowed & ~self.hosts
            for k in range(room.shape[1]):  # stage by stage: faster than all() over a short axis
                ok &= self._mem[:, :, k] <= room[:, None, k]
            self._fit, self._stale = ok, set()
        elif self._stale:
            for g in self._stale:
                self._fit[g] = self.fit_row(g)
            self._stale.clear()
        return self._fit.copy()

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
        return self._allowed[group] & ~self.hosts[group] \
            & (self._mem[group] <= room).all(axis=1)

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
        self._stale.add(group)

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
        self._stale.add(group)

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
        lat = sp.group_latency[g_idx, m_idx]
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
