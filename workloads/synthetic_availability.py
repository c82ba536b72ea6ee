"""Synthetic availability traces: Poisson spot preemptions and static on-demand fleets."""

from __future__ import annotations

import math

from workloads._rng import SeedLike, as_generator
from workloads.availability import AvailabilityTrace
from workloads.errors import WorkloadError
from workloads.nodes import G4DN_12XLARGE, Market, NodeInfo, NodeType


def synthetic_availability(*, duration: float, num_spot: int, mean_lifetime: float,
                           seed: SeedLike, num_on_demand: int = 0,
                           mean_replacement: float | None = None,
                           node_type: NodeType = G4DN_12XLARGE) -> AvailabilityTrace:
    """A fleet of ``num_spot`` spot slots and ``num_on_demand`` on-demand nodes.

    Every spot node lives an exponential time of mean ``mean_lifetime`` seconds (preemptions
    form a Poisson process of rate ``num_spot / mean_lifetime`` while the fleet is full);
    after a preemption the slot is refilled by a new node after an exponential delay of mean
    ``mean_replacement`` (default: no refill). On-demand nodes are added at 0 and never leave.

    Parameters
    ----------
    duration : float
        Seconds covered (> 0).
    num_spot : int
        Spot slots (>= 0).
    mean_lifetime : float
        Mean seconds a spot node lives (> 0).
    seed : int or numpy.random.Generator
        Random state.
    num_on_demand : int
        On-demand nodes (>= 0).
    mean_replacement : float, optional
        Mean seconds before a preempted slot is refilled; ``None``: never.
    node_type : NodeType
        Type of every node.

    Returns
    -------
    AvailabilityTrace
        The fleet's events.

    Raises
    ------
    WorkloadError
        A non-positive duration, lifetime or replacement time, or a negative count.

    Examples
    --------
    >>> t = synthetic_availability(duration=3600.0, num_spot=3, num_on_demand=1,
    ...                            mean_lifetime=600.0, seed=0)
    >>> len(t.alive_at(0.0)), t.nodes["od0"].market
    (4, 'on-demand')
    """
    for name, value in (("duration", duration), ("mean_lifetime", mean_lifetime)):
        if not isinstance(value, int | float) or not value > 0 or not math.isfinite(value):
            raise WorkloadError(f"{name} must be a positive finite number, got {value!r}")
    if mean_replacement is not None and not mean_replacement > 0:
        raise WorkloadError(f"mean_replacement must be positive, got {mean_replacement!r}")
    for name, count in (("num_spot", num_spot), ("num_on_demand", num_on_demand)):
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise WorkloadError(f"{name} must be a non-negative int, got {count!r}")
    rng = as_generator(seed)
    events: list[tuple[float, str, str]] = []
    nodes: dict[str, NodeInfo] = {}
    for i in range(num_on_demand):
        nodes[f"od{i}"] = NodeInfo(name=f"od{i}", type=node_type, market="on-demand")
        events.append((0.0, "add", f"od{i}"))
    serial = 0
    for _slot in range(num_spot):
        t = 0.0
        while t < duration:
            node = f"spot{serial}"
            serial += 1
            events.append((t, "add", node))
            t += float(rng.exponential(mean_lifetime))
            if t >= duration:
                break
            events.append((t, "remove", node))
            if mean_replacement is None:
                break
            t += float(rng.exponential(mean_replacement))
    return AvailabilityTrace.from_events(events, node_type=node_type, nodes=nodes)


def static_availability(*, num_nodes: int, market: Market = "on-demand", start: float = 0.0,
                        node_type: NodeType = G4DN_12XLARGE,
                        prefix: str = "od") -> AvailabilityTrace:
    """``num_nodes`` nodes added at ``start`` that never leave (an on-demand fleet).

    Parameters
    ----------
    num_nodes : int
        Number of nodes; positive.
    market : {"spot", "on-demand"}, default "on-demand"
        Their market.
    start : float, default 0.0
        When they are added, in seconds.
    node_type : NodeType, default G4DN_12XLARGE
        Their instance type.
    prefix : str, default "od"
        Name prefix; nodes are ``prefix0, prefix1, ...``.

    Returns
    -------
    AvailabilityTrace
        One add event per node.

    Raises
    ------
    WorkloadError
        If ``num_nodes`` is not a positive int.

    Examples
    --------
    >>> static_availability(num_nodes=2).alive_at(1e9)
    ('od0', 'od1')
    """
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, int) or num_nodes <= 0:
        raise WorkloadError(f"num_nodes must be a positive int, got {num_nodes!r}")
    names = [f"{prefix}{i}" for i in range(num_nodes)]
    nodes = {n: NodeInfo(name=n, type=node_type, market=market) for n in names}
    return AvailabilityTrace.from_events([(start, "add", n) for n in names], nodes=nodes)
