"""Readers and writers of instance-availability traces (see :mod:`workloads.availability`).

The JSON-lines reader takes SpotServe's trace segments exactly as shipped: ``add``,
``remove``, ``DONE`` (ends the experiment, releasing every node still held) and ``other``
(only a new ``required_tpt``) events, with ``required_tpt`` allowed on any event.
:func:`read_availability` sniffs the form from the first non-blank line, whatever the file's
suffix (the artifact's segments are ``.txt``).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from workloads.availability import AvailabilityTrace
from workloads.errors import TraceFormatError
from workloads.nodes import G4DN_12XLARGE, MARKETS, NodeInfo, NodeType
from workloads.traces._common import MAX_SECONDS, next_row, open_text

AvailabilityFormat = Literal["csv", "jsonl"]
JSONL_KINDS = ("add", "remove", "DONE", "other")


def read_availability_csv(path: str | Path, *,
                          node_type: NodeType = G4DN_12XLARGE) -> AvailabilityTrace:
    """Read ``t_ms,add|remove,node`` rows (no header); blank lines are skipped.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    node_type : NodeType
        Type of every node (all are spot nodes).

    Returns
    -------
    AvailabilityTrace
        The events, times in seconds.

    Raises
    ------
    TraceFormatError
        A malformed row (naming the file, line and column) or inconsistent events.
    """
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
    """Read ``[t_ms, kind, {"nodes": [...], "required_tpt": x}]`` lines.

    ``kind`` is ``add``, ``remove``, ``DONE`` or ``other`` (module docstring). Nodes are names
    or objects with ``name`` and optional ``type`` (a key of ``types``) and ``market``.

    Parameters
    ----------
    path : str or Path
        The JSON-lines file (any suffix).
    types : mapping of str to NodeType, optional
        Node types that node objects may name, besides ``node_type``.
    node_type : NodeType
        Type of nodes given by name only.

    Returns
    -------
    AvailabilityTrace
        Events in seconds, ``targets`` from every ``required_tpt`` and ``stop_time`` from
        ``DONE`` (whose removals of the nodes still held are events of the trace).

    Raises
    ------
    TraceFormatError
        A malformed line (naming the file and line), an event after ``DONE``, a second
        ``DONE``, nodes on ``DONE`` or ``other``, or inconsistent events.

    Examples
    --------
    >>> import tempfile, os
    >>> text = ('[0, "add", {"nodes": ["a", "b"]}]\\n'
    ...         '[60000, "other", {"nodes": [], "required_tpt": 0.8}]\\n'
    ...         '[90000, "DONE", {"nodes": []}]\\n')
    >>> with tempfile.TemporaryDirectory() as d:
    ...     f = os.path.join(d, "seg.txt")
    ...     _ = open(f, "w").write(text)
    ...     t = read_availability(f)
    >>> t.stop_time, t.targets, t.alive_at(89.0), t.alive_at(90.0)
    (90.0, ((60.0, 0.8),), ('a', 'b'), ())
    """
    name = str(path)
    known = dict(types or {})
    known.setdefault(node_type.name, node_type)
    events: list[tuple[float, str, str]] = []
    nodes: dict[str, NodeInfo] = {}
    targets: list[tuple[float, float]] = []
    stop: float | None = None
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
            if kind not in JSONL_KINDS:
                raise TraceFormatError(f"event must be one of {', '.join(JSONL_KINDS)}, got "
                                       f"{kind!r}", path=name, line=lineno, column="event")
            if not isinstance(payload, dict) or not isinstance(payload.get("nodes"), list):
                raise TraceFormatError(f"third field must be {{\"nodes\": [...]}}, got "
                                       f"{payload!r}", path=name, line=lineno, column="nodes")
            if stop is not None:
                raise TraceFormatError(f"event {kind!r} at t={t}s follows DONE at t={stop}s",
                                       path=name, line=lineno)
            if "required_tpt" in payload:
                targets.append((t, _parse_target(payload["required_tpt"], name, lineno)))
            if kind in ("DONE", "other"):
                if payload["nodes"]:
                    raise TraceFormatError(f"a {kind!r} event names no nodes, got "
                                           f"{payload['nodes']!r}", path=name, line=lineno,
                                           column="nodes")
                if kind == "other" and "required_tpt" not in payload:
                    raise TraceFormatError("an 'other' event needs a required_tpt", path=name,
                                           line=lineno, column="required_tpt")
                stop = t if kind == "DONE" else None
                continue
            for entry in payload["nodes"]:
                info = _parse_node_entry(entry, known, node_type, name, lineno)
                if info.name in nodes and kind == "add" and nodes[info.name] != info:
                    raise TraceFormatError(f"node {info.name!r} is re-added with another type "
                                           "or market", path=name, line=lineno, column="nodes")
                nodes.setdefault(info.name, info)
                events.append((t, kind, info.name))
    return AvailabilityTrace.from_events(events, node_type=node_type, nodes=nodes, path=name,
                                         targets=targets, stop_time=stop)


def sniff_availability_format(path: str | Path) -> AvailabilityFormat:
    """The form of an availability file, from its first non-blank line.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    str
        ``"jsonl"`` when that line starts with ``[``, else ``"csv"``.

    Raises
    ------
    TraceFormatError
        The file has no non-blank line.
    """
    with open_text(path) as fh:
        for line in fh:
            if line.strip():
                return "jsonl" if line.lstrip().startswith("[") else "csv"
    raise TraceFormatError("availability file is empty", path=str(path))


def read_availability(path: str | Path, *, format: AvailabilityFormat | None = None,
                      **kwargs: Any) -> AvailabilityTrace:
    """Read an availability trace in either form.

    Parameters
    ----------
    path : str or Path
        The file.
    format : {"csv", "jsonl"}, optional
        Force a form; by default it is sniffed from the content
        (:func:`sniff_availability_format`), never from the suffix.
    **kwargs
        Passed to :func:`read_availability_csv` or :func:`read_availability_jsonl`.

    Returns
    -------
    AvailabilityTrace
        The trace.

    Raises
    ------
    TraceFormatError
        An unknown ``format`` or a malformed file.
    """
    fmt = sniff_availability_format(path) if format is None else format
    if fmt == "jsonl":
        return read_availability_jsonl(path, **kwargs)
    if fmt == "csv":
        kwargs.pop("types", None)
        return read_availability_csv(path, **kwargs)
    raise TraceFormatError(f"availability format must be 'csv' or 'jsonl', got {format!r}",
                           path=str(path))


def write_availability_csv(trace: AvailabilityTrace, path: str | Path) -> None:
    """Write the CSV form (node types, markets, targets and ``DONE`` are not kept).

    Parameters
    ----------
    trace : AvailabilityTrace
        The trace.
    path : str or Path
        The file to write.
    """
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        for ev in trace.events:
            writer.writerow([round(ev.time * 1000), ev.kind, ev.node])


def write_availability_jsonl(trace: AvailabilityTrace, path: str | Path) -> None:
    """Write the JSON-lines form, one event per line, with each node's type and market,
    the throughput targets (``other`` events) and ``DONE``.

    Parameters
    ----------
    trace : AvailabilityTrace
        The trace.
    path : str or Path
        The file to write.
    """
    stop = trace.stop_time
    lines: list[tuple[float, int, list[Any]]] = []
    for ev in trace.events:
        if stop is not None and ev.time == stop and ev.kind == "remove":
            continue  # the DONE line releases these
        info = trace.nodes[ev.node]
        node = {"name": ev.node, "type": info.type.name, "market": info.market}
        lines.append((ev.time, 0, [round(ev.time * 1000), ev.kind, {"nodes": [node]}]))
    for t, value in trace.targets:
        lines.append((t, 1, [round(t * 1000), "other", {"nodes": [], "required_tpt": value}]))
    if stop is not None:
        lines.append((stop, 2, [round(stop * 1000), "DONE", {"nodes": []}]))
    with open(path, "w") as fh:
        for _, _, item in sorted(lines, key=lambda x: (x[0], x[1])):
            fh.write(json.dumps(item) + "\n")


def _parse_target(raw: object, path: str, line: int) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw) \
            or raw <= 0:
        raise TraceFormatError(f"required_tpt must be a positive number (requests/s), got "
                               f"{raw!r}", path=path, line=line, column="required_tpt")
    return float(raw)


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


