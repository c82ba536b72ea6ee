"""Device groups: a pipeline of sub-meshes and the models it hosts, each under its own config.

A :class:`Group` is a pipeline of sub-meshes (``stage_meshes``). Every model it hosts has its
own :class:`ParallelConfig` with one stage per sub-mesh and that sub-mesh's size as the
stage's tensor degree; layer ranges may differ between models. A
:class:`~alpaserve.placement_spec.Placement` is a set of groups on a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from alpaserve._validation import non_empty_name, positive_int
from alpaserve.cluster_spec import Mesh
from alpaserve.errors import SpecError
from alpaserve.parallel_config import ParallelConfig


@dataclass(frozen=True, kw_only=True)
class Group:
    """A device group: a pipeline of sub-meshes and the models it hosts.

    Parameters
    ----------
    name : str
        Group name; non-empty, unique within a placement.
    stage_meshes : tuple of Mesh
        One mesh per pipeline stage; non-empty, no device in two stages.
    models : Mapping[str, ParallelConfig]
        Config of each hosted model by name; each must have one stage per mesh, with
        the mesh's size as its tensor degree.

    Raises
    ------
    SpecError
        If the meshes are empty or overlap, or a config does not match the meshes.

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
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
        """A group of equal stages over ``device_ids`` hosting ``models`` (ModelSpecs).

        Parameters
        ----------
        name : str
            Group name.
        device_ids : iterable of int
            The group's devices, in stage order; their number divisible by
            ``pipeline_degree``.
        pipeline_degree : int
            Number of stages; positive.
        models : iterable of ModelSpec
            The hosted models; each gets :meth:`ParallelConfig.uniform` for the shape.
        mesh_rows : int, default 1
            Rows of each stage's mesh; must divide the stage size.

        Returns
        -------
        Group
            The validated group.

        Raises
        ------
        SpecError
            If a degree does not divide the device count or stage size, or a model cannot
            run on the shape.

        Examples
        --------
        >>> from alpaserve.model_presets import model_preset
        >>> g = Group.uniform(name="g", device_ids=range(8), pipeline_degree=2,
        ...                   models=[model_preset("bert-1.3b")], mesh_rows=2)
        >>> [m.shape for m in g.stage_meshes]
        [(2, 2), (2, 2)]
        """
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
        """The same meshes hosting other models.

        Parameters
        ----------
        models : Mapping[str, ParallelConfig]
            Config of each hosted model by name.

        Returns
        -------
        Group
            A validated group with this one's name and meshes.

        Examples
        --------
        >>> from alpaserve.model_presets import model_preset
        >>> g = Group.uniform(name="g", device_ids=[0], pipeline_degree=1,
        ...                   models=[model_preset("bert-1.3b")])
        >>> dict(g.with_models({}).models)
        {}
        """
        return Group(name=self.name, stage_meshes=self.stage_meshes, models=models)

    def to_dict(self) -> dict[str, Any]:
        """The group as a JSON-ready dict.

        Returns
        -------
        dict of str to Any
            ``name``, ``stage_meshes`` and ``models``; :meth:`from_dict` inverts it.

        Examples
        --------
        >>> Group(name="g", stage_meshes=(Mesh(device_ids=(0,)),), models={}).to_dict()
        {'name': 'g', 'stage_meshes': [{'device_ids': [0], 'shape': [1, 1]}], 'models': {}}
        """
        return {
            "name": self.name,
            "stage_meshes": [m.to_dict() for m in self.stage_meshes],
            "models": {name: cfg.to_dict() for name, cfg in self.models.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Group:
        """Build a group from :meth:`to_dict`'s output.

        Parameters
        ----------
        data : Mapping[str, Any]
            ``name``, ``stage_meshes`` and ``models``.

        Returns
        -------
        Group
            The validated group.

        Raises
        ------
        SpecError
            If a key is missing or the group is invalid.

        Examples
        --------
        >>> g = Group(name="g", stage_meshes=(Mesh(device_ids=(0, 1)),), models={})
        >>> Group.from_dict(g.to_dict()) == g
        True
        """
        try:
            return cls(
                name=data["name"],
                stage_meshes=tuple(Mesh.from_dict(m) for m in data["stage_meshes"]),
                models={name: ParallelConfig.from_dict(cfg)
                        for name, cfg in data["models"].items()},
            )
        except (TypeError, KeyError, AttributeError) as exc:
            raise SpecError(f"cannot build a Group from {data!r}: {exc}") from exc
