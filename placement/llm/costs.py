"""Where the planner's numbers come from: per (model, tensor, pipeline) memory and iteration cost.

A cost model answers three questions for a model on a ``tp × pp`` group: the weight bytes
each device holds, the bytes one KV-cache block takes on each device, and the
:class:`~alpaserve.llm.iteration.IterationCost` of one replica. :class:`AnalyticCosts` builds
them from LLM shapes and a device (``alpaserve.llm``); :class:`TableCosts` takes them as
given (measured numbers, or small hand-built cases in tests). Both describe themselves in a
JSON-ready dict from which :func:`costs_from_dict` rebuilds them, so a plan file records how
its costs were made rather than the arrays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from alpaserve.device_spec import DeviceSpec
from alpaserve.errors import SpecError
from alpaserve.llm.iteration import IterationCost


@runtime_checkable
class LLMCostModel(Protocol):
    """Memory and iteration cost of each model on each ``tp × pp`` shape."""

    def weight_bytes(self, model: str, tp: int, pp: int) -> float:
        """Weight bytes on each device of a ``tp × pp`` replica.

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

    def kv_block_bytes(self, model: str, tp: int, pp: int, block_size: int) -> float:
        """Bytes one KV-cache block of ``block_size`` tokens takes on each device.

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
            Bytes per device.
        """

    def activation_bytes(self, model: str, tp: int, pp: int) -> float:
        """Activation bytes each device reserves for one forward pass.

        Parameters
        ----------
        model : str
            Model name.
        tp, pp : int
            Tensor and pipeline degree.

        Returns
        -------
        float
            Bytes per device (co-located models run one iteration at a time, so a group
            reserves the largest of its models').
        """

    def iteration_cost(self, model: str, tp: int, pp: int) -> IterationCost:
        """The iteration cost of one ``tp × pp`` replica.

        Parameters
        ----------
        model : str
            Model name.
        tp, pp : int
            Tensor and pipeline degree.

        Returns
        -------
        IterationCost
            Its cost (``pipeline_stages == pp``).
        """

    def to_dict(self) -> dict[str, Any]:
        """How the costs are built, JSON-ready (:func:`costs_from_dict` inverts it).

        Returns
        -------
        dict
            With a ``"kind"`` key.
        """


@dataclass(frozen=True, kw_only=True)
class TableEntry:
    """Given numbers of one model on one ``tp × pp`` shape.

    Parameters
    ----------
    cost : IterationCost
        Iteration cost of one replica.
    weight_bytes : float
        Weight bytes per device, >= 0.
    kv_bytes_per_token : float
        KV-cache bytes per token per device, > 0.
    activation_bytes : float, default 0
        Activation reserve per device, >= 0.

    Raises
    ------
    SpecError
        If a number is out of range.
    """

    cost: IterationCost
    weight_bytes: float
    kv_bytes_per_token: float
    activation_bytes: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.cost, IterationCost):
            raise SpecError(f"TableEntry.cost must be an IterationCost, got {self.cost!r}")
        for name in ("weight_bytes", "kv_bytes_per_token", "activation_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    math.isfinite(value) and value >= 0):
                raise SpecError(f"TableEntry.{name} must be a finite number >= 0, got {value!r}")
        if self.kv_bytes_per_token <= 0:
            raise SpecError(f"TableEntry.kv_bytes_per_token must be > 0, "
                            f"got {self.kv_bytes_per_token!r}")


class TableCosts:
    """Costs read from a table keyed by ``(model, tp, pp)``.

    Parameters
    ----------
    entries : mapping of (str, int, int) to TableEntry
        The known shapes; a shape missing from the table does not fit (infinite weights).

    Raises
    ------
    SpecError
        If the table is empty or a key or value is malformed.

    Examples
    --------
    >>> cost = IterationCost(linear_s=[0.0, 0.01], prefill_attention_s=0.0,
    ...                      decode_attention_s=0.0)
    >>> t = TableCosts({("m", 1, 1): TableEntry(cost=cost, weight_bytes=1e9,
    ...                                          kv_bytes_per_token=1e5)})
    >>> t.kv_block_bytes("m", 1, 1, 16), t.weight_bytes("m", 2, 1)
    (1600000.0, inf)
    """

    def __init__(self, entries: Mapping[tuple[str, int, int], TableEntry]) -> None:
        if not isinstance(entries, Mapping) or not entries:
            raise SpecError("TableCosts needs a non-empty mapping of (model, tp, pp) to "
                            "TableEntry")
        for key, value in entries.items():
            if (not isinstance(key, tuple) or len(key) != 3 or not isinstance(key[0], str)
                    or not all(isinstance(k, int) and k > 0 for k in key[1:])):
                raise SpecError(f"TableCosts key must be (model, tp, pp), got {key!r}")
            if not isinstance(value, TableEntry):
                raise SpecError(f"TableCosts[{key!r}] must be a TableEntry, got {value!r}")
        self._entries = dict(entries)

    @property
    def models(self) -> tuple[str, ...]:
        """Models with at least one entry."""
        return tuple(dict.fromkeys(k[0] for k in self._entries))

    def weight_bytes(self, model: str, tp: int, pp: int) -> float:
        """Weight bytes per device (``inf`` for a shape not in the table).

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
        entry = self._entries.get((model, tp, pp))
        return math.inf if entry is None else float(entry.weight_bytes)

    def kv_block_bytes(self, model: str, tp: int, pp: int, block_size: int) -> float:
        """Bytes of one KV block per device (``inf`` for a shape not in the table).

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
            Bytes per device.
        """
        entry = self._entries.get((model, tp, pp))
        return math.inf if entry is None else float(entry.kv_bytes_per_token) * block_size

    def activation_bytes(self, model: str, tp: int, pp: int) -> float:
        """Activation bytes per device (the entry's, 0 by default).

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
        entry = self._entries.get((model, tp, pp))
        return 0.0 if entry is None else float(entry.activation_bytes)

    def iteration_cost(self, model: str, tp: int, pp: int) -> IterationCost:
        """The table's iteration cost.

        Parameters
        ----------
        model : str
            Model name.
        tp, pp : int
            Tensor and pipeline degree.

        Returns
        -------
        IterationCost
            The entry's cost.

        Raises
        ------
        SpecError
            If the shape is not in the table.
        """
        entry = self._entries.get((model, tp, pp))
        if entry is None:
            raise SpecError(f"no cost for model {model!r} at tp={tp}, pp={pp} in the table")
        return entry.cost

    def to_dict(self) -> dict[str, Any]:
        """The table, JSON-ready.

        Returns
        -------
        dict
            ``{"kind": "table", "entries": [...]}``.
        """
        return {"kind": "table", "entries": [
            {"model": m, "tp": tp, "pp": pp, "weight_bytes": float(e.weight_bytes),
             "kv_bytes_per_token": float(e.kv_bytes_per_token),
             "activation_bytes": float(e.activation_bytes), "cost": e.cost.to_dict()}
            for (m, tp, pp), e in self._entries.items()]}


def _iteration_cost_from_dict(data: Mapping[str, Any]) -> IterationCost:
    try:
        return IterationCost(**data)
    except TypeError as exc:
        raise SpecError(f"cannot build an IterationCost from {dict(data)!r}: {exc}") from None


def costs_from_dict(data: Mapping[str, Any]) -> LLMCostModel:
    """Rebuild a cost model from its :meth:`~LLMCostModel.to_dict`.

    Parameters
    ----------
    data : mapping
        ``{"kind": "table" | "analytic" | "measured", ...}``.

    Returns
    -------
    LLMCostModel
        A :class:`TableCosts`, :class:`AnalyticCosts` or :class:`MeasuredCosts`.

    Raises
    ------
    SpecError
        If the kind is unknown or a field is malformed.
    """
    kind = data.get("kind") if isinstance(data, Mapping) else None
    if kind == "table":
        try:
            entries = {(str(e["model"]), int(e["tp"]), int(e["pp"])): TableEntry(
                cost=_iteration_cost_from_dict(e["cost"]), weight_bytes=e["weight_bytes"],
                kv_bytes_per_token=e["kv_bytes_per_token"],
                activation_bytes=e.get("activation_bytes", 0.0)) for e in data["entries"]}
        except (KeyError, TypeError) as exc:
            raise SpecError(f"malformed table costs: {exc!r}") from None
        return TableCosts(entries)
    if kind == "analytic":
        from placement.llm.analytic_costs import AnalyticCosts
        return AnalyticCosts.from_dict(data)
    if kind == "measured":
        from placement.llm.measured_costs import MeasuredCosts
        return MeasuredCosts.from_dict(data)
    raise SpecError(f"unknown cost kind {kind!r}: expected 'table', 'analytic' or 'measured'")


def check_device(device: object) -> DeviceSpec:
    """``device`` if it is a :class:`DeviceSpec`.

    Parameters
    ----------
    device : object
        The value to check.

    Returns
    -------
    DeviceSpec
        The same object.

    Raises
    ------
    SpecError
        Otherwise.
    """
    if not isinstance(device, DeviceSpec):
        raise SpecError(f"device must be a DeviceSpec, got {device!r}")
    return device

