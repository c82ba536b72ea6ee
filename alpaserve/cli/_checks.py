"""Checked argparse types: every flag is validated while the command line is parsed, before
any work starts, and a bad value is one line on stderr that names it and what is allowed.

Numbers must be finite and lie in a documented range; the caps below keep a typo from
turning into hours of work or gigabytes of memory:

==================  =========================================================
``MAX_RATE``        1e6 requests per second
``MAX_CV``          100 (a Gamma process at CV ``c`` bursts ~``c**2`` requests)
``MAX_DURATION``    1e7 seconds (about 116 days)
``MAX_ZIPF``        100 (power-law exponent)
``MAX_BATCH``       256 requests per batch
``MAX_TOKENS``      1,048,576 tokens per prompt or output
``MAX_SECONDS``     1e6 seconds for SLOs, windows, grace periods and warmups
``MAX_DEVICES``     4096 devices
``MAX_COUNT``       1e6 models, requests, repeats or workers
``MAX_BLOCK_SIZE``  4096 tokens per KV-cache block
``MAX_NODE``        64 devices per node
==================  =========================================================

The path types (inputs, outputs, cache directories) are in
:mod:`alpaserve.cli._path_checks` and re-exported here, so that every command reads its flag
types from this one module.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from alpaserve.cli._path_checks import (
    PLOT_SUFFIXES,
    TABLE_SUFFIXES,
    cache_dir,
    input_file,
    json_file,
    output_file,
    plot_file,
    table_file,
    trace_or_synthetic,
)

__all__ = [
    "MAX_BATCH", "MAX_BLOCK_SIZE", "MAX_COUNT", "MAX_CV", "MAX_DEVICES", "MAX_DURATION",
    "MAX_NODE", "MAX_RATE", "MAX_SECONDS", "MAX_SEED", "MAX_TOKENS", "MAX_ZIPF",
    "PLOT_SUFFIXES", "TABLE_SUFFIXES", "OneLineParser", "batch", "block_size", "cache_dir",
    "count", "count_or_zero", "cv", "devices", "duration", "fits_context", "input_file",
    "json_file", "load_placement", "one_line", "output_file", "per_node", "planned_max_batch",
    "plot_file", "rate", "real", "report_unexpected", "scale", "seconds", "seconds_or_zero",
    "seed", "table_file", "tokens", "trace_or_synthetic", "whole", "zipf",
]

MAX_RATE = 1e6
MAX_CV = 100.0
MAX_DURATION = 1e7
MAX_ZIPF = 100.0
MAX_BATCH = 256
MAX_TOKENS = 1 << 20
MAX_SECONDS = 1e6
MAX_DEVICES = 4096
MAX_COUNT = 1_000_000
MAX_SEED = 2**63 - 1
MAX_BLOCK_SIZE = 4096
MAX_NODE = 64

_INT = re.compile(r"[+-]?\d+")


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line (``PROG: error: ...``), exit 2.

    Examples
    --------
    >>> p = OneLineParser(prog="demo")
    >>> _ = p.add_argument("--n", type=int)
    >>> try:
    ...     p.parse_args(["--n", "x"])
    ... except SystemExit as exc:
    ...     print(exc.code)
    2
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) made one space.

    Examples
    --------
    >>> one_line("a\\n  b ")
    'a b'
    """
    return " ".join(str(text).split())


def _num(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def _range_text(lo: float | None, hi: float | None, above: bool) -> str:
    if lo is None:
        return f"at most {_num(hi or 0)}"
    low = f"above {_num(lo)}" if above else f"at least {_num(lo)}"
    return low if hi is None else f"{low} and at most {_num(hi)}"


def real(lo: float | None = None, hi: float | None = None, *,
         above: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite float in ``[lo, hi]`` (``(lo, hi]`` with ``above``).

    Parameters
    ----------
    lo, hi
        Bounds; ``None`` leaves that side open.
    above
        Exclude ``lo`` itself (for values that must be positive).

    Returns
    -------
    Callable[[str], float]
        The parser, raising ``argparse.ArgumentTypeError`` with a one-line message.

    Examples
    --------
    >>> real(0.0, 100.0)("2.5")
    2.5
    >>> try:
    ...     real(0.0, 100.0)("nan")
    ... except argparse.ArgumentTypeError as exc:
    ...     print(exc)
    must be a finite number at least 0 and at most 100, got 'nan'
    """
    allowed = _range_text(lo, hi, above)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(
                f"must be a finite number {allowed}, got {text!r}") from None
        low_ok = lo is None or value > lo or (value == lo and not above)
        if not (math.isfinite(value) and low_ok and (hi is None or value <= hi)):
            raise argparse.ArgumentTypeError(f"must be a finite number {allowed}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


def whole(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in ``[lo, hi]`` (digits only, no ``1e3`` or ``2.0``).

    Parameters
    ----------
    lo, hi
        Inclusive bounds; ``None`` leaves that side open.

    Returns
    -------
    Callable[[str], int]
        The parser, raising ``argparse.ArgumentTypeError`` with a one-line message.

    Examples
    --------
    >>> whole(1, MAX_BATCH)("16")
    16
    >>> try:
    ...     whole(1, MAX_BATCH)("100000")
    ... except argparse.ArgumentTypeError as exc:
    ...     print(exc)
    must be an integer at least 1 and at most 256, got '100000'
    """
    allowed = _range_text(lo, hi, False)

    def parse(text: str) -> int:
        stripped = str(text).strip()
        if not _INT.fullmatch(stripped) or len(stripped) > 20:
            raise argparse.ArgumentTypeError(f"must be an integer {allowed}, got {text!r}")
        value = int(stripped)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be an integer {allowed}, got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


# The types most flags use, named once so that every command documents the same caps.
rate = real(0.0, MAX_RATE, above=True)
cv = real(0.0, MAX_CV, above=True)  # the commands' Gamma draws need a positive CV
duration = real(0.0, MAX_DURATION, above=True)
zipf = real(0.0, MAX_ZIPF)
seconds = real(0.0, MAX_SECONDS, above=True)
seconds_or_zero = real(0.0, MAX_SECONDS)
scale = real(0.0, 1e6, above=True)
seed = whole(0, MAX_SEED)
batch = whole(1, MAX_BATCH)
tokens = whole(1, MAX_TOKENS)
devices = whole(1, MAX_DEVICES)
count = whole(1, MAX_COUNT)
count_or_zero = whole(0, MAX_COUNT)
block_size = whole(1, MAX_BLOCK_SIZE)
per_node = whole(1, MAX_NODE)


def fits_context(prompt: int, output: int, model: str, context: int) -> None:
    """Raise :class:`~alpaserve.errors.SpecError` unless a ``prompt + output`` request fits
    ``model``'s context, with at most half of it generated (the LLM workloads' rule), so a
    token count is rejected with its cap instead of being clipped.

    Examples
    --------
    >>> fits_context(512, 128, "gpt", 2048)
    >>> try:
    ...     fits_context(512, 10_000_000, "gpt", 2048)
    ... except Exception as exc:
    ...     print(exc)
    --output-tokens 10000000 is above the cap for gpt: at most 1024 (half its 2048-token context)
    """
    from alpaserve.errors import SpecError

    if output > context // 2:
        raise SpecError(f"--output-tokens {output} is above the cap for {model}: at most "
                        f"{context // 2} (half its {context}-token context)")
    if prompt + output > context:
        raise SpecError(f"--prompt-tokens {prompt} + --output-tokens {output} exceed {model}'s "
                        f"{context}-token context; at most {context - output} prompt tokens")


def load_placement(path: Path) -> Any:
    """The :class:`~alpaserve.placement_spec.Placement` in ``path``; an error names the file.

    Examples
    --------
    >>> try:
    ...     load_placement(Path("/no/plan.json"))
    ... except Exception as exc:
    ...     print(exc)
    cannot read placement '/no/plan.json': No such file or directory
    """
    from alpaserve.errors import SpecError
    from alpaserve.placement_spec import Placement
    from alpaserve.strict_json import read_text

    text = read_text(path, "placement")
    try:
        return Placement.from_json(text)
    except SpecError as exc:
        raise SpecError(f"placement {str(path)!r}: {exc}") from exc


def planned_max_batch(flag: int | None, plan_file: Any, path: Path) -> int:
    """``--max-batch`` if given, else the plan file's ``max_batch``, else 1.

    Parameters
    ----------
    flag : int or None
        The parsed ``--max-batch`` (already checked), ``None`` when not given.
    plan_file : PlanFile
        The plan file read (``alpaserve plan --max-batch`` writes ``max_batch`` in its
        summary; a bare placement has none).
    path : pathlib.Path
        Its path, for the error message.

    Returns
    -------
    int
        The largest batch to simulate or serve with.

    Raises
    ------
    SpecError
        When the plan file's ``max_batch`` is not an integer in ``1..MAX_BATCH``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> planned_max_batch(None, SimpleNamespace(summary={"max_batch": 4}), Path("p.json"))
    4
    >>> planned_max_batch(2, SimpleNamespace(summary={}), Path("p.json"))
    2
    """
    from alpaserve.errors import SpecError

    if flag is not None:
        return int(flag)
    planned = (plan_file.summary or {}).get("max_batch", 1)
    if isinstance(planned, bool) or not isinstance(planned, int) \
            or not 1 <= planned <= MAX_BATCH:
        raise SpecError(f"{path}: max_batch must be an integer in 1...{MAX_BATCH}, "
                        f"got {planned!r}")
    return planned


def report_unexpected(command: str, exc: BaseException) -> None:
    """Print an exception that escaped a command as one line on stderr."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename!s}" if exc.filename else ""
        message = f"{exc.strerror}{where}"
    else:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    print(f"alpaserve {command}: error: {one_line(message)} (rerun with --debug for the "
          "traceback)", file=sys.stderr)
