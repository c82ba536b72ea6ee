"""Instance-availability traces: which cloud nodes are held, and when they come and go.

Two file forms are read (:func:`read_availability` tells them apart by content):

* CSV, no header, one event per row: ``t_ms,add|remove,node`` (SpotServe's artifact format);
* JSON lines, one event per line: ``[t_ms, kind, {"nodes": [...], "required_tpt": x}]``, the
  form of SpotServe's trace segments. ``kind`` is ``add``, ``remove``, ``DONE`` (the end of the
  experiment: every node still held is released) or ``other`` (no nodes, only a new
  throughput target). ``required_tpt`` (requests/s, optional on any event) is a throughput
  target for the configuration optimizer. Each node is a name, or an object
  ``{"name": ..., "type": ..., "market": "spot"|"on-demand"}``.

A node is usable from its ``add`` until its ``remove``; the cloud announces a removal a grace
period earlier (the simulator's concern, not the trace's). Synthetic traces model spot
preemptions as a Poisson process (exponential lifetimes) next to on-demand nodes that never
leave (:mod:`workloads.synthetic_availability`). Malformed rows raise
:class:`TraceFormatError` naming the file, line and column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from workloads.errors import WorkloadError
from workloads.fleet_events import AvailabilityEvent, EventKind, check_events
from workloads.nodes import G4DN_12XLARGE, MARKETS, Market, NodeInfo, NodeType


@dataclass(frozen=True, kw_only=True)
class AvailabilityTrace:
    """Add/remove events sorted by time (stable), and the nodes they name.

    Build one with :meth:`from_events`, which checks that every node is added before it is
    removed, never added twice while alive, and never removed while absent.

    Parameters
    ----------
    events : tuple of AvailabilityEvent
        Sorted by time; a ``DONE`` appears as the removal of every node still alive.
    nodes : mapping of str to NodeInfo
        Type and market of every node.
    targets : tuple of (float, float)
        ``(time_s, requests_per_s)`` throughput targets (``required_tpt``), sorted.
    stop_time : float, optional
        End of the experiment (``DONE``), seconds; ``None`` when the trace has none.

    Examples
    --------
    >>> t = AvailabilityTrace.from_events([(0.0, "add", "a"), (5.0, "add", "b"),
    ...                                    (9.0, "remove", "a")])
    >>> t.alive_at(6.0), t.alive_at(9.0), t.max_alive
    (('a', 'b'), ('b',), 2)
    >>> t.node_hours(end=3600.0)["spot"] == (9.0 + 3595.0) / 3600
    True
    """

    events: tuple[AvailabilityEvent, ...]
    nodes: Mapping[str, NodeInfo] = field(default_factory=lambda: MappingProxyType({}))
    targets: tuple[tuple[float, float], ...] = ()
    stop_time: float | None = None

    @classmethod
    def from_events(cls, events: Iterable[tuple[float, str, str] | AvailabilityEvent], *,
                    node_type: NodeType = G4DN_12XLARGE,
                    nodes: Mapping[str, NodeInfo] | None = None,
                    path: str | None = None,
                    targets: Iterable[tuple[float, float]] = (),
                    stop_time: float | None = None) -> AvailabilityTrace:
        """Validate and sort events into a trace.

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
            End of the experiment (a ``DONE`` event): every node still alive is removed
            then, and no event may come later.

        Returns
        -------
        AvailabilityTrace
            The validated trace.

        Raises
        ------
        TraceFormatError
            A node added while alive, removed while absent, a bad kind or time, or an event
            after ``stop_time``.
        """
        checked, info, goals, stop = check_events(events, node_type=node_type, nodes=nodes,
                                                  path=path, targets=targets,
                                                  stop_time=stop_time)
        return cls(events=checked, nodes=MappingProxyType(info), targets=goals, stop_time=stop)

    def __len__(self) -> int:
        return len(self.events)

    @property
    def end_time(self) -> float:
        """Time of the end of the experiment (``DONE``), else of the last event (0 for an
        empty trace)."""
        if self.stop_time is not None:
            return self.stop_time
        return self.events[-1].time if self.events else 0.0

    def target_at(self, time: float) -> float | None:
        """The throughput target (requests/s) in force at ``time``.

        Parameters
        ----------
        time : float
            Seconds from the start of the trace.

        Returns
        -------
        float or None
            The last ``required_tpt`` given at or before ``time``; ``None`` if none was.

        Examples
        --------
        >>> t = AvailabilityTrace.from_events([(0.0, "add", "a")], targets=[(5.0, 0.8)])
        >>> t.target_at(4.0), t.target_at(5.0)
        (None, 0.8)
        """
        out = None
        for t, value in self.targets:
            if t > time:
                break
            out = value
        return out

    def alive_at(self, time: float) -> tuple[str, ...]:
        """Nodes alive at ``time`` (events at exactly ``time`` have taken effect), by name.

        Parameters
        ----------
        time : float
            Seconds from the trace start.

        Returns
        -------
        tuple of str
            The alive nodes' names, sorted.

        Examples
        --------
        >>> AvailabilityTrace.from_events([(0.0, "add", "b"), (1.0, "add", "a")]).alive_at(1.0)
        ('a', 'b')
        """
        alive: set[str] = set()
        for ev in self.events:
            if ev.time > time:
                break
            (alive.add if ev.kind == "add" else alive.discard)(ev.node)
        return tuple(sorted(alive))

    @property
    def max_alive(self) -> int:
        count = best = 0
        for ev in self.events:
            count += 1 if ev.kind == "add" else -1
            best = max(best, count)
        return best

    def intervals(self, end: float | None = None) -> list[tuple[str, float, float]]:
        """``(node, start, stop)`` of every alive period, clipped at ``end``.

        Parameters
        ----------
    end : float, optional
        Time in seconds to stop at; default: the last event (nodes never removed stay
        until then).

        Returns
        -------
        list of (str, float, float)
            Node name, start and stop in seconds; empty periods are left out.

        Examples
        --------
        >>> t = AvailabilityTrace.from_events([(0.0, "add", "a"), (2.0, "add", "b"),
        ...                                    (4.0, "remove", "a")])
        >>> t.intervals(), t.intervals(end=10.0)
        ([('a', 0.0, 4.0), ('b', 2.0, 4.0)], [('a', 0.0, 4.0), ('b', 2.0, 10.0)])
        """
        stop_at = self.end_time if end is None else end
        opened: dict[str, float] = {}
        out: list[tuple[str, float, float]] = []
        for ev in self.events:
            if ev.kind == "add":
                opened[ev.node] = ev.time
            else:
                start = opened.pop(ev.node)
                out.append((ev.node, start, min(ev.time, stop_at)))
        out.extend((node, start, stop_at) for node, start in opened.items())
        return [(n, a, b) for n, a, b in out if b > a]

    def node_hours(self, end: float | None = None) -> dict[str, float]:
        """Node-hours held per market up to ``end``.

        Parameters
        ----------
    end : float, optional
        Time in seconds to stop at; default: the last event (nodes never removed stay
        until then).

        Returns
        -------
        dict of str to float
            Node-hours per market (``"spot"``, ``"on-demand"``; both present).

        Examples
        --------
        >>> AvailabilityTrace.from_events([(0.0, "add", "a")]).node_hours(end=7200.0)
        {'spot': 2.0, 'on-demand': 0.0}
        """
        hours: dict[str, float] = dict.fromkeys(MARKETS, 0.0)
        for node, a, b in self.intervals(end):
            hours[self.nodes[node].market] += (b - a) / 3600.0
        return hours

    def cost(self, end: float | None = None) -> dict[str, float]:
        """Dollars spent per market up to ``end``: node-hours × each node's price.

        Parameters
        ----------
    end : float, optional
        Time in seconds to stop at; default: the last event (nodes never removed stay
        until then).

        Returns
        -------
        dict of str to float
            USD per market (``"spot"``, ``"on-demand"``; both present).

        Examples
        --------
        >>> AvailabilityTrace.from_events([(0.0, "add", "a")]).cost(end=3600.0)
        {'spot': 1.9046, 'on-demand': 0.0}
        """
        dollars: dict[str, float] = dict.fromkeys(MARKETS, 0.0)
        for node, a, b in self.intervals(end):
            info = self.nodes[node]
            dollars[info.market] += (b - a) / 3600.0 * info.type.price(market=info.market)
        return dollars

    def mean_alive(self, start: float, end: float) -> float:
        """Time-averaged number of nodes alive over ``[start, end)``.

        Parameters
        ----------
        start, end : float
            The window in seconds; ``end`` must exceed ``start``.

        Returns
        -------
        float
            Node-seconds alive in the window divided by its length.

        Raises
        ------
        WorkloadError
            If ``end`` does not exceed ``start``.

        Examples
        --------
        >>> t = AvailabilityTrace.from_events([(0.0, "add", "a"), (5.0, "add", "b")])
        >>> t.mean_alive(0.0, 10.0)
        1.5
        """
        if not end > start:
            raise WorkloadError(f"mean_alive end {end!r} must exceed start {start!r}")
        total = sum(max(0.0, min(b, end) - max(a, start)) for _, a, b in self.intervals(end))
        return total / (end - start)

    def clipped(self, start: float, end: float) -> AvailabilityTrace:
        """Events in ``[start, end)`` rebased to start at 0.

        Parameters
        ----------
        start, end : float
            The window, seconds (``end > start``).

        Returns
        -------
        AvailabilityTrace
            Nodes alive at ``start`` are added at 0; the target in force at ``start``
            applies from 0; a ``DONE`` inside the window is kept.

        Raises
        ------
        WorkloadError
            ``end <= start``.
        """
        if not end > start:
            raise WorkloadError(f"clipped end {end!r} must exceed start {start!r}")
        events = [AvailabilityEvent(time=0.0, kind="add", node=n) for n in self.alive_at(start)]
        events += [AvailabilityEvent(time=e.time - start, kind=e.kind, node=e.node)
                   for e in self.events if start < e.time < end]
        before = self.target_at(start)
        targets = ([(0.0, before)] if before is not None else []) + [
            (t - start, v) for t, v in self.targets if start < t < end]
        stop = (self.stop_time - start if self.stop_time is not None
                and start <= self.stop_time < end else None)
        return AvailabilityTrace.from_events(events, nodes=self.nodes, targets=targets,
                                             stop_time=stop)


def events_by_time(trace: AvailabilityTrace) -> list[tuple[float, Sequence[AvailabilityEvent]]]:
    """Events grouped by identical timestamps, in time order.

    Parameters
    ----------
    trace : AvailabilityTrace
        The trace whose events to group.

    Returns
    -------
    list of (float, Sequence[AvailabilityEvent])
        Each distinct time in seconds with its events, in trace order.

    Examples
    --------
    >>> t = AvailabilityTrace.from_events([(0.0, "add", "a"), (0.0, "add", "b"),
    ...                                    (2.0, "remove", "a")])
    >>> [(time, len(evs)) for time, evs in events_by_time(t)]
    [(0.0, 2), (2.0, 1)]
    """
    groups: list[tuple[float, list[AvailabilityEvent]]] = []
    for ev in trace.events:
        if groups and groups[-1][0] == ev.time:
            groups[-1][1].append(ev)
        else:
            groups.append((ev.time, [ev]))
    return [(t, tuple(evs)) for t, evs in groups]


# The readers and writers live in workloads.availability_io, which imports this module; they
# are re-exported here on first access, so either module can be imported first.
_IO_NAMES = frozenset({"read_availability", "read_availability_csv", "read_availability_jsonl",
                       "sniff_availability_format", "write_availability_csv",
                       "write_availability_jsonl"})


def __getattr__(name: str) -> Any:
    if name in _IO_NAMES:
        from workloads import availability_io

        return getattr(availability_io, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["G4DN_12XLARGE", "MARKETS", "AvailabilityEvent", "AvailabilityTrace", "EventKind",
           "Market", "NodeInfo", "NodeType", "events_by_time"]
