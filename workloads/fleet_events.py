"""Events of an instance-availability trace: the add/remove record and the rules they obey.

Separate from :mod:`workloads.availability` (the trace and its queries) so that the checks a
sequence of raw events must pass (a node added before it is removed, never twice while alive;
finite times; nothing after the end of the experiment; positive throughput targets) read as
one function, apart from what is asked of a trace once it is valid.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, cast

from workloads.errors import TraceFormatError
from workloads.nodes import G4DN_12XLARGE, NodeInfo, NodeType

EventKind = Literal["add", "remove"]


@dataclass(frozen=True, kw_only=True)
class AvailabilityEvent:
    """One node added to or removed from the held fleet, at ``time`` seconds.

    Parameters
    ----------
    time : float
        Seconds from the trace start; non-negative.
    kind : {"add", "remove"}
        Whether the node joins or leaves.
    node : str
        The node's name.

    Examples
    --------
    >>> AvailabilityEvent(time=1.5, kind="add", node="n0").kind
    'add\'
    """

    time: float
    kind: EventKind
    node: str


def check_events(events: Iterable[tuple[float, str, str] | AvailabilityEvent], *,
                 node_type: NodeType = G4DN_12XLARGE,
                 nodes: Mapping[str, NodeInfo] | None = None,
                 path: str | None = None,
                 targets: Iterable[tuple[float, float]] = (),
                 stop_time: float | None = None
                 ) -> tuple[tuple[AvailabilityEvent, ...], dict[str, NodeInfo],
                            tuple[tuple[float, float], ...], float | None]:
    """Validate and sort raw events, as :meth:`AvailabilityTrace.from_events` does.

    Parameters
    ----------
    events : iterable of ``(time_s, "add"|"remove", node)`` or AvailabilityEvent
        Times in seconds, any order (sorted stably here).
    node_type : NodeType
        Type of the nodes not described in ``nodes`` (spot market).
    nodes : mapping of str to NodeInfo, optional
        Type and market of named nodes.
    path : str, optional
        File the events came from, named in errors.
    targets : iterable of ``(time_s, requests_per_s)``
        Throughput targets (``required_tpt``) from each time on.
    stop_time : float, optional
        End of the experiment (a ``DONE`` event): every node still alive is removed then,
        and no event may come later.

    Returns
    -------
    events : tuple of AvailabilityEvent
        Sorted by time (stable), then the removals at ``stop_time`` of the nodes still alive.
    nodes : dict of str to NodeInfo
        ``nodes`` plus every other node named, of type ``node_type``.
    targets : tuple of (float, float)
        The throughput targets, sorted.
    stop_time : float or None
        ``stop_time`` as a float.

    Raises
    ------
    TraceFormatError
        A node added while alive, removed while absent, a bad kind or time, or an event
        after ``stop_time``.

    Examples
    --------
    >>> events, nodes, _, _ = check_events([(3.0, "remove", "a"), (1.0, "add", "a")])
    >>> [(e.time, e.kind) for e in events], nodes["a"].market
    ([(1.0, 'add'), (3.0, 'remove')], 'spot')
    """
    parsed: list[AvailabilityEvent] = []
    for ev in events:
        if isinstance(ev, AvailabilityEvent):
            parsed.append(ev)
            continue
        t, kind, node = ev
        if kind not in ("add", "remove"):
            raise TraceFormatError(f"event kind must be 'add' or 'remove', got {kind!r}",
                                   path=path)
        if not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
            raise TraceFormatError(f"event time must be finite and >= 0, got {t!r}",
                                   path=path)
        parsed.append(AvailabilityEvent(time=float(t), kind=cast(EventKind, kind),
                                        node=str(node)))
    parsed.sort(key=lambda e: e.time)
    alive: set[str] = set()
    info = dict(nodes or {})
    for ev in parsed:
        if ev.kind == "add":
            if ev.node in alive:
                raise TraceFormatError(f"node {ev.node!r} is added at t={ev.time}s while "
                                       "already alive", path=path)
            alive.add(ev.node)
            info.setdefault(ev.node, NodeInfo(name=ev.node, type=node_type))
        else:
            if ev.node not in alive:
                raise TraceFormatError(f"node {ev.node!r} is removed at t={ev.time}s but "
                                       "is not alive", path=path)
            alive.remove(ev.node)
    if stop_time is not None:
        if not math.isfinite(stop_time) or stop_time < 0:
            raise TraceFormatError(f"stop time must be finite and >= 0, got {stop_time!r}",
                                   path=path)
        late = [e for e in parsed if e.time > stop_time]
        if late:
            raise TraceFormatError(f"event at t={late[0].time}s comes after the end of the "
                                   f"experiment (DONE at t={stop_time}s)", path=path)
        parsed += [AvailabilityEvent(time=float(stop_time), kind="remove", node=n)
                   for n in sorted(alive)]
    goals = sorted((float(t), float(v)) for t, v in targets)
    for t, v in goals:
        if not (math.isfinite(t) and t >= 0 and math.isfinite(v) and v > 0):
            raise TraceFormatError(f"throughput target {v!r} at t={t!r}s must be a positive "
                                   "finite number at a time >= 0", path=path)
    return tuple(parsed), info, tuple(goals), None if stop_time is None else float(stop_time)
