"""Cloud node types and markets: GPUs per node and hourly prices, spot or on-demand.

A :class:`NodeInfo` names one node of an availability trace
(:class:`~workloads.availability.AvailabilityTrace`) with its :class:`NodeType` and market.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from workloads.errors import WorkloadError

Market = Literal["spot", "on-demand"]
MARKETS: tuple[Market, ...] = ("spot", "on-demand")


@dataclass(frozen=True, kw_only=True)
class NodeType:
    """A cloud instance type: its GPUs and hourly prices (USD per node-hour).

    Parameters
    ----------
    name : str
        Instance type name (non-empty), e.g. ``"g4dn.12xlarge"``.
    gpus_per_node : int
        GPUs in one node; positive.
    gpu : str
        GPU model name, e.g. ``"t4"``.
    price_spot, price_on_demand : float
        USD per node-hour on the spot and on-demand markets; finite and non-negative.

    Raises
    ------
    WorkloadError
        If a field is empty, not positive or not finite.

    Examples
    --------
    >>> G4DN_12XLARGE.gpus_per_node, G4DN_12XLARGE.price(market="spot")
    (4, 1.9046)
    """

    name: str
    gpus_per_node: int
    gpu: str
    price_spot: float
    price_on_demand: float

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise WorkloadError(f"NodeType.name must be a non-empty string, got {self.name!r}")
        if isinstance(self.gpus_per_node, bool) or not isinstance(self.gpus_per_node, int) \
                or self.gpus_per_node <= 0:
            raise WorkloadError(f"NodeType({self.name!r}).gpus_per_node must be a positive "
                                f"int, got {self.gpus_per_node!r}")
        for name in ("price_spot", "price_on_demand"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise WorkloadError(f"NodeType({self.name!r}).{name} must be a finite "
                                    f"non-negative number, got {value!r}")

    def price(self, *, market: Market) -> float:
        """Price of one node-hour in ``market``.

        Parameters
        ----------
        market : {"spot", "on-demand"}
            The market the node is held in.

        Returns
        -------
        float
            USD per node-hour.

        Examples
        --------
        >>> G4DN_12XLARGE.price(market="on-demand")
        3.912
        """
        return self.price_spot if market == "spot" else self.price_on_demand


# SpotServe (Miao et al., ASPLOS 2024): $1.9046/h spot vs $3.912/h on-demand for 4×T4.
G4DN_12XLARGE: NodeType = NodeType(name="g4dn.12xlarge", gpus_per_node=4, gpu="t4",
                         price_spot=1.9046, price_on_demand=3.912)


@dataclass(frozen=True, kw_only=True)
class NodeInfo:
    """One node of a trace: its type and market.

    Parameters
    ----------
    name : str
        The node's name in the trace.
    type : NodeType
        Its instance type (GPUs, prices).
    market : {"spot", "on-demand"}, default "spot"
        Where it is held: spot nodes may be preempted, on-demand nodes are not.

    Examples
    --------
    >>> NodeInfo(name="n0", type=G4DN_12XLARGE).market
    'spot\'
    """

    name: str
    type: NodeType
    market: Market = "spot"
