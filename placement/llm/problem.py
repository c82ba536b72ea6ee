"""The many-LLM planning problem: models, cluster, scheduler, SLOs and the search space."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from alpaserve.device_spec import DeviceSpec
from alpaserve.errors import SpecError
from placement.llm.analytic_costs import AnalyticCosts, resolve_spec
from placement.llm.costs import LLMCostModel
from simulator.llm.config import KVSharing, SchedulerConfig

if TYPE_CHECKING:
    from alpaserve.llm.spec import LLMSpec


def _power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


def _degrees(owner: str, value: object) -> tuple[int, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        raise SpecError(f"LLMPlanProblem.{owner} must be a non-empty sequence of powers of "
                        f"two, got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or not _power_of_two(v):
            raise SpecError(f"LLMPlanProblem.{owner} must hold powers of two, got {v!r}")
        out.append(v)
    return tuple(sorted(set(out)))


def _slos(owner: str, value: object, names: tuple[str, ...]) -> dict[str, float]:
    if isinstance(value, Mapping):
        missing = [n for n in names if n not in value]
        extra = [k for k in value if k not in names]
        if missing or extra:
            raise SpecError(f"LLMPlanProblem.{owner} must give every model: missing "
                            f"{missing}, unknown {extra}")
        items = {n: value[n] for n in names}
    else:
        items = {n: value for n in names}
    for n, v in items.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not (
                v > 0 and math.isfinite(v)):
            raise SpecError(f"LLMPlanProblem.{owner} of {n!r} must be a positive finite "
                            f"number of seconds, got {v!r}")
    return {n: float(v) for n, v in items.items()}


@dataclass(frozen=True, kw_only=True)
class LLMPlanProblem:
    """What :func:`placement.llm.plan_llm` places: LLMs on a cluster of identical devices.

    Parameters
    ----------
    models : mapping of str to LLMSpec or str, or sequence of str
        The served models by name; a value is a spec or a preset name, and a bare name is
        its own preset, a ``#`` suffix marking copies (``"llama-2-7b#1"``). With ``costs``
        given the values are only labels.
    num_devices : int
        Devices in the cluster, a multiple of ``gpus_per_node`` or at most one node.
    device : DeviceSpec
        The device (all alike).
    ttft_slo, tpot_slo : float or mapping of str to float
        Time-to-first-token and time-per-output-token objectives, seconds, for every model
        or per model.
    gpus_per_node : int, default 8
        Devices per node; tensor parallelism stays inside a node.
    scheduler : SchedulerConfig, default SchedulerConfig()
        Every group's iteration scheduler.
    tensor_degrees : sequence of int, default (1, 2, 4, 8)
        Tensor degrees to consider (powers of two, at most ``gpus_per_node`` used).
    pipeline_degrees : sequence of int, default (1, 2, 4)
        Pipeline degrees to consider (powers of two).
    kv_sharing : sequence of {"partitioned", "shared"}, default both
        KV modes a co-located group may use.
    memory_fraction : float, default 0.9
        Fraction of each device's memory the servers may use, in ``(0, 1]``.
    min_kv_tokens : int, default 4096
        Least KV budget of a model on a group, in tokens (a placement leaving less does not
        fit).
    costs : LLMCostModel, optional
        Memory and iteration costs; by default :class:`~placement.llm.AnalyticCosts` of the
        models' specs on ``device``.

    Raises
    ------
    SpecError
        If a field is out of range, a preset is unknown, or an SLO misses a model.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> p = LLMPlanProblem(models=["llama-2-7b#1", "llama-2-7b#2"], num_devices=8,
    ...                    device=device_preset("a100-80gb"), ttft_slo=2.0, tpot_slo=0.2)
    >>> p.model_names, p.group_shapes(8)
    (('llama-2-7b#1', 'llama-2-7b#2'), ((8, 1), (4, 2), (2, 4)))
    """

    models: Mapping[str, LLMSpec | str] | Sequence[str]
    num_devices: int
    device: DeviceSpec
    ttft_slo: float | Mapping[str, float]
    tpot_slo: float | Mapping[str, float]
    gpus_per_node: int = 8
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    tensor_degrees: Sequence[int] = (1, 2, 4, 8)
    pipeline_degrees: Sequence[int] = (1, 2, 4)
    kv_sharing: Sequence[KVSharing] = ("partitioned", "shared")
    memory_fraction: float = 0.9
    min_kv_tokens: int = 4096
    costs: LLMCostModel | None = None

    def __post_init__(self) -> None:
        raw = self.models
        if isinstance(raw, Mapping):
            items: dict[str, Any] = dict(raw)
        elif isinstance(raw, Sequence) and not isinstance(raw, str):
            items = {}
            for name in raw:
                if name in items:
                    raise SpecError(f"LLMPlanProblem.models names {name!r} twice")
                items[name] = None
        else:
            raise SpecError(f"LLMPlanProblem.models must be a mapping or a sequence of "
                            f"names, got {raw!r}")
        if not items:
            raise SpecError("LLMPlanProblem.models is empty")
        for name in items:
            if not isinstance(name, str) or not name.strip():
                raise SpecError(f"LLMPlanProblem.models: bad model name {name!r}")
        if not isinstance(self.device, DeviceSpec):
            raise SpecError(f"LLMPlanProblem.device must be a DeviceSpec, got {self.device!r}")
        for name in ("num_devices", "gpus_per_node", "min_kv_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise SpecError(f"LLMPlanProblem.{name} must be a positive int, got {value!r}")
        if not _power_of_two(self.gpus_per_node):
            raise SpecError(f"LLMPlanProblem.gpus_per_node must be a power of two, "
                            f"got {self.gpus_per_node}")
        if self.num_devices > self.gpus_per_node and self.num_devices % self.gpus_per_node:
            raise SpecError(f"LLMPlanProblem.num_devices={self.num_devices} must be a multiple "
                            f"of gpus_per_node={self.gpus_per_node} (or fit one node)")
        if not isinstance(self.scheduler, SchedulerConfig):
            raise SpecError(f"LLMPlanProblem.scheduler must be a SchedulerConfig, "
                            f"got {self.scheduler!r}")
        object.__setattr__(self, "tensor_degrees", _degrees("tensor_degrees",
                                                            self.tensor_degrees))
        object.__setattr__(self, "pipeline_degrees", _degrees("pipeline_degrees",
                                                              self.pipeline_degrees))
        modes = tuple(self.kv_sharing) if isinstance(self.kv_sharing, Sequence) and not (
            isinstance(self.kv_sharing, str)) else ()
        if not modes or any(m not in ("partitioned", "shared") for m in modes):
            raise SpecError("LLMPlanProblem.kv_sharing must be a non-empty sequence of "
                            f"'partitioned' and 'shared', got {self.kv_sharing!r}")
        object.__setattr__(self, "kv_sharing", tuple(dict.fromkeys(modes)))
        frac = self.memory_fraction
        if isinstance(frac, bool) or not isinstance(frac, int | float) or not 0 < frac <= 1:
            raise SpecError(f"LLMPlanProblem.memory_fraction must be in (0, 1], got {frac!r}")
        names = tuple(items)
        object.__setattr__(self, "ttft_slo", _slos("ttft_slo", self.ttft_slo, names))
        object.__setattr__(self, "tpot_slo", _slos("tpot_slo", self.tpot_slo, names))
        if self.costs is None:
            specs = {n: resolve_spec(n, v) for n, v in items.items()}
            object.__setattr__(self, "models", specs)
            object.__setattr__(self, "costs", AnalyticCosts(
                specs, self.device, max_batched_tokens=self.scheduler.max_batched_tokens,
                max_num_seqs=self.scheduler.max_num_seqs))
        else:
            if not isinstance(self.costs, LLMCostModel):
                raise SpecError(f"LLMPlanProblem.costs must be an LLMCostModel, "
                                f"got {self.costs!r}")
            object.__setattr__(self, "models", items)

    @property
    def model_names(self) -> tuple[str, ...]:
        """The served models, in the given order."""
        return tuple(self.models)

    @property
    def cost_model(self) -> LLMCostModel:
        """The cost model (the default one when none was given)."""
        return cast(LLMCostModel, self.costs)  # set in __post_init__

    @property
    def memory_budget_bytes(self) -> float:
        """Bytes each device may use: ``memory_fraction`` of it, capped by its usable memory."""
        return float(min(int(self.device.memory_bytes * self.memory_fraction),
                         self.device.usable_memory_bytes))

    @property
    def min_kv_blocks(self) -> int:
        """Least KV blocks of a model on a group."""
        return -(-self.min_kv_tokens // self.scheduler.block_size)

    def slo(self, model: str) -> tuple[float, float]:
        """The TTFT and TPOT objectives of ``model``.

        Parameters
        ----------
        model : str
            A served model.

        Returns
        -------
        tuple of float
            ``(ttft_slo, tpot_slo)`` in seconds.
        """
        ttft = cast(dict[str, float], self.ttft_slo)  # normalised in __post_init__
        tpot = cast(dict[str, float], self.tpot_slo)
        return ttft[model], tpot[model]

    def group_shapes(self, size: int) -> tuple[tuple[int, int], ...]:
        """The ``(tp, pp)`` shapes of a group of ``size`` devices, most tensor-parallel first.

        Parameters
        ----------
        size : int
            Devices in the group.

        Returns
        -------
        tuple of (int, int)
            Shapes with ``tp * pp == size``, ``tp`` at most ``gpus_per_node`` and both among
            the candidate degrees; empty when none.
        """
        out = [(tp, size // tp) for tp in sorted(self.tensor_degrees, reverse=True)
               if tp <= self.gpus_per_node and size % tp == 0
               and size // tp in self.pipeline_degrees]
        return tuple(out)

    def group_sizes(self) -> tuple[int, ...]:
        """Group sizes with at least one shape, node-aligned, at most the cluster.

        Returns
        -------
        tuple of int
            Powers of two, ascending: within a node, or whole nodes.
        """
        sizes = []
        size = 1
        while size <= self.num_devices:
            if (size <= self.gpus_per_node or size % self.gpus_per_node == 0) and (
                    self.group_shapes(size)):
                sizes.append(size)
            size *= 2
        return tuple(sizes)

    def describe(self) -> dict[str, Any]:
        """The problem's settings, JSON-ready (without the cost model).

        Returns
        -------
        dict
            Models (by name: preset name or ``None``), cluster, scheduler, SLOs and the
            search space.
        """
        return {"models": {n: (v if isinstance(v, str) else getattr(v, "name", None))
                           for n, v in self.models.items()},  # type: ignore[union-attr]
                "num_devices": self.num_devices, "device": self.device.to_dict(),
                "gpus_per_node": self.gpus_per_node, "scheduler": self.scheduler.to_dict(),
                "ttft_slo": dict(self.ttft_slo),  # type: ignore[arg-type]
                "tpot_slo": dict(self.tpot_slo),  # type: ignore[arg-type]
                "tensor_degrees": list(self.tensor_degrees),
                "pipeline_degrees": list(self.pipeline_degrees),
                "kv_sharing": list(self.kv_sharing), "memory_fraction": self.memory_fraction,
                "min_kv_tokens": self.min_kv_tokens}
