"""Placements: which device groups host which models, under which parallel configs.

A :class:`Group` is a pipeline of sub-meshes (``stage_meshes``). Every model it hosts has its
own :class:`ParallelConfig` with one stage per sub-mesh and that sub-mesh's size as the
stage's tensor degree; layer ranges may differ between models. A :class:`Placement` is a set
of groups on a cluster, and validates itself: devices are in the cluster and disjoint between
groups, every hosted model is known, and every device's weights fit its usable memory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from alpaserve.cluster_spec import ClusterSpec
from alpaserve.errors import SpecError
from alpaserve.group_spec import Group as Group
from alpaserve.model_spec import ModelSpec
from alpaserve.profiles import ProfileDB

FORMAT_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Placement:
    """Groups of devices on a cluster, each hosting some of ``models``.

    Models that no group hosts are allowed: a simulation counts their requests as unserved.

    Parameters
    ----------
    cluster : ClusterSpec
        The cluster the groups use devices of.
    models : Mapping[str, ModelSpec]
        Every model of the workload, by name (each spec named as its key).
    groups : tuple of Group
        Groups with distinct names and disjoint devices; each stage's weights must fit the
        device's usable memory.
    profiles : ProfileDB, optional
        Profiles whose per-stage weights are the memory checked where they have an entry
        (analytic weights elsewhere); not saved to JSON and not part of equality.

    Raises
    ------
    SpecError
        If a group names an unknown model or device, two groups share a device or name, a
        config cannot run its model, or a stage's weights exceed device memory.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> from alpaserve.model_presets import model_preset
    >>> bert = model_preset("bert-1.3b")
    >>> p = Placement(cluster=homogeneous_cluster(2), models={bert.name: bert},
    ...               groups=(Group.uniform(name="g0", device_ids=[0, 1],
    ...                                     pipeline_degree=2, models=[bert]),))
    >>> Placement.from_json(p.to_json()) == p
    True
    """

    cluster: ClusterSpec
    models: Mapping[str, ModelSpec]
    groups: tuple[Group, ...]
    #: where weights per device come from: a profile entry of (model, config) when there is
    #: one, the analytic model otherwise. Not serialised; not part of equality.
    profiles: ProfileDB | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.profiles is not None and not isinstance(self.profiles, ProfileDB):
            raise SpecError(f"Placement.profiles must be a ProfileDB, got {self.profiles!r}")
        if not isinstance(self.cluster, ClusterSpec):
            raise SpecError(f"Placement.cluster must be a ClusterSpec, got {self.cluster!r}")
        models = MappingProxyType(dict(self.models))
        object.__setattr__(self, "models", models)
        for name, spec in models.items():
            if not isinstance(spec, ModelSpec) or spec.name != name:
                raise SpecError(f"Placement.models[{name!r}] must be the ModelSpec named "
                                f"{name!r}, got {spec!r}")
        groups = tuple(self.groups)
        object.__setattr__(self, "groups", groups)
        names = [g.name for g in groups]
        dup_names = sorted({n for n in names if names.count(n) > 1})
        if dup_names:
            raise SpecError(f"Placement has duplicate group names {dup_names}")
        owner: dict[int, str] = {}
        for group in groups:
            for d in group.device_ids:
                self.cluster.check_device(d)
                if d in owner:
                    raise SpecError(f"device {d} is in both group {owner[d]!r} "
                                    f"and group {group.name!r}")
                owner[d] = group.name
            for model_name, config in group.models.items():
                if model_name not in models:
                    raise SpecError(f"group {group.name!r} hosts unknown model {model_name!r}; "
                                    f"known: {sorted(models)}")
                config.validate_for(models[model_name])
        self._check_memory()

    def stage_memory(self, group: Group) -> tuple[tuple[int, ...], dict[str, str]]:
        """Weight bytes per device of each stage of ``group``, and each model's source.

        Parameters
        ----------
        group
            One of this placement's groups.

        Returns
        -------
        tuple
            ``(bytes per device of each stage, {model: "analytic" or "profile (...)"})``.

        Examples
        --------
        >>> from alpaserve.cluster_spec import homogeneous_cluster
        >>> from alpaserve.model_presets import model_preset
        >>> bert = model_preset("bert-1.3b")
        >>> p = Placement(cluster=homogeneous_cluster(1), models={bert.name: bert},
        ...               groups=(Group.uniform(name="g0", device_ids=[0], pipeline_degree=1,
        ...                                     models=[bert]),))
        >>> used, sources = p.stage_memory(p.groups[0])
        >>> used == (bert.weight_bytes,), sources
        (True, {'bert-1.3b': 'analytic'})
        """
        used = [0] * group.num_stages
        sources = {}
        db = self.profiles if self.profiles is not None else ProfileDB()
        for model_name, config in group.models.items():
            weights, sources[model_name] = db.stage_weights(self.models[model_name], config)
            for k, b in enumerate(weights):
                used[k] += b
        return tuple(used), sources

    def _check_memory(self) -> None:
        budget = self.cluster.device.usable_memory_bytes
        for group in self.groups:
            used, sources = self.stage_memory(group)
            for k, total in enumerate(used):
                if total > budget:
                    how = ", ".join(sorted(set(sources.values())))
                    raise SpecError(f"group {group.name!r} stage {k} needs {total / 1e9:.2f} GB "
                                    f"of weights per device ({how} weights) but "
                                    f"{self.cluster.device.name} has {budget / 1e9:.2f} GB "
                                    "usable")

    def __hash__(self) -> int:  # the models mapping is read-only, so hash its items
        return hash((self.cluster, tuple(sorted(self.models.items())), self.groups))

    # ------------------------------------------------------------------ queries
    def group(self, name: str) -> Group:
        """The group called ``name``.

        Parameters
        ----------
        name : str
            A group name.

        Returns
        -------
        Group
            That group.

        Raises
        ------
        SpecError
            If no group has that name.

        Examples
        --------
        >>> from alpaserve.cluster_spec import homogeneous_cluster
        >>> from alpaserve.model_presets import model_preset
        >>> bert = model_preset("bert-1.3b")
        >>> p = Placement(cluster=homogeneous_cluster(2), models={bert.name: bert},
        ...               groups=(Group.uniform(name="g0", device_ids=[0, 1], pipeline_degree=1,
        ...                                     models=[bert]),))
        >>> p.group("g0").num_devices
        2
        """
        for g in self.groups:
            if g.name == name:
                return g
        raise SpecError(f"no group named {name!r}; groups: {[g.name for g in self.groups]}")

    def groups_hosting(self, model_name: str) -> tuple[Group, ...]:
        """The groups that host ``model_name``.

        Parameters
        ----------
        model_name : str
            A model name.

        Returns
        -------
        tuple of Group
            The hosting groups in placement order; empty if none hosts it.

        Examples
        --------
        >>> from alpaserve.cluster_spec import homogeneous_cluster
        >>> from alpaserve.model_presets import model_preset
        >>> bert = model_preset("bert-1.3b")
        >>> p = Placement(cluster=homogeneous_cluster(2), models={bert.name: bert},
        ...               groups=(Group.uniform(name="g0", device_ids=[0], pipeline_degree=1,
        ...                                     models=[bert]),
        ...                       Group.uniform(name="g1", device_ids=[1], pipeline_degree=1,
        ...                                     models=[])))
        >>> [g.name for g in p.groups_hosting(bert.name)]
        ['g0']
        """
        return tuple(g for g in self.groups if model_name in g.models)

    @property
    def hosted_models(self) -> frozenset[str]:
        return frozenset(m for g in self.groups for m in g.models)

    @property
    def num_devices_used(self) -> int:
        return sum(g.num_devices for g in self.groups)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """The placement as a JSON-ready dict, with a format version.

        Returns
        -------
        dict of str to Any
            ``format_version``, ``cluster``, ``models`` and ``groups``.

        Examples
        --------
        >>> from alpaserve.cluster_spec import homogeneous_cluster
        >>> from alpaserve.model_presets import model_preset
        >>> bert = model_preset("bert-1.3b")
        >>> p = Placement(cluster=homogeneous_cluster(1), models={bert.name: bert}, groups=())
        >>> sorted(p.to_dict())
        ['cluster', 'format_version', 'groups', 'models']
        """
        return {
            "format_version": FORMAT_VERSION,
            "cluster": self.cluster.to_dict(),
            "models": {name: spec.to_dict() for name, spec in self.models.items()},
            "groups": [g.to_dict() for g in self.groups],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *,
                  profiles: ProfileDB | None = None) -> Placement:
        """Build a placement from :meth:`to_dict`'s output.

        Parameters
        ----------
        data : Mapping[str, Any]
            ``cluster``, ``models``, ``groups`` and optionally ``format_version``.
        profiles : ProfileDB, optional
            Profiles whose weights the placement's memory is checked with (analytic
            weights where they have no entry).

        Returns
        -------
        Placement
            The validated placement.

        Raises
        ------
        SpecError
            If the format version is unsupported, a key is missing, or the placement is
            invalid.

        Examples
        --------
        >>> from alpaserve.cluster_spec import homogeneous_cluster
        >>> from alpaserve.model_presets import model_preset
        >>> bert = model_preset("bert-1.3b")
        >>> p = Placement(cluster=homogeneous_cluster(1), models={bert.name: bert}, groups=())
        >>> Placement.from_dict(p.to_dict()) == p
        True
        """
        try:
            version = data.get("format_version", FORMAT_VERSION)
            if version != FORMAT_VERSION:
                raise SpecError(f"unsupported placement format_version {version!r}")
            return cls(
                cluster=ClusterSpec.from_dict(data["cluster"]),
                models={name: ModelSpec.from_dict(spec) for name, spec in data["models"].items()},
                groups=tuple(Group.from_dict(g) for g in data["groups"]),
                profiles=profiles,
            )
        except (TypeError, KeyError, AttributeError) as exc:
            raise SpecError(f"cannot build a Placement from the given data: {exc!r}") from exc

    def to_json(self, indent: int | None = 2) -> str:
        """The placement as JSON text (the ``alpaserve plan`` output format).

        Parameters
        ----------
        indent : int or None, default 2
            JSON indentation; None writes one line.

        Returns
        -------
        str
            JSON of :meth:`to_dict`.

        Examples
        --------
        >>> from alpaserve.cluster_spec import homogeneous_cluster
        >>> from alpaserve.model_presets import model_preset
        >>> bert = model_preset("bert-1.3b")
        >>> p = Placement(cluster=homogeneous_cluster(1), models={bert.name: bert}, groups=())
        >>> p.to_json(indent=None)[:20]
        '{"format_version": 1\'
        """
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str, *, profiles: ProfileDB | None = None) -> Placement:
        """Read a placement from :meth:`to_json`'s output.

        Parameters
        ----------
        text : str
            The JSON text.
        profiles : ProfileDB, optional
            Profiles whose weights the placement's memory is checked with.

        Returns
        -------
        Placement
            The validated placement.

        Raises
        ------
        SpecError
            If the JSON is malformed or the placement is invalid.

        Examples
        --------
        >>> Placement.from_json("{")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        alpaserve.errors.SpecError: placement JSON is malformed: Expecting property name ...
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"placement JSON is malformed: {exc}") from exc
        return cls.from_dict(data, profiles=profiles)
