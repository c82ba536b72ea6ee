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

from alpaserve._validation import non_empty_name, positive_int
from alpaserve.cluster_spec import ClusterSpec, Mesh
from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles import ProfileDB

FORMAT_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Group:
    """A device group: a pipeline of sub-meshes and the models it hosts.

    Examples
    --------
    >>> from alpaserve.model_spec import model_preset
    >>> bert = model_preset("bert-1.3b")
    >>> g = Group.uniform(name="g0", device_ids=range(4), pipeline_degree=2,
    ...                   models=[bert])
    >>> g.num_devices, g.models["bert-1.3b"].key
    (4, 'pp2-tp2')
    """

    name: str
    stage_meshes: tuple[Mesh, ...]
    models: Mapping[str, ParallelConfig]

    def __post_init__(self) -> None:
        non_empty_name("Group", "name", self.name)
        meshes = tuple(self.stage_meshes)
        object.__setattr__(self, "stage_meshes", meshes)
        if not meshes:
            raise SpecError(f"group {self.name!r} has no stage meshes")
        seen: set[int] = set()
        for mesh in meshes:
            overlap = seen.intersection(mesh.device_ids)
            if overlap:
                raise SpecError(f"group {self.name!r} uses devices {sorted(overlap)} "
                                "in more than one stage")
            seen.update(mesh.device_ids)
        if not isinstance(self.models, Mapping):
            raise SpecError(f"group {self.name!r}: models must map model name -> "
                            f"ParallelConfig, got {type(self.models).__name__}")
        frozen = MappingProxyType(dict(self.models))
        object.__setattr__(self, "models", frozen)
        for model_name, config in frozen.items():
            if not isinstance(config, ParallelConfig):
                raise SpecError(f"group {self.name!r}: config of {model_name!r} must be a "
                                f"ParallelConfig, got {config!r}")
            if config.pipeline_degree != len(meshes):
                raise SpecError(f"group {self.name!r} has {len(meshes)} stages but model "
                                f"{model_name!r} uses config {config.key} with "
                                f"{config.pipeline_degree}")
            for k, (stage, mesh) in enumerate(zip(config.stages, meshes, strict=True)):
                if stage.tensor_degree != mesh.size:
                    raise SpecError(f"group {self.name!r} stage {k} has {mesh.size} devices "
                                    f"but model {model_name!r} config {config.key} gives it "
                                    f"tensor degree {stage.tensor_degree}")

    @classmethod
    def uniform(cls, *, name: str, device_ids: Any, pipeline_degree: int,
                models: Any, mesh_rows: int = 1) -> Group:
        """A group of equal stages over ``device_ids`` hosting ``models`` (ModelSpecs)."""
        ids = tuple(device_ids)
        positive_int(f"Group({name!r})", "pipeline_degree", pipeline_degree)
        positive_int(f"Group({name!r})", "mesh_rows", mesh_rows)
        if len(ids) % pipeline_degree:
            raise SpecError(f"group {name!r}: pipeline_degree={pipeline_degree} does not "
                            f"divide its {len(ids)} devices")
        t = len(ids) // pipeline_degree
        if t % mesh_rows:
            raise SpecError(f"group {name!r}: mesh_rows={mesh_rows} does not divide the "
                            f"stage size {t}")
        meshes = tuple(Mesh(device_ids=ids[k * t:(k + 1) * t], shape=(mesh_rows, t // mesh_rows))
                       for k in range(pipeline_degree))
        configs = {m.name: ParallelConfig.uniform(num_layers=m.num_layers,
                                                  pipeline_degree=pipeline_degree,
                                                  tensor_degree=t, mesh_rows=mesh_rows)
                   for m in models}
        return cls(name=name, stage_meshes=meshes, models=configs)

    def __hash__(self) -> int:  # the models mapping is read-only, so hash its items
        return hash((self.name, self.stage_meshes, tuple(sorted(self.models.items()))))

    @property
    def device_ids(self) -> tuple[int, ...]:
        return tuple(d for mesh in self.stage_meshes for d in mesh.device_ids)

    @property
    def num_devices(self) -> int:
        return sum(mesh.size for mesh in self.stage_meshes)

    @property
    def num_stages(self) -> int:
        return len(self.stage_meshes)

    def with_models(self, models: Mapping[str, ParallelConfig]) -> Group:
        return Group(name=self.name, stage_meshes=self.stage_meshes, models=models)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stage_meshes": [m.to_dict() for m in self.stage_meshes],
            "models": {name: cfg.to_dict() for name, cfg in self.models.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Group:
        try:
            return cls(
                name=data["name"],
                stage_meshes=tuple(Mesh.from_dict(m) for m in data["stage_meshes"]),
                models={name: ParallelConfig.from_dict(cfg)
                        for name, cfg in data["models"].items()},
            )
        except (TypeError, KeyError, AttributeError) as exc:
            raise SpecError(f"cannot build a Group from {data!r}: {exc}") from exc


@dataclass(frozen=True, kw_only=True)
class Placement:
    """Groups of devices on a cluster, each hosting some of ``models``.

    Models that no group hosts are allowed: a simulation counts their requests as unserved.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> from alpaserve.model_spec import model_preset
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
        >>> from alpaserve.model_spec import model_preset
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
        for g in self.groups:
            if g.name == name:
                return g
        raise SpecError(f"no group named {name!r}; groups: {[g.name for g in self.groups]}")

    def groups_hosting(self, model_name: str) -> tuple[Group, ...]:
        return tuple(g for g in self.groups if model_name in g.models)

    @property
    def hosted_models(self) -> frozenset[str]:
        return frozenset(m for g in self.groups for m in g.models)

    @property
    def num_devices_used(self) -> int:
        return sum(g.num_devices for g in self.groups)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "cluster": self.cluster.to_dict(),
            "models": {name: spec.to_dict() for name, spec in self.models.items()},
            "groups": [g.to_dict() for g in self.groups],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *,
                  profiles: ProfileDB | None = None) -> Placement:
        """Rebuild a placement; ``profiles`` supply the weights its memory is checked with."""
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
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str, *, profiles: ProfileDB | None = None) -> Placement:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"placement JSON is malformed: {exc}") from exc
        return cls.from_dict(data, profiles=profiles)
