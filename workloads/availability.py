"""Instance-availability traces: which cloud nodes are held, and when they come and go.

Two file forms are read:

* CSV, no header, one event per row: ``t_ms,add|remove,node`` (SpotServe's artifact format);
* JSON lines, one event per line: ``[t_ms, "add"|"remove", {"nodes": [...]}]`` where each
  node is a name, or an object ``{"name": ..., "type": ..., "market": "spot"|"on-demand"}``.

A node is usable from its ``add`` until its ``remove``; the cloud announces a removal a grace
period earlier (the simulator's concern, not the trace's). Synthetic traces model spot
preemptions as a Poisson process (exponential lifetimes) next to on-demand nodes that never
leave (:mod:`workloads.synthetic_availability`). Malformed rows raise
:class:`TraceFormatError` naming the file, line and column.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast

from workloads.errors import TraceFormatError, WorkloadError
from workloads.traces._common import MAX_SECONDS, next_row, open_text

EventKind = Literal["add", "remove"]
Market = Literal["spot", "on-demand"]
MARKETS: tuple[Market, ...] = ("spot", "on-demand")


@dataclass(frozen=True, kw_only=True)
class NodeType:
    """A cloud instance type: its GPUs and hourly prices (USD per node-hour).

    Examples
    --------
    >>> G4DN_12XLARGE.gpus_per_node, G4DN_12XLARGE.price(market="spot")
    (4, 1.9)
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
        """Price of one node-hour in ``market``."""
        return self.price_spot if market == "spot" else self.price_on_demand


# SpotServe (Miao et al., ASPLOS 2024): $1.90/h spot vs $3.91/h on-demand for 4×T4.
G4DN_12XLARGE = NodeType(name="g4dn.12xlarge", gpus_per_node=4, gpu="t4",
                         price_spot=1.90, price_on_demand=3.912)


@dataclass(frozen=True, kw_only=True)
class NodeInfo:
    """One node of a trace: its type and market."""

    name: str
    type: NodeType
    market: Market = "spot"


@dataclass(frozen=True, kw_only=True)
class AvailabilityEvent:
    """One node added to or removed from the held fleet, at ``time`` seconds."""

    time: float
    kind: EventKind
    node: str


@dataclass(frozen=True, kw_only=True)
class AvailabilityTrace:
    """Add/remove events sorted by time (stable), and the nodes they name.

    Build one with :meth:`from_events`, which checks that every node is added before it is
    removed, never added twice while alive, and never removed while absent.

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

    @classmethod
    def from_events(cls, events: Iterable[tuple[float, str, str] | AvailabilityEvent], *,
                    node_type: NodeType = G4DN_12XLARGE,
                    nodes: Mapping[str, NodeInfo] | None = None,
                    path: str | None = None) -> AvailabilityTrace:
        """Validate and sort events; nodes not in ``nodes`` are spot nodes of ``node_type``."""
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
        return cls(events=tuple(parsed), nodes=MappingProxyType(info))

    def __len__(self) -> int:
        return len(self.events)

    @property
    def end_time(self) -> float:
        """Time of the last event (0 for an empty trace)."""
        return self.events[-1].time if self.events else 0.0

    def alive_at(self, time: float) -> tuple[str, ...]:
        """Nodes alive at ``time`` (events at exactly ``time`` have taken effect), by name."""
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
        """``(node, start, stop)`` of every alive period, clipped at ``end`` (default: last
        event; nodes never removed stay until then)."""
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
        """Node-hours held per market up to ``end``."""
        hours: dict[str, float] = dict.fromkeys(MARKETS, 0.0)
        for node, a, b in self.intervals(end):
            hours[self.nodes[node].market] += (b - a) / 3600.0
        return hours

    def cost(self, end: float | None = None) -> dict[str, float]:
        """Dollars spent per market up to ``end``: node-hours × each node's price."""
        dollars: dict[str, float] = dict.fromkeys(MARKETS, 0.0)
        for node, a, b in self.intervals(end):
            info = self.nodes[node]
            dollars[info.market] += (b - a) / 3600.0 * info.type.price(market=info.market)
        return dollars

    def mean_alive(self, start: float, end: float) -> float:
        """Time-averaged number of nodes alive over ``[start, end)``."""
        if not end > start:
            raise WorkloadError(f"mean_alive end {end!r} must exceed start {start!r}")
        total = sum(max(0.0, min(b, end) - max(a, start)) for _, a, b in self.intervals(end))
        return total / (end - start)

    def clipped(self, start: float, end: float) -> AvailabilityTrace:
        """Events in ``[start, end)`` rebased to start at 0; nodes alive at ``start`` are
        added at 0."""
        if not end > start:
            raise WorkloadError(f"clipped end {end!r} must exceed start {start!r}")
        events = [AvailabilityEvent(time=0.0, kind="add", node=n) for n in self.alive_at(start)]
        events += [AvailabilityEvent(time=e.time - start, kind=e.kind, node=e.node)
                   for e in self.events if start < e.time < end]
        return AvailabilityTrace.from_events(events, nodes=self.nodes)


# ---------------------------------------------------------------------- readers / writers
def read_availability_csv(path: str | Path, *,
                          node_type: NodeType = G4DN_12XLARGE) -> AvailabilityTrace:
    """Read ``t_ms,add|remove,node`` rows (no header); blank lines are skipped."""
    name = str(path)
    events: list[tuple[float, str, str]] = []
    with open_text(path) as fh:
        reader = csv.reader(fh)
        while (row := next_row(reader, name)) is not None:
            lineno = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 3:
                raise TraceFormatError(f"expected 3 fields t_ms,add|remove,node, got {len(row)}",
                                       path=name, line=lineno)
            t_raw, kind, node = (c.strip() for c in row)
            events.append((_parse_ms(t_raw, name, lineno), _parse_kind(kind, name, lineno),
                           _parse_node(node, name, lineno)))
    return AvailabilityTrace.from_events(events, node_type=node_type, path=name)


def read_availability_jsonl(path: str | Path, *, types: Mapping[str, NodeType] | None = None,
                            node_type: NodeType = G4DN_12XLARGE) -> AvailabilityTrace:
    """Read ``[t_ms, "add"|"remove", {"nodes": [...]}]`` lines; nodes are names or objects
    with ``name`` and optional ``type`` (a key of ``types``) and ``market``."""
    name = str(path)
    known = dict(types or {})
    known.setdefault(node_type.name, node_type)
    events: list[tuple[float, str, str]] = []
    nodes: dict[str, NodeInfo] = {}
    with open_text(path) as fh:
        for lineno, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                item = json.loads(text)
            except json.JSONDecodeError as exc:
                raise TraceFormatError(f"invalid JSON: {exc.msg}", path=name,
                                       line=lineno) from None
            except RecursionError:
                raise TraceFormatError("invalid JSON: nested too deeply", path=name,
                                       line=lineno) from None
            if not isinstance(item, list) or len(item) != 3:
                raise TraceFormatError(f"expected [t_ms, kind, {{\"nodes\": [...]}}], got "
                                       f"{text.strip()[:80]!r}", path=name, line=lineno)
            t_raw, kind, payload = item
            if isinstance(t_raw, bool) or not isinstance(t_raw, int | float):
                raise TraceFormatError(f"t_ms must be a number, got {t_raw!r}", path=name,
                                       line=lineno, column="t_ms")
            t = _parse_ms(str(t_raw), name, lineno)
            k = _parse_kind(kind if isinstance(kind, str) else repr(kind), name, lineno)
            if not isinstance(payload, dict) or not isinstance(payload.get("nodes"), list):
                raise TraceFormatError(f"third field must be {{\"nodes\": [...]}}, got "
                                       f"{payload!r}", path=name, line=lineno, column="nodes")
            for entry in payload["nodes"]:
                info = _parse_node_entry(entry, known, node_type, name, lineno)
                if info.name in nodes and k == "add" and nodes[info.name] != info:
                    raise TraceFormatError(f"node {info.name!r} is re-added with another type "
                                           "or market", path=name, line=lineno, column="nodes")
                nodes.setdefault(info.name, info)
                events.append((t, k, info.name))
    return AvailabilityTrace.from_events(events, node_type=node_type, nodes=nodes, path=name)


def read_availability(path: str | Path, **kwargs: Any) -> AvailabilityTrace:
    """Read a trace, choosing the form by suffix (``.jsonl``/``.json`` else CSV)."""
    if str(path).endswith((".jsonl", ".json")):
        return read_availability_jsonl(path, **kwargs)
    return read_availability_csv(path, **kwargs)


def write_availability_csv(trace: AvailabilityTrace, path: str | Path) -> None:
    """Write the CSV form (node types and markets are not kept)."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        for ev in trace.events:
            writer.writerow([round(ev.time * 1000), ev.kind, ev.node])


def write_availability_jsonl(trace: AvailabilityTrace, path: str | Path) -> None:
    """Write the JSON-lines form, one event per line, with each node's type and market."""
    with open(path, "w") as fh:
        for ev in trace.events:
            info = trace.nodes[ev.node]
            node = {"name": ev.node, "type": info.type.name, "market": info.market}
            fh.write(json.dumps([round(ev.time * 1000), ev.kind, {"nodes": [node]}]) + "\n")


def _parse_ms(raw: str, path: str, line: int) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise TraceFormatError(f"t_ms must be a number, got {raw!r}", path=path, line=line,
                               column="t_ms") from None
    if not math.isfinite(value) or value < 0:
        raise TraceFormatError(f"t_ms must be finite and >= 0, got {raw!r}", path=path,
                               line=line, column="t_ms")
    if value > 1000.0 * MAX_SECONDS:
        raise TraceFormatError(f"t_ms {raw!r} is out of range: at most {1000 * MAX_SECONDS:g}",
                               path=path, line=line, column="t_ms")
    return value / 1000.0


def _parse_kind(raw: str, path: str, line: int) -> str:
    if raw not in ("add", "remove"):
        raise TraceFormatError(f"event must be 'add' or 'remove', got {raw!r}", path=path,
                               line=line, column="event")
    return raw


def _parse_node(raw: str, path: str, line: int) -> str:
    if not raw:
        raise TraceFormatError("node name is empty", path=path, line=line, column="node")
    return raw


def _parse_node_entry(entry: object, types: Mapping[str, NodeType], default: NodeType,
                      path: str, line: int) -> NodeInfo:
    if isinstance(entry, str):
        return NodeInfo(name=_parse_node(entry, path, line), type=default)
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise TraceFormatError(f"node must be a name or an object with 'name', got {entry!r}",
                               path=path, line=line, column="nodes")
    type_name = entry.get("type", default.name)
    if not isinstance(type_name, str) or type_name not in types:
        raise TraceFormatError(f"unknown node type {type_name!r}; known: {sorted(types)}",
                               path=path, line=line, column="nodes")
    market = entry.get("market", "spot")
    if not isinstance(market, str) or market not in MARKETS:
        raise TraceFormatError(f"market must be one of {MARKETS}, got {market!r}", path=path,
                               line=line, column="nodes")
    return NodeInfo(name=_parse_node(entry["name"], path, line), type=types[type_name],
                    market=market)


def events_by_time(trace: AvailabilityTrace) -> list[tuple[float, Sequence[AvailabilityEvent]]]:
    """Events grouped by identical timestamps, in time order."""
    groups: list[tuple[float, list[AvailabilityEvent]]] = []
    for ev in trace.events:
        if groups and groups[-1][0] == ev.time:
            groups[-1][1].append(ev)
        else:
            groups.append((ev.time, [ev]))
    return [(t, tuple(evs)) for t, evs in groups]
