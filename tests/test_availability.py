"""Availability traces: readers, writers, validation and the synthetic generator."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads.availability import (
    G4DN_12XLARGE,
    AvailabilityTrace,
    NodeInfo,
    NodeType,
    events_by_time,
    read_availability,
    read_availability_csv,
    read_availability_jsonl,
    write_availability_csv,
    write_availability_jsonl,
)
from workloads.errors import TraceFormatError, WorkloadError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_round_trip(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "0,add,n1\n1500,add,n2\n\n3000,remove,n1\n")
    trace = read_availability_csv(path)
    assert [(e.time, e.kind, e.node) for e in trace.events] == [
        (0.0, "add", "n1"), (1.5, "add", "n2"), (3.0, "remove", "n1")]
    assert trace.nodes["n1"].type is G4DN_12XLARGE
    out = tmp_path / "b.csv"
    write_availability_csv(trace, out)
    assert read_availability(out).events == trace.events


def test_jsonl_round_trip_keeps_types_and_markets(tmp_path: Path) -> None:
    small = NodeType(name="tiny", gpus_per_node=1, gpu="t4", price_spot=0.1,
                     price_on_demand=0.3)
    path = write(tmp_path, "a.jsonl",
                 '[0, "add", {"nodes": ["a", {"name": "b", "type": "tiny", '
                 '"market": "on-demand"}]}]\n[2000, "remove", {"nodes": ["a"]}]\n')
    trace = read_availability_jsonl(path, types={"tiny": small})
    assert trace.nodes["b"] == NodeInfo(name="b", type=small, market="on-demand")
    assert trace.alive_at(2.0) == ("b",)
    out = tmp_path / "b.jsonl"
    write_availability_jsonl(trace, out)
    again = read_availability(out, types={"tiny": small})
    assert again.events == trace.events
    assert dict(again.nodes) == dict(trace.nodes)


@pytest.mark.parametrize(("text", "match", "column"), [
    ("0,add\n", "expected 3 fields", None),
    ("x,add,n\n", "t_ms must be a number", "t_ms"),
    ("-5,add,n\n", "finite and >= 0", "t_ms"),
    ("nan,add,n\n", "finite and >= 0", "t_ms"),
    ("0,join,n\n", "'add' or 'remove'", "event"),
    ("0,add,\n", "node name is empty", "node"),
])
def test_csv_rejects_malformed_rows(tmp_path: Path, text: str, match: str,
                                    column: str | None) -> None:
    path = write(tmp_path, "bad.csv", "0,add,ok\n" + text)
    with pytest.raises(TraceFormatError, match=match) as info:
        read_availability_csv(path)
    assert info.value.line == 2
    assert info.value.column == column
    assert info.value.path == str(path)


@pytest.mark.parametrize(("text", "match"), [
    ("0,add,a\n0,add,a\n", "already alive"),
    ("0,remove,a\n", "is not alive"),
])
def test_csv_rejects_inconsistent_events(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(TraceFormatError, match=match):
        read_availability_csv(write(tmp_path, "bad.csv", text))


@pytest.mark.parametrize(("line", "match"), [
    ("{not json", "invalid JSON"),
    ('{"t": 0}', "expected \\[t_ms"),
    ('["0", "add", {"nodes": ["a"]}]', "t_ms must be a number"),
    ('[0, "grow", {"nodes": ["a"]}]', "one of add, remove, DONE, other"),
    ('[0, "add", ["a"]]', "nodes"),
    ('[0, "add", {"nodes": [5]}]', "name or an object"),
    ('[0, "add", {"nodes": [{"name": "a", "type": "p5"}]}]', "unknown node type"),
    ('[0, "add", {"nodes": [{"name": "a", "market": "cheap"}]}]', "market must be"),
])
def test_jsonl_rejects_malformed_lines(tmp_path: Path, line: str, match: str) -> None:
    path = write(tmp_path, "bad.jsonl", '[0, "add", {"nodes": ["ok"]}]\n' + line + "\n")
    with pytest.raises(TraceFormatError, match=match) as info:
        read_availability_jsonl(path)
    assert info.value.line == 2


def test_queries_and_cost() -> None:
    nodes = {"od": NodeInfo(name="od", type=G4DN_12XLARGE, market="on-demand")}
    trace = AvailabilityTrace.from_events(
        [(0.0, "add", "od"), (0.0, "add", "s"), (1800.0, "remove", "s"), (1800.0, "add", "t")],
        nodes=nodes)
    assert trace.max_alive == 2
    cost = trace.cost(end=3600.0)
    assert cost["on-demand"] == pytest.approx(G4DN_12XLARGE.price_on_demand)
    assert cost["spot"] == pytest.approx(G4DN_12XLARGE.price_spot)  # two half hours
    assert trace.mean_alive(0.0, 3600.0) == pytest.approx(2.0)
    assert [t for t, _ in events_by_time(trace)] == [0.0, 1800.0]
    clipped = trace.clipped(900.0, 2700.0)
    assert clipped.alive_at(0.0) == ("od", "s")
    assert clipped.alive_at(900.0) == ("od", "t")
    with pytest.raises(WorkloadError, match="must exceed"):
        trace.mean_alive(5.0, 5.0)


# SpotServe's trace segments as shipped: .txt suffix, DONE, other and required_tpt.
SEGMENT = ('[0, "add", {"nodes": ["node-0", "node-1", "node-2"]}]\n'
           '[120000, "add", {"nodes": ["node-3"]}]\n'
           '[300000, "other", {"nodes": [], "required_tpt": 0.8}]\n'
           '[600000, "remove", {"nodes": ["node-1", "node-3"], "required_tpt": 0.6}]\n'
           '[1140000, "DONE", {"nodes": []}]\n')


def test_segment_events_of_every_kind(tmp_path: Path) -> None:
    trace = read_availability(write(tmp_path, "trace_0304_workload.txt", SEGMENT))
    assert trace.alive_at(119.0) == ("node-0", "node-1", "node-2")
    assert trace.alive_at(120.0) == ("node-0", "node-1", "node-2", "node-3")   # add
    assert trace.alive_at(600.0) == ("node-0", "node-2")                       # remove
    assert trace.alive_at(1140.0) == ()                                        # DONE
    assert trace.stop_time == 1140.0
    assert trace.end_time == 1140.0
    assert trace.targets == ((300.0, 0.8), (600.0, 0.6))                       # other, tpt
    assert trace.target_at(299.0) is None
    assert trace.target_at(700.0) == 0.6
    # DONE releases every node held, so each is billed up to it and no further.
    assert trace.node_hours(end=5000.0)["spot"] == pytest.approx(
        (2 * 1140 + 600 + 480) / 3600)


def test_segment_round_trip_and_forced_format(tmp_path: Path) -> None:
    trace = read_availability(write(tmp_path, "seg.txt", SEGMENT), format="jsonl")
    out = tmp_path / "again.jsonl"
    write_availability_jsonl(trace, out)
    again = read_availability(out)
    assert again.events == trace.events
    assert again.targets == trace.targets
    assert again.stop_time == trace.stop_time
    csv_txt = write(tmp_path, "g4dn.txt", "0,add,a\n1000,remove,a\n")
    assert len(read_availability(csv_txt)) == 2                 # sniffed, not by suffix
    with pytest.raises(TraceFormatError, match="expected 3 fields"):
        read_availability(write(tmp_path, "x.txt", SEGMENT), format="csv")
    with pytest.raises(TraceFormatError, match="format must be"):
        read_availability(csv_txt, format="parquet")  # type: ignore[arg-type]


def test_clipping_keeps_targets_and_done(tmp_path: Path) -> None:
    trace = read_availability(write(tmp_path, "seg.txt", SEGMENT))
    part = trace.clipped(400.0, 2000.0)
    assert part.target_at(0.0) == 0.8
    assert part.stop_time == 740.0
    assert part.alive_at(200.0) == ("node-0", "node-2")


@pytest.mark.parametrize(("lines", "match"), [
    ('[5, "DONE", {"nodes": []}]\n[6, "add", {"nodes": ["b"]}]', "follows DONE"),
    ('[5, "DONE", {"nodes": ["ok"]}]', "names no nodes"),
    ('[5, "other", {"nodes": []}]', "needs a required_tpt"),
    ('[5, "other", {"nodes": [], "required_tpt": -1}]', "required_tpt must be a positive"),
    ('[5, "add", {"nodes": ["b"], "required_tpt": "fast"}]', "required_tpt must be"),
])
def test_segment_rejects_malformed_events(tmp_path: Path, lines: str, match: str) -> None:
    path = write(tmp_path, "bad.txt", '[0, "add", {"nodes": ["ok"]}]\n' + lines + "\n")
    with pytest.raises(TraceFormatError, match=match):
        read_availability(path)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.booleans()), min_size=1, max_size=20),
       st.lists(st.tuples(st.integers(0, 60), st.floats(0.05, 5.0)), max_size=4),
       st.booleans())
def test_segments_round_trip(tmp_path_factory: pytest.TempPathFactory,
                             steps: list[tuple[int, bool]], goals: list[tuple[int, float]],
                             done: bool) -> None:
    """Any valid event sequence, with targets and DONE, survives writing and reading."""
    events, alive, serial, t = [], [], 0, 0.0
    for gap, add in steps:
        t += gap
        if add or not alive:
            events.append((t, "add", f"n{serial}"))
            alive.append(f"n{serial}")
            serial += 1
        else:
            events.append((t, "remove", alive.pop(0)))
    stop = t + 10.0 if done else None
    targets = [(float(s), round(v, 3)) for s, v in goals if stop is None or s <= stop]
    trace = AvailabilityTrace.from_events(events, targets=targets, stop_time=stop)
    path = tmp_path_factory.mktemp("seg") / "seg.txt"
    write_availability_jsonl(trace, path)
    again = read_availability(path)
    assert again.events == trace.events
    assert again.targets == trace.targets
    assert again.stop_time == trace.stop_time
    if stop is not None:
        assert again.alive_at(stop) == ()


def test_bom_binary_and_out_of_range_times(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"\xef\xbb\xbf0,add,n1\n3600000,remove,n1\n")
    assert len(read_availability_csv(path)) == 2
    path.write_bytes(b"0,add,n1\n\xff,add,n2\n")
    with pytest.raises(TraceFormatError, match=r"line 2: not UTF-8"):
        read_availability_csv(path)
    path.write_text("1e300,add,n1\n")
    with pytest.raises(TraceFormatError, match=r"line 1, column 't_ms'.*out of range"):
        read_availability_csv(path)
    deep = tmp_path / "a.jsonl"
    deep.write_text("[" * 100_000 + "\n")
    with pytest.raises(TraceFormatError, match="line 1: invalid JSON"):
        read_availability_jsonl(deep)
