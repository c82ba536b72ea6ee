"""Traces as workloads for ``plan`` and ``simulate``: flags, the spec a plan file keeps,
and reading a trace into training and test parts.

A trace becomes a workload in four steps, each recorded in the spec:

1. read with the reader of its format (Azure Functions 2019/2021, Azure LLM 2023/2024,
   generic CSV; ``--trace-format``, detected from the header by default);
2. cut to the window ``[--start, --end)`` seconds after the first request, re-based to 0;
3. sped up ``--rate-scale`` times (every gap divided by it; burstiness kept);
4. mapped onto the plan's models (``--map``, see :mod:`workloads.mapping`): ``auto`` keeps
   the trace's names when they are the plan's models, spreads a single stream (Azure LLM)
   round-robin over all models and deals the functions of a function trace round-robin by
   popularity; ``power-law`` (``--map-alpha``, ``--seed``), ``prompt-buckets`` and a
   mapping file (``--map-file``, JSON ``{"function": "model"}`` or CSV ``function,model``)
   are the others.

The first ``--train-fraction`` of the window's span trains the plan; the rest tests it.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from alpaserve.errors import SpecError

TRACE_FORMATS = ("auto", "azure-llm", "azure-2019", "azure-2021", "csv", "saved")
MAP_POLICIES = ("auto", "by-function", "popularity", "round-robin", "power-law",
                "prompt-buckets")
# Flags that only make sense for one kind of workload (dest, flag).
TRACE_ONLY = (("trace_format", "--trace-format"), ("start", "--start"), ("end", "--end"),
              ("rate_scale", "--rate-scale"), ("map", "--map"), ("map_file", "--map-file"),
              ("map_alpha", "--map-alpha"), ("train_fraction", "--train-fraction"))
MIX_ONLY = (("rate", "--rate"), ("cv", "--cv"), ("zipf", "--zipf"), ("duration", "--duration"))


def add_trace_flags(parser: argparse.ArgumentParser, *, simulate: bool = False) -> None:
    """Add the trace flags; every default is None so that a plan file's values can fill in.

    Parameters
    ----------
    parser
        The subcommand's parser.
    simulate
        Also add ``--part`` (which part of the window ``simulate`` replays).

    Returns
    -------
    None

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_trace_flags(p)
    >>> p.parse_args(["--trace", "t.csv", "--rate-scale", "2"]).rate_scale
    2.0
    """
    g = parser.add_argument_group("trace workload (instead of a synthetic mix)")
    g.add_argument("--trace", metavar="FILE",
                   help="a trace file: Azure LLM 2023/2024, Azure Functions 2019/2021, a "
                        "generic CSV (arrival_s,model,...) or a saved workload (.npz, .parquet)")
    g.add_argument("--trace-format", choices=TRACE_FORMATS, default=None,
                   help="the trace's format (default: detect from the header)")
    g.add_argument("--start", type=float, default=None, metavar="S",
                   help="window start, seconds after the trace's first request (default 0)")
    g.add_argument("--end", type=float, default=None, metavar="S",
                   help="window end, seconds after the first request (default: the end)")
    g.add_argument("--rate-scale", type=float, default=None, metavar="X",
                   help="replay the trace X times faster (default 1)")
    g.add_argument("--map", choices=MAP_POLICIES, default=None,
                   help="how trace requests map onto the models (default auto: a single "
                        "stream round-robin over all models, functions by popularity rank)")
    g.add_argument("--map-file", metavar="FILE", default=None,
                   help="explicit function -> model table (.json object or .csv "
                        "function,model)")
    g.add_argument("--map-alpha", type=float, default=None,
                   help="power-law exponent of --map power-law (default 1)")
    g.add_argument("--train-fraction", type=float, default=None,
                   help="the early part of the window that trains the plan (default 0.5)")
    if simulate:
        g.add_argument("--part", choices=("test", "train", "all"), default=None,
                       help="which part of the window to replay (default: the held-out test "
                            "part for the plan's own trace, all of a different trace)")


@dataclass(frozen=True, kw_only=True)
class TraceSpec:
    """Everything needed to rebuild a trace workload (kept in the plan file).

    Examples
    --------
    >>> TraceSpec(path="t.csv", rate_scale=2.0).to_dict()["rate_scale"]
    2.0
    """

    path: str
    format: str = "auto"
    start: float = 0.0
    end: float | None = None
    rate_scale: float = 1.0
    map: str = "auto"
    map_file: str | None = None
    map_alpha: float = 1.0
    seed: int = 0
    train_fraction: float = 0.5

    def __post_init__(self) -> None:
        if self.format not in TRACE_FORMATS:
            raise SpecError(f"--trace-format must be one of {list(TRACE_FORMATS)}, got "
                            f"{self.format!r}")
        if not (math.isfinite(self.start) and self.start >= 0):
            raise SpecError(f"--start must be >= 0 seconds, got {self.start!r}")
        if self.end is not None and not (math.isfinite(self.end) and self.end > self.start):
            raise SpecError(f"--end must exceed --start ({self.start:g}), got {self.end!r}")
        if not (math.isfinite(self.rate_scale) and self.rate_scale > 0):
            raise SpecError(f"--rate-scale must be positive, got {self.rate_scale!r}")
        if not 0 < self.train_fraction < 1:
            raise SpecError(f"--train-fraction must be in (0, 1), got {self.train_fraction!r}")
        if self.map not in (*MAP_POLICIES, "explicit"):
            raise SpecError(f"--map must be one of {list(MAP_POLICIES)}, got {self.map!r}")
        if self.map_file is not None and self.map not in ("auto", "explicit"):
            raise SpecError(f"--map-file is an explicit mapping; it cannot go with --map "
                            f"{self.map}")
        if self.map_file is not None:
            object.__setattr__(self, "map", "explicit")
        elif self.map == "explicit":
            raise SpecError("an explicit mapping needs --map-file")

    def to_dict(self) -> dict[str, Any]:
        """The plan file's workload spec (``"kind": "trace"`` and every field)."""
        return {"kind": "trace", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TraceSpec:
        """The spec from :meth:`to_dict` output; other keys (a report's) are ignored."""
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**fields)


@dataclass(frozen=True, kw_only=True)
class TraceParts:
    """A trace read, windowed, scaled and mapped; its training and test parts.

    ``report`` is the spec plus what was read: the format, the rows, the mapping used and
    the requests per model, and the ``train_span``/``test_span`` (seconds after the window
    start, rate scaling applied) with their request counts. See :func:`load_trace`. The
    ``alpaserve llm`` commands keep their workloads (trace or synthetic) in it too
    (:func:`alpaserve.cli._llm.workload.build_workload`).
    """

    workload: Any
    train: Any
    test: Any
    report: dict[str, Any]

    def part(self, name: str) -> Any:
        """``"train"``, ``"test"`` or ``"all"`` (the whole window)."""
        return {"train": self.train, "test": self.test, "all": self.workload}[name]


def spec_from_args(args: argparse.Namespace, base: dict[str, Any] | None = None) -> TraceSpec:
    """The trace spec from the flags, falling back on ``base`` (a plan file's) then defaults.

    Parameters
    ----------
    args
        Parsed flags of :func:`add_trace_flags` (and ``--seed``).
    base
        A plan file's trace spec, or None.

    Returns
    -------
    TraceSpec
        Given flags win; a new ``--map`` drops the plan's mapping file.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_trace_flags(p)
    >>> args = p.parse_args(["--start", "60"])
    >>> spec = spec_from_args(args, {"kind": "trace", "path": "t.csv", "rate_scale": 4.0})
    >>> spec.path, spec.start, spec.rate_scale, spec.map
    ('t.csv', 60.0, 4.0, 'auto')
    """
    values = dict(base or {})
    values.pop("kind", None)
    values.pop("sha256", None)
    for key in ("train_span", "test_span", "requests"):
        values.pop(key, None)
    if args.trace is not None:
        values["path"] = args.trace
    for dest, _ in TRACE_ONLY:
        given = getattr(args, dest, None)
        if given is not None:
            values["format" if dest == "trace_format" else dest] = given
    if getattr(args, "seed", None) is not None:
        values["seed"] = args.seed
    if args.map is not None and args.map_file is None:  # a new policy drops the plan's table
        values["map_file"] = None
    return TraceSpec.from_dict(values)


def check_flag_kinds(args: argparse.Namespace, *, trace: bool) -> None:
    """Raise a one-line error for flags of the other kind of workload (never ignored).

    Parameters
    ----------
    args
        Parsed flags; a flag counts as given when it is not None.
    trace
        Whether the workload is a trace (then mix flags are errors) or a mix.

    Returns
    -------
    None

    Examples
    --------
    >>> try:
    ...     check_flag_kinds(argparse.Namespace(rate=5.0), trace=True)
    ... except SpecError as exc:
    ...     print(exc)
    --rate: flag of a synthetic workload, not of a trace; scale a trace's rate with --rate-scale
    """
    wrong = MIX_ONLY if trace else TRACE_ONLY
    given = [flag for dest, flag in wrong if getattr(args, dest, None) is not None]
    s = "" if len(given) == 1 else "s"
    if trace and given:
        raise SpecError(f"{', '.join(given)}: flag{s} of a synthetic workload, not of a trace; "
                        "scale a trace's rate with --rate-scale")
    if not trace and given:
        raise SpecError(f"{', '.join(given)}: flag{s} of a trace workload; give --trace FILE")


def read_mapping_file(path: str) -> dict[str, str]:
    """A function -> model table from JSON (an object) or CSV (``function,model`` rows).

    Parameters
    ----------
    path
        The file; ``.json`` is read as JSON, anything else as CSV (optional header).

    Returns
    -------
    dict
        Function name to model name.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "map.csv")
    ...     _ = open(p, "w").write("function,model\\nf1,bert#0\\nf2,bert#1\\n")
    ...     read_mapping_file(p)
    {'f1': 'bert#0', 'f2': 'bert#1'}
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read mapping file {path!r}: {exc.strerror}") from exc
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"mapping file {path!r} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise SpecError(f"mapping file {path!r} must hold an object of "
                            '"function": "model" strings')
        return {str(k): v for k, v in data.items()}
    table: dict[str, str] = {}
    for line, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or (line == 1 and [c.strip() for c in row] == ["function", "model"]):
            continue
        if len(row) != 2:
            raise SpecError(f"mapping file {path!r} line {line}: expected function,model, "
                            f"got {len(row)} fields")
        table[row[0]] = row[1].strip()
    return table


def _read(spec: TraceSpec, names: tuple[str, ...]) -> tuple[Any, str, int]:
    from alpaserve.cli.trace_cmd import detect_format
    from workloads.function_mapping import FunctionMapping
    from workloads.traces import (
        AzureFunctions2019Spec,
        AzureFunctions2021Spec,
        read_azure_functions_2019,
        read_azure_functions_2021,
        read_azure_llm,
        read_generic_csv,
    )

    path = Path(spec.path)
    fmt = detect_format(path) if spec.format == "auto" else spec.format
    if fmt == "saved":  # a workload saved by alpaserve (.npz or .parquet): its own models
        from workloads.storage import load_workload

        saved = load_workload(path)
        return saved, fmt, len(saved)
    if fmt in ("azure-2019", "azure-2021"):
        if spec.map in ("explicit", "prompt-buckets"):
            raise SpecError(f"--map {spec.map} needs a trace that names its functions per "
                            "request (generic CSV) or has prompt lengths (Azure LLM); the "
                            "Azure Functions readers map functions while reading")
        fm = FunctionMapping(num_models=len(names), model_names=names,
                             policy="popularity" if spec.map == "popularity" else "round_robin")
        if fmt == "azure-2019":
            result = read_azure_functions_2019(path, AzureFunctions2019Spec(mapping=fm),
                                               seed=spec.seed)
        else:
            result = read_azure_functions_2021(path, AzureFunctions2021Spec(mapping=fm))
    elif fmt == "azure-llm":
        result = read_azure_llm(path)
    else:
        result = read_generic_csv(path)
    return result.workload, fmt, result.rows


def load_trace(spec: TraceSpec, model_names: tuple[str, ...]) -> TraceParts:
    """Read ``spec``'s trace onto ``model_names`` and split it into training and test parts.

    Parameters
    ----------
    spec
        The trace, window, rate scale, mapping and split.
    model_names
        The plan's models.

    Returns
    -------
    TraceParts
        The workload of the window, its parts and a report of the spans used.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "t.csv")
    ...     _ = open(p, "w").write("arrival_s,model\\n" + "".join(f"{i},f\\n" for i in range(8)))
    ...     parts = load_trace(TraceSpec(path=p, rate_scale=2.0), ("a", "b"))
    >>> parts.report["requests_per_model"], [round(t, 3) for t in parts.report["test_span"]]
    ({'a': 4, 'b': 4}, [1.75, 3.5])
    """
    from workloads.mapping import StreamMapping, map_requests
    from workloads.rescale import scale_time

    raw, fmt, rows = _read(spec, model_names)
    # times count from the first request (a generic CSV or a saved workload may start later)
    t0 = float(raw.arrival[0]) if len(raw) else 0.0
    last = float(raw.arrival[-1]) - t0 if len(raw) else 0.0
    end = spec.end if spec.end is not None else math.nextafter(last, math.inf)
    if end <= spec.start:
        raise SpecError(f"--start {spec.start:g} s is past the trace's last request "
                        f"({last:g} s after its first)")
    hi = math.nextafter(float(raw.arrival[-1]), math.inf) if spec.end is None else t0 + end
    window = raw.window(t0 + spec.start, hi, rebase=True)
    if len(window) < 2:
        raise SpecError(f"the window [{spec.start:g}, {end:g}) s of {spec.path!r} holds "
                        f"{len(window)} request(s); at least 2 are needed")
    length = (end - spec.start) / spec.rate_scale
    if spec.rate_scale != 1.0:
        window = scale_time(window, 1.0 / spec.rate_scale)
    explicit = read_mapping_file(spec.map_file) if spec.map_file else None
    if fmt in ("azure-2019", "azure-2021") and spec.map in ("auto", "by-function",
                                                           "popularity"):
        mapping = map_requests(window, StreamMapping(model_names=model_names, policy="auto"))
        policy = "by-function" if spec.map == "auto" else spec.map
    else:
        mapping = map_requests(window, StreamMapping(
            model_names=model_names, policy=spec.map,  # type: ignore[arg-type]
            alpha=spec.map_alpha, seed=spec.seed, explicit=explicit))
        policy = mapping.policy
    workload = mapping.workload
    cut = spec.train_fraction * length
    train = workload.window(0.0, cut)
    test = workload.window(cut, math.nextafter(length, math.inf))
    report = {**spec.to_dict(), "format": fmt, "end": end, "rows_read": rows,
              "requests": len(workload), "mapping_used": policy,
              "requests_per_model": mapping.requests_per_model,
              "train_span": [0.0, cut], "test_span": [cut, length],
              "train_requests": len(train), "test_requests": len(test)}
    return TraceParts(workload=workload, train=train, test=test, report=report)


def describe(report: dict[str, Any], part: str) -> str:
    """One line saying which spans of which trace were used.

    Examples
    --------
    >>> describe({"path": "t.csv", "start": 0.0, "end": 60.0, "rate_scale": 2.0,
    ...           "mapping_used": "round-robin", "train_span": [0.0, 15.0],
    ...           "test_span": [15.0, 30.0], "train_requests": 10, "test_requests": 12},
    ...          "test").split(": ")[1]
    'trained on [0, 15] s (10 requests), tested on [15, 30] s (12 requests)'
    """
    (a, b), (c, d) = report["train_span"], report["test_span"]
    head = (f"trace {report['path']} [{report['start']:g}, {report['end']:.6g}) s at "
            f"{report['rate_scale']:g}x rate, mapped {report['mapping_used']}: ")
    train = f"[{a:.6g}, {b:.6g}] s ({report['train_requests']} requests)"
    test = f"[{c:.6g}, {d:.6g}] s ({report['test_requests']} requests)"
    if part == "test":
        return head + f"trained on {train}, tested on {test}"
    if part == "train":
        return head + f"replaying the training part {train}"
    return head + f"replaying the whole window ({report['requests']} requests)"
