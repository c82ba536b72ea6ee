"""Flags of ``alpaserve llm plan`` and ``alpaserve llm simulate``, checked while parsing.

Numbers use the caps of :mod:`alpaserve.cli._checks` (devices <= ``MAX_DEVICES``, SLOs and
windows <= ``MAX_SECONDS``/``checks.MAX_DURATION``, rate <= ``MAX_RATE``, CV <= ``MAX_CV``, alpha
<= ``MAX_ZIPF``, token budgets <= ``MAX_TOKENS``, block size <= ``MAX_BLOCK_SIZE``, devices
per node <= ``MAX_NODE``). Flags of a trace with a synthetic workload, or the other way
round, are errors, never ignored.
"""

from __future__ import annotations

import argparse
import math

from alpaserve.cli import _checks as checks
from alpaserve.cli._llm.workload import SPLITS, TRACE_FORMATS
from alpaserve.errors import SpecError

METHODS = ("search", "dedicated", "muxserve")
TTFT_SLO_DEFAULT = 1.0
TPOT_SLO_DEFAULT = 0.1
MAX_WORKERS = 1024  # as `alpaserve plan --workers`
SYNTHETIC_DEFAULTS = {"rate": 2.0, "cv": 1.0, "duration": 120.0}
# (dest, flag) of the flags that belong to one kind of workload only.
TRACE_ONLY = (("trace_format", "--trace-format"), ("window", "--window"),
              ("rate_scale", "--rate-scale"))
SYNTHETIC_ONLY = (("rate", "--rate"), ("cv", "--cv"), ("duration", "--duration"))


def fraction(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1.

    Examples
    --------
    >>> fraction("0.25")
    0.25
    >>> try:
    ...     fraction("1")
    ... except argparse.ArgumentTypeError as exc:
    ...     print(exc)
    must be a number strictly between 0 and 1, got '1'
    """
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number strictly between 0 and 1, "
                                         f"got {text!r}")
    return value


def time_window(text: str) -> tuple[float, float | None]:
    """An argparse type: ``A:B`` seconds, ``0 <= A < B <= checks.MAX_DURATION``; ``A:`` runs to the
    end (``B`` None) and ``:B`` starts at 0.

    Examples
    --------
    >>> time_window("60:600"), time_window("30:"), time_window(":90")
    ((60.0, 600.0), (30.0, None), (0.0, 90.0))
    >>> try:
    ...     time_window("600:60")
    ... except argparse.ArgumentTypeError as exc:
    ...     print(exc)
    must be A:B seconds with 0 <= A < B <= 1e+07, got '600:60'
    """
    message = f"must be A:B seconds with 0 <= A < B <= {checks.MAX_DURATION:g}, got {text!r}"
    head, sep, tail = str(text).partition(":")
    try:
        if not sep:
            raise ValueError
        start = float(head) if head.strip() else 0.0
        end = float(tail) if tail.strip() else None
    except ValueError:
        raise argparse.ArgumentTypeError(message) from None
    ok = math.isfinite(start) and 0.0 <= start <= checks.MAX_DURATION
    if end is not None:
        ok = ok and math.isfinite(end) and start < end <= checks.MAX_DURATION
    if not ok:
        raise argparse.ArgumentTypeError(message)
    return start, end


def add_trace_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--trace`` and the flags that shape a trace's requests (defaults None).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's parser.

    Returns
    -------
    None
    """
    g = parser.add_argument_group("workload")
    g.add_argument("--trace", type=checks.input_file, metavar="FILE",
                   help="an Azure LLM 2023/2024 trace or a CSV (arrival_s,model,"
                        "prompt_tokens,output_tokens); default: a synthetic Gamma stream")
    g.add_argument("--trace-format", choices=TRACE_FORMATS, default=None,
                   help="the trace's format (default: detect from the header)")
    g.add_argument("--window", type=time_window, default=None, metavar="A:B",
                   help="seconds after the trace's first request (default: all of it)")
    g.add_argument("--rate-scale", type=checks.scale, default=None, metavar="X",
                   help="replay the trace X times faster (default 1)")
    g.add_argument("--split", choices=SPLITS, default=None,
                   help="how requests go to the models: power-law (a single stream; "
                        "default for Azure LLM and synthetic) or column (a CSV's model "
                        "column; default for a CSV)")
    g.add_argument("--alpha", type=checks.zipf, default=None,
                   help="power-law exponent of the split: model k gets (k+1)^-alpha of "
                        "the requests (default 1)")
    g.add_argument("--seed", type=checks.seed, default=None,
                   help="seed of the split and of synthetic draws (default 0)")


def add_workers_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--workers N``: threads over a deployment's groups in each engine run.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's parser.

    Returns
    -------
    None
    """
    parser.add_argument("--workers", type=checks.whole(1, MAX_WORKERS), default=1,
                        help="threads over groups in each token-level simulation; groups "
                             "are independent, so the numbers do not change (%(default)s)")


def check_kinds(args: argparse.Namespace, *, trace: bool) -> None:
    """Raise a one-line error for flags of the other kind of workload.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed flags; a flag counts as given when it is not None.
    trace : bool
        Whether the workload is a trace.

    Returns
    -------
    None

    Raises
    ------
    SpecError
        Naming the flags.

    Examples
    --------
    >>> try:
    ...     check_kinds(argparse.Namespace(rate=5.0), trace=True)
    ... except SpecError as exc:
    ...     print(exc)
    --rate: flag of a synthetic workload, not of a trace; speed a trace up with --rate-scale
    """
    wrong = SYNTHETIC_ONLY if trace else TRACE_ONLY
    given = [flag for dest, flag in wrong if getattr(args, dest, None) is not None]
    if not given:
        return
    s = "" if len(given) == 1 else "s"
    if trace:
        raise SpecError(f"{', '.join(given)}: flag{s} of a synthetic workload, not of a "
                        "trace; speed a trace up with --rate-scale")
    raise SpecError(f"{', '.join(given)}: flag{s} of a trace workload; give --trace FILE")


def register_plan(parser: argparse.ArgumentParser) -> None:
    """Add ``alpaserve llm plan``'s flags.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's parser.

    Returns
    -------
    None
    """
    parser.add_argument("--models", required=True,
                        help="comma-separated LLM presets with optional copies, e.g. "
                             "llama-2-7b:2,llama-2-13b (copies are named NAME#0, NAME#1, ...)")
    parser.add_argument("--devices", type=checks.devices, required=True,
                        help=f"GPUs in the cluster (at most {checks.MAX_DEVICES})")
    parser.add_argument("--device", default="a100-80gb", help="GPU preset (%(default)s)")
    parser.add_argument("--gpus-per-node", type=checks.per_node, default=8,
                        help="GPUs per node; tensor parallelism stays within a node "
                             "(%(default)s)")
    parser.add_argument("--ttft-slo", type=checks.seconds, default=TTFT_SLO_DEFAULT,
                        metavar="S", help="time-to-first-token SLO, seconds (%(default)s)")
    parser.add_argument("--tpot-slo", type=checks.seconds, default=TPOT_SLO_DEFAULT,
                        metavar="S", help="time-per-output-token SLO, seconds (%(default)s)")
    parser.add_argument("--method", choices=METHODS, default="search",
                        help="the token-level-simulator-guided search, one dedicated group "
                             "per model (vLLM-style) or MuxServe-style popularity placement "
                             "(%(default)s)")
    parser.add_argument("--train-fraction", type=fraction, default=0.5,
                        help="the early part of the workload that trains the plan; the "
                             "rest tests it (%(default)s)")
    add_trace_flags(parser)
    g = parser.add_argument_group("synthetic workload (without --trace)")
    g.add_argument("--rate", type=checks.rate, default=None,
                   help=f"requests per second over all models "
                        f"({SYNTHETIC_DEFAULTS['rate']:g})")
    g.add_argument("--cv", type=checks.cv, default=None,
                   help=f"inter-arrival CV, 1 is Poisson ({SYNTHETIC_DEFAULTS['cv']:g})")
    g.add_argument("--duration", type=checks.duration, default=None,
                   help=f"seconds ({SYNTHETIC_DEFAULTS['duration']:g})")
    s = parser.add_argument_group("scheduler (per group, vLLM-like)")
    s.add_argument("--max-num-seqs", type=checks.tokens, default=256,
                   help="running sequences per model (%(default)s)")
    s.add_argument("--max-batched-tokens", type=checks.tokens, default=8192,
                   help="tokens per iteration (%(default)s)")
    s.add_argument("--block-size", type=checks.block_size, default=16,
                   help="tokens per KV-cache block (%(default)s)")
    s.add_argument("--chunked-prefill", action="store_true",
                   help="decodes first, prompt chunks fill the token budget (Sarathi)")
    add_workers_flag(parser)
    parser.add_argument("--out", type=checks.json_file, default=None,
                        help="write the LLM plan file here, for `alpaserve llm simulate`")
    parser.add_argument("--json", action="store_true", help="print the plan file's JSON")


def register_simulate(parser: argparse.ArgumentParser) -> None:
    """Add ``alpaserve llm simulate``'s flags.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's parser.

    Returns
    -------
    None
    """
    parser.add_argument("plan", type=checks.input_file, metavar="PLAN",
                        help="an LLM plan file (from `alpaserve llm plan --out`)")
    parser.add_argument("--part", choices=("test", "train", "all"), default=None,
                        help="which part of the workload to replay (default: the held-out "
                             "test part of the plan's own workload, all of another trace)")
    parser.add_argument("--ttft-slo", type=checks.seconds, default=None, metavar="S",
                        help="override the plan's TTFT SLO (seconds, every model)")
    parser.add_argument("--tpot-slo", type=checks.seconds, default=None, metavar="S",
                        help="override the plan's TPOT SLO (seconds, every model)")
    parser.add_argument("--engine", choices=("compiled", "reference"), default="compiled",
                        help="the compiled engine or the SimPy reference (%(default)s)")
    add_trace_flags(parser)
    add_workers_flag(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--out", metavar="FILE", type=checks.table_file,
                        help="also write the per-model rows to FILE (.csv, .parquet or .json)")
    parser.add_argument("--plot", metavar="PNG", type=checks.plot_file,
                        help="write a figure: TTFT and TPOT CDFs per model, KV-cache use per "
                             "group, and over time per group")


def models_from(text: str) -> tuple[str, ...]:
    """Model names from ``--models``: ``PRESET[:COUNT]`` items, copies named ``PRESET#i``.

    Parameters
    ----------
    text : str
        Comma-separated items.

    Returns
    -------
    tuple of str
        The names (a preset with one copy keeps its name).

    Raises
    ------
    SpecError
        An empty list, a bad count (1..1024) or a name given twice.

    Examples
    --------
    >>> models_from("llama-2-7b:2,llama-2-13b")
    ('llama-2-7b#0', 'llama-2-7b#1', 'llama-2-13b')
    """
    names: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        preset, sep, count = part.partition(":")
        if sep and not (count.isdigit() and 1 <= int(count) <= 1024):
            raise SpecError(f"--models {part!r}: the count must be an integer from 1 to 1024")
        copies = int(count) if sep else 1
        names += [preset] if copies == 1 else [f"{preset}#{i}" for i in range(copies)]
    if not names:
        raise SpecError(f"--models {text!r} names no model")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SpecError(f"--models names {twice} twice; give a count instead (NAME:2)")
    return tuple(names)


def preset_of(name: str) -> str:
    """The preset a model copy comes from: ``"llama-2-7b#1"`` -> ``"llama-2-7b"``.

    Parameters
    ----------
    name : str
        A model name from :func:`models_from`.

    Returns
    -------
    str
        The preset's name.

    Examples
    --------
    >>> preset_of("llama-2-7b#1"), preset_of("llama-2-13b")
    ('llama-2-7b', 'llama-2-13b')
    """
    return name.split("#", 1)[0]

