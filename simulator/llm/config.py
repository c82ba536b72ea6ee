"""What the token-level engines simulate: scheduler settings and a deployment of LLMs on groups.

A *group* is a set of devices running one tensor × pipeline configuration. It hosts one or
more models (AlpaServe-style sharing of a group; MuxServe-style co-location), each with its
iteration cost on that group and its KV-cache budget in blocks. The rules the engines follow
are in :mod:`simulator.llm.semantics`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from alpaserve._validation import (
    non_empty_name,
    non_empty_tuple,
    non_negative_float,
    positive_int,
)
from alpaserve.errors import SpecError
from alpaserve.llm.iteration import IterationCost

KVSharing = Literal["partitioned", "shared"]


@dataclass(frozen=True, kw_only=True)
class SchedulerConfig:
    """Iteration-level scheduler of one group (vLLM-like).

    Parameters
    ----------
    max_num_seqs : int, default 256
        Most running sequences per model on the group.
    max_batched_tokens : int, default 8192
        Most tokens in one iteration; with ``chunked_prefill=False`` also the longest prompt
        the group accepts.
    block_size : int, default 16
        Tokens per KV-cache block.
    chunked_prefill : bool, default False
        ``False``: prefill-first (an iteration is all prefills or all decodes, as vLLM v0).
        ``True``: decodes first, then prompt chunks fill the token budget (Sarathi, vLLM v1).

    Raises
    ------
    SpecError
        If a field is out of range or ``max_num_seqs > max_batched_tokens``.

    Examples
    --------
    >>> SchedulerConfig(max_num_seqs=4, max_batched_tokens=64).block_size
    16
    """

    max_num_seqs: int = 256
    max_batched_tokens: int = 8192
    block_size: int = 16
    chunked_prefill: bool = False

    def __post_init__(self) -> None:
        for name in ("max_num_seqs", "max_batched_tokens", "block_size"):
            positive_int("SchedulerConfig", name, getattr(self, name))
        if not isinstance(self.chunked_prefill, bool):
            raise SpecError("SchedulerConfig.chunked_prefill must be a bool, "
                            f"got {self.chunked_prefill!r}")
        if self.max_num_seqs > self.max_batched_tokens:
            raise SpecError(f"SchedulerConfig.max_num_seqs ({self.max_num_seqs}) must not "
                            f"exceed max_batched_tokens ({self.max_batched_tokens})")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description.

        Returns
        -------
        dict
            Every field.
        """
        return {"max_num_seqs": self.max_num_seqs,
                "max_batched_tokens": self.max_batched_tokens,
                "block_size": self.block_size, "chunked_prefill": self.chunked_prefill}


@dataclass(frozen=True, kw_only=True)
class ServedModel:
    """One model hosted on a group.

    Parameters
    ----------
    model : str
        The model's name, as in the workload.
    cost : IterationCost
        Its iteration cost on this group's configuration.
    kv_blocks : int
        Its KV-cache budget on the group, in blocks (>= 1). With ``kv_sharing="shared"``
        the group's pool is the sum over its models.
    route_weight : float, default 1
        Share of the model's requests this group receives, relative to its other groups
        (smooth weighted round robin); > 0.
    load_s : float, default 0
        Seconds to load its weights when a swapping group switches to it, >= 0.

    Raises
    ------
    SpecError
        If a field is out of range.
    """

    model: str
    cost: IterationCost
    kv_blocks: int
    route_weight: float = 1.0
    load_s: float = 0.0

    def __post_init__(self) -> None:
        non_empty_name("ServedModel", "model", self.model)
        if not isinstance(self.cost, IterationCost):
            raise SpecError(f"ServedModel.cost must be an IterationCost, got {self.cost!r}")
        positive_int("ServedModel", "kv_blocks", self.kv_blocks)
        weight = self.route_weight
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not (
                0 < weight < float("inf")):
            raise SpecError(f"ServedModel.route_weight must be a positive number, got {weight!r}")
        object.__setattr__(self, "route_weight", float(weight))
        object.__setattr__(self, "load_s", non_negative_float("ServedModel", "load_s",
                                                              self.load_s))


@dataclass(frozen=True, kw_only=True)
class EngineGroup:
    """A device group and the models it serves.

    Parameters
    ----------
    name : str
        Group name, unique in the deployment.
    num_devices : int
        Devices in the group (tensor × pipeline degree), for reports and cost.
    models : tuple of ServedModel
        Models hosted, at least one, distinct names; their order is the round-robin order.
    scheduler : SchedulerConfig, default SchedulerConfig()
        The group's scheduler.
    kv_sharing : {"partitioned", "shared"}, default "partitioned"
        Each model allocates from its own ``kv_blocks``, or all from one pool.
    swap : bool, default False
        Only one model's weights are resident; switching costs the new model's ``load_s``.

    Raises
    ------
    SpecError
        If a field is out of range or a model is hosted twice.
    """

    name: str
    num_devices: int
    models: tuple[ServedModel, ...]
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    kv_sharing: KVSharing = "partitioned"
    swap: bool = False

    def __post_init__(self) -> None:
        non_empty_name("EngineGroup", "name", self.name)
        positive_int("EngineGroup", "num_devices", self.num_devices)
        models = non_empty_tuple(f"EngineGroup {self.name!r}", self.models, ServedModel)
        names = [m.model for m in models]
        if len(set(names)) != len(names):
            raise SpecError(f"EngineGroup {self.name!r} hosts a model twice: {names}")
        object.__setattr__(self, "models", models)
        if not isinstance(self.scheduler, SchedulerConfig):
            raise SpecError(f"EngineGroup.scheduler must be a SchedulerConfig, "
                            f"got {self.scheduler!r}")
        if self.kv_sharing not in ("partitioned", "shared"):
            raise SpecError("EngineGroup.kv_sharing must be 'partitioned' or 'shared', "
                            f"got {self.kv_sharing!r}")
        if not isinstance(self.swap, bool):
            raise SpecError(f"EngineGroup.swap must be a bool, got {self.swap!r}")

    @property
    def model_names(self) -> tuple[str, ...]:
        """Names of the hosted models, in round-robin order."""
        return tuple(m.model for m in self.models)


@dataclass(frozen=True, kw_only=True)
class LLMDeployment:
    """Groups of devices and the LLMs each serves.

    Parameters
    ----------
    groups : tuple of EngineGroup
        At least one group; names unique.

    Raises
    ------
    SpecError
        If there is no group or two share a name.

    Examples
    --------
    >>> from alpaserve.llm.iteration import IterationCost
    >>> cost = IterationCost(linear_s=[0.0, 0.01], prefill_attention_s=0.0,
    ...                      decode_attention_s=0.0)
    >>> group = EngineGroup(name="g0", num_devices=1,
    ...                     models=(ServedModel(model="m", cost=cost, kv_blocks=64),))
    >>> LLMDeployment(groups=(group,)).model_names
    ('m',)
    """

    groups: tuple[EngineGroup, ...]

    def __post_init__(self) -> None:
        groups = non_empty_tuple("LLMDeployment", self.groups, EngineGroup)
        names = [g.name for g in groups]
        if len(set(names)) != len(names):
            raise SpecError(f"LLMDeployment group names must be unique: {names}")
        object.__setattr__(self, "groups", groups)

    @property
    def model_names(self) -> tuple[str, ...]:
        """Every hosted model, in order of first appearance."""
        return tuple(dict.fromkeys(m for g in self.groups for m in g.model_names))

    @property
    def num_devices(self) -> int:
        """Devices over all groups."""
        return sum(g.num_devices for g in self.groups)
