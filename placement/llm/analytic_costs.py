"""Costs built from LLM shapes and a device: :mod:`alpaserve.llm`'s memory and cost models.

The memory numbers are vLLM's sizing (:mod:`alpaserve.llm.memory`): the bottleneck stage's
weights, its KV bytes per block and the activation reserve of the scheduler's token budget.
Iteration costs come from :func:`alpaserve.llm.analytic.analytic_iteration_cost` and are
built once per ``(model, tp, pp)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from alpaserve.device_spec import DeviceSpec
from alpaserve.errors import SpecError
from alpaserve.llm.iteration import IterationCost

if TYPE_CHECKING:
    from alpaserve.llm.spec import LLMSpec


def resolve_spec(name: str, value: object) -> LLMSpec:
    """The :class:`LLMSpec` of model ``name``: ``value`` itself, or the preset it names.

    A preset name may carry a copy suffix (``"llama-2-7b#2"``); a missing value takes the
    preset named by ``name`` (without its suffix).

    Parameters
    ----------
    name : str
        The served model's name.
    value : LLMSpec, str or None
        A spec, a preset name, or None.

    Returns
    -------
    LLMSpec
        The spec.

    Raises
    ------
    SpecError
        If the preset is unknown or the value is of another type.

    Examples
    --------
    >>> resolve_spec("llama-2-7b#1", None).name
    'llama-2-7b'
    """
    from alpaserve.llm.spec import LLMSpec, llm_preset
    if isinstance(value, LLMSpec):
        return value
    if value is None:
        value = name
    if isinstance(value, str):
        return llm_preset(value.split("#", 1)[0])
    raise SpecError(f"model {name!r}: expected an LLMSpec or a preset name, got {value!r}")


class AnalyticCosts:
    """Memory and iteration costs of LLM shapes on one device type.

    Parameters
    ----------
    models : mapping of str to LLMSpec
        The served models by name.
    device : DeviceSpec
        The device of every group.
    max_batched_tokens : int, default 8192
        The scheduler's token budget (activation reserve; longest table entry).
    max_num_seqs : int, default 256
        The scheduler's sequence cap (activation reserve).

    Raises
    ------
    SpecError
        If a model is not an LLMSpec or the device not a DeviceSpec.
    """

    def __init__(self, models: Mapping[str, LLMSpec], device: DeviceSpec, *,
                 max_batched_tokens: int = 8192, max_num_seqs: int = 256) -> None:
        from alpaserve.llm.spec import LLMSpec
        if not isinstance(models, Mapping) or not models:
            raise SpecError("AnalyticCosts needs a non-empty mapping of model name to LLMSpec")
        for name, spec in models.items():
            if not isinstance(spec, LLMSpec):
                raise SpecError(f"AnalyticCosts: model {name!r} is not an LLMSpec: {spec!r}")
        if not isinstance(device, DeviceSpec):
            raise SpecError(f"AnalyticCosts.device must be a DeviceSpec, got {device!r}")
        self.models = dict(models)
        self.device = device
        self.max_batched_tokens = int(max_batched_tokens)
        self.max_num_seqs = int(max_num_seqs)
        self._costs: dict[tuple[str, int, int], IterationCost] = {}

    def _spec(self, model: str) -> LLMSpec:
        spec = self.models.get(model)
        if spec is None:
            raise SpecError(f"unknown model {model!r}; known: {sorted(self.models)}")
        return spec

    def _shape_ok(self, model: str, tp: int, pp: int) -> bool:
        spec = self._spec(model)
        try:
            spec.check_tensor_degree(tp)
        except SpecError:
            return False
        return 1 <= pp <= spec.num_layers

    def weight_bytes(self, model: str, tp: int, pp: int) -> float:
        """Weights on the bottleneck device (``inf`` when ``tp`` cannot shard the model).

        Parameters
        ----------
        model : str
            Model name.
        tp, pp : int
            Tensor and pipeline degree.

        Returns
        -------
        float
            Bytes per device.
        """
        from alpaserve.llm.memory import stage_weight_bytes
        if not self._shape_ok(model, tp, pp):
            return float("inf")
        return float(max(stage_weight_bytes(self._spec(model), tp=tp, pp=pp)))

    def kv_block_bytes(self, model: str, tp: int, pp: int, block_size: int) -> float:
        """Bytes of one KV block on the bottleneck device.

        Parameters
        ----------
        model : str
            Model name.
        tp, pp : int
            Tensor and pipeline degree.
        block_size : int
            Tokens per block.

        Returns
        -------
        float
            Bytes per device (``inf`` when the shape cannot shard the model).
        """
        from alpaserve.llm.memory import kv_bytes_per_token_per_device
        if not self._shape_ok(model, tp, pp):
            return float("inf")
        per_token = max(kv_bytes_per_token_per_device(self._spec(model), tp=tp, pp=pp))
        return float(per_token * block_size)

    def activation_bytes(self, model: str, tp: int, pp: int) -> float:
        """Activation reserve per device for the scheduler's token budget.

        Parameters
        ----------
        model : str
            Model name.
        tp, pp : int
            Tensor and pipeline degree.

        Returns
        -------
        float
            Bytes per device (``inf`` when the shape cannot shard the model).
        """
        from alpaserve.llm.memory import activation_reserve_bytes
        if not self._shape_ok(model, tp, pp):
            return float("inf")
        return float(activation_reserve_bytes(self._spec(model), tp=tp,
                                              max_batched_tokens=self.max_batched_tokens,
                                              max_num_seqs=self.max_num_seqs))

    def iteration_cost(self, model: str, tp: int, pp: int) -> IterationCost:
        """The analytic iteration cost, built once per shape.

        Parameters
        ----------
        model : str
            Model name.
        tp, pp : int
            Tensor and pipeline degree.

        Returns
        -------
        IterationCost
            The cost of one replica.
        """
        key = (model, tp, pp)
        cost = self._costs.get(key)
        if cost is None:
            from alpaserve.llm.analytic import analytic_iteration_cost
            cost = analytic_iteration_cost(self._spec(model), self.device, tp=tp, pp=pp,
                                           max_tokens=self.max_batched_tokens)
            self._costs[key] = cost
        return cost

    def to_dict(self) -> dict[str, Any]:
        """How the costs are built, JSON-ready.

        Returns
        -------
        dict
            ``kind``, the model shapes, the device and the scheduler's budgets.
        """
        return {"kind": "analytic",
                "models": {name: spec.to_dict() for name, spec in self.models.items()},
                "device": self.device.to_dict(),
                "max_batched_tokens": self.max_batched_tokens,
                "max_num_seqs": self.max_num_seqs}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnalyticCosts:
        """Rebuild from :meth:`to_dict`.

        Parameters
        ----------
        data : mapping
            The description.

        Returns
        -------
        AnalyticCosts
            The same cost model.

        Raises
        ------
        SpecError
            If a field is missing or malformed.
        """
        from alpaserve.llm.spec import LLMSpec
        try:
            models = {name: LLMSpec(**spec) for name, spec in data["models"].items()}
            device = DeviceSpec.from_dict(dict(data["device"]))
            return cls(models, device, max_batched_tokens=int(data["max_batched_tokens"]),
                       max_num_seqs=int(data["max_num_seqs"]))
        except (KeyError, TypeError, AttributeError) as exc:
            raise SpecError(f"malformed analytic costs: {exc!r}") from None
