"""``alpaserve llm plan`` / ``alpaserve llm simulate``: many LLMs on one cluster.

Example::

    alpaserve llm plan --models llama-2-7b:2,llama-2-13b --devices 8 \\
        --trace AzureLLMInferenceTrace_code.csv --alpha 1.2 --out llm_plan.json
    alpaserve llm simulate llm_plan.json --json

``plan`` reads a workload of LLM requests (an Azure LLM 2023/2024 trace, a CSV with a model
column and token counts, or, without ``--trace``, a synthetic Gamma stream with built-in
token counts), splits it across ``--models`` (a power law for a single stream), fits each
request to its model's context (counted and reported), plans a placement on the early part
(``--method``: the token-level-simulator-guided search, one dedicated group per model, or
MuxServe-style popularity placement) and scores it on the held-out rest. ``--out`` writes
the LLM plan file (:mod:`alpaserve.llm.plan_file`); ``simulate`` replays its held-out
workload (or another trace) and prints per-model TTFT and TPOT percentiles, SLO attainment,
goodput, tokens per second, KV utilisation, preemptions and rejections (``--json``: strict
JSON). The workload flags are described in :mod:`alpaserve.cli._llm.workload`.
"""

from __future__ import annotations

import argparse

# (name, module of run(), register(), one-line help)
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("plan", "alpaserve.cli._llm.plan",
     "plan a placement of many LLMs for a trace or a synthetic stream"),
    ("simulate", "alpaserve.cli._llm.simulate",
     "token-level simulation of an LLM plan file under its held-out workload (or a trace)"),
)


def register(parser: argparse.ArgumentParser) -> None:
    """Add ``plan`` and ``simulate`` under ``alpaserve llm``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The ``llm`` subcommand's parser; its sub-commands are added in place. Each sets
        ``command`` (``"llm plan"``, for messages) and ``llm_module`` (what runs it).

    Returns
    -------
    None
    """
    from alpaserve.cli._checks import OneLineParser
    from alpaserve.cli._llm import args as llm_args

    sub = parser.add_subparsers(dest="llm_command", metavar="COMMAND", required=True,
                                parser_class=OneLineParser)
    for name, module, help_text in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text,
                           prog=f"alpaserve llm {name}", allow_abbrev=False)
        p.set_defaults(command=f"llm {name}", llm_module=module)
        (llm_args.register_plan if name == "plan" else llm_args.register_simulate)(p)


def run(args: argparse.Namespace) -> int:
    """Run ``alpaserve llm plan`` or ``alpaserve llm simulate``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags.

    Returns
    -------
    int
        The exit status: 0. Errors raise the library's exceptions, which
        :func:`alpaserve.cli.main` prints as one line with exit status 2.
    """
    import importlib

    return int(importlib.import_module(args.llm_module).run(args) or 0)
