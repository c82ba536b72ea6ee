"""A deployment: an :class:`~alpaserve.cost.llm.LLMConfig` laid out on named devices.

Devices are ``(node name, local GPU index)`` pairs, since nodes of a spot fleet come and go.
Replica ``i`` lists its ``pipeline × tensor`` devices stage-major: position ``k`` is stage
``k // tensor``, tensor rank ``k % tensor``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from alpaserve.cost.llm import LLMConfig
from alpaserve.errors import InfeasibleError, SpecError

DeviceKey = tuple[str, int]


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """``config.data`` replicas, each a tuple of ``pipeline × tensor`` distinct devices.

    Parameters
    ----------
    config : LLMConfig
        The config laid out.
    replicas : tuple of tuple of DeviceKey
        Replica ``i``'s ``(node, gpu)`` devices, stage-major (module docstring).

    Raises
    ------
    SpecError
        Not ``config.data`` replicas, a replica of the wrong size, or a device used twice.

    Examples
    --------
    >>> cfg = LLMConfig(data=2, pipeline=1, tensor=2, batch=4)
    >>> d = pack_devices(cfg, [("a", 0), ("a", 1), ("b", 0), ("b", 1)])
    >>> d.replicas
    ((('a', 0), ('a', 1)), (('b', 0), ('b', 1)))
    >>> d.position(("b", 1))
    (1, 0, 1)
    """

    config: LLMConfig
    replicas: tuple[tuple[DeviceKey, ...], ...]

    def __post_init__(self) -> None:
        reps = tuple(tuple((str(n), int(g)) for n, g in r) for r in self.replicas)
        object.__setattr__(self, "replicas", reps)
        if len(reps) != self.config.data:
            raise SpecError(f"deployment of {self.config.key} needs {self.config.data} "
                            f"replicas, got {len(reps)}")
        seen: set[DeviceKey] = set()
        for i, rep in enumerate(reps):
            if len(rep) != self.config.replica_devices:
                raise SpecError(f"replica {i} of {self.config.key} needs "
                                f"{self.config.replica_devices} devices, got {len(rep)}")
            dup = seen.intersection(rep)
            if dup or len(set(rep)) != len(rep):
                raise SpecError(f"device(s) {sorted(dup) or rep} used twice in deployment "
                                f"{self.config.key}")
            seen.update(rep)

    @property
    def devices(self) -> tuple[DeviceKey, ...]:
        return tuple(d for rep in self.replicas for d in rep)

    @property
    def nodes(self) -> frozenset[str]:
        return frozenset(n for n, _ in self.devices)

    def position(self, device: DeviceKey) -> tuple[int, int, int]:
        """Where ``device`` serves.

        Parameters
        ----------
        device : DeviceKey
            A ``(node, gpu)`` pair.

        Returns
        -------
        tuple of int
            ``(replica, stage, tensor rank)``.

        Raises
        ------
        SpecError
            ``device`` is not in the deployment.
        """
        for i, rep in enumerate(self.replicas):
            if device in rep:
                k = rep.index(device)
                return i, k // self.config.tensor, k % self.config.tensor
        raise SpecError(f"device {device!r} is not in deployment {self.config.key}")

    def replicas_using(self, devices: Collection[DeviceKey]) -> tuple[int, ...]:
        """Indices of the replicas that use any of ``devices``.

        Parameters
        ----------
        devices : collection of DeviceKey
            Devices, e.g. those of a node being removed.

        Returns
        -------
        tuple of int
            Replica indices, ascending.
        """
        gone = set(devices)
        return tuple(i for i, rep in enumerate(self.replicas) if gone.intersection(rep))

    def to_dict(self) -> dict[str, Any]:
        """The deployment as JSON-friendly data.

        Returns
        -------
        dict
            ``{"config": ..., "replicas": [[[node, gpu], ...], ...]}``.
        """
        return {"config": self.config.to_dict(),
                "replicas": [[list(d) for d in rep] for rep in self.replicas]}


def devices_of_nodes(nodes: Iterable[tuple[str, int]]) -> list[DeviceKey]:
    """Every device of ``(node, gpus)`` pairs.

    Parameters
    ----------
    nodes : iterable of (str, int)
        Node names and their GPU counts.

    Returns
    -------
    list of DeviceKey
        ``(node, gpu)`` for each GPU, in order.

    Examples
    --------
    >>> devices_of_nodes([("a", 2)])
    [('a', 0), ('a', 1)]
    """
    return [(name, g) for name, gpus in nodes for g in range(gpus)]


def pack_devices(config: LLMConfig, devices: Sequence[DeviceKey]) -> Deployment:
    """Lay ``config`` out on ``devices``, filling replicas node by node (fullest nodes
    first) so tensor-parallel groups stay inside nodes where they can.

    Parameters
    ----------
    config : LLMConfig
        The config to lay out.
    devices : sequence of DeviceKey
        Devices available.

    Returns
    -------
    Deployment
        The layout.

    Raises
    ------
    InfeasibleError
        Fewer devices than ``config.num_devices``.
    """
    if len(devices) < config.num_devices:
        raise InfeasibleError(f"config {config.key} needs {config.num_devices} devices, "
                              f"only {len(devices)} are available")
    by_node: dict[str, list[DeviceKey]] = {}
    for d in devices:
        by_node.setdefault(d[0], []).append(d)
    order = sorted(by_node, key=lambda n: (-len(by_node[n]), n))
    flat = [d for n in order for d in sorted(by_node[n])]
    size = config.replica_devices
    reps = tuple(tuple(flat[i * size:(i + 1) * size]) for i in range(config.data))
    return Deployment(config=config, replicas=reps)
