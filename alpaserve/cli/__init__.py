"""The ``alpaserve`` command line.

Each subcommand lives in its own module under ``alpaserve.cli`` and exposes
``register(parser)`` and ``run(args)``. Those modules import heavy code inside ``run``, so
``alpaserve --help`` stays fast. Flags are checked while parsing (``alpaserve.cli._checks``).
Errors print as one line and exit 2, with the traceback only under ``--debug``: usage
errors, the library's own errors, and any other exception that escapes a command.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from alpaserve.cli._checks import OneLineParser, one_line, report_unexpected
from alpaserve.cli._config_file import add_config_flag, preload_config
from alpaserve.cli._output import check_outputs, machine_stdout
from alpaserve.errors import AlpaServeError

# (name, module, one-line help). Modules are imported lazily.
SUBCOMMANDS: tuple[tuple[str, str, str], ...] = (
    ("costs", "alpaserve.cli.costs_cmd", "analytic latency and memory of model presets"),
    ("demo", "alpaserve.cli.demo_cmd", "run the default demonstration"),
    ("configs", "alpaserve.cli.configs_cmd", "candidate parallel configs of a model"),
    ("plan", "alpaserve.cli.plan_cmd", "plan a placement for a synthetic mix or a trace"),
    ("simulate", "alpaserve.cli.simulate_cmd",
     "simulate a plan file or placement under its planned workload (or another)"),
    ("sweep", "alpaserve.cli.sweep_cmd", "run a resumable grid of planning studies"),
    ("trace", "alpaserve.cli.trace_cmd", "statistics and plots of a trace file"),
    ("spot", "alpaserve.cli.spot_cmd", "serve an LLM on a spot fleet (SpotServe vs baselines)"),
    ("modelless", "alpaserve.cli.modelless_cmd", "simulate INFaaS model-less serving"),
    ("profile", "alpaserve.cli.profile_cmd",
     "measure a model's stage latencies and memory on real devices"),
    ("fidelity", "alpaserve.cli.fidelity_cmd",
     "serve a placement for real and compare it with its simulation"),
    ("llm", "alpaserve.cli.llm_cmd",
     "many LLMs on one cluster: token-level planning (llm plan) and simulation "
     "(llm simulate)"),
)

# Subcommands whose --config is their own experiment format (a sweep grid).
OWN_CONFIG = frozenset({"sweep"})

# Optional dependencies and the extra that installs each (setup.cfg).
EXTRAS = {"jax": "runtime", "jaxlib": "runtime", "ray": "ray", "pandas": "data",
          "pyarrow": "data", "highspy": "solvers"}


def _add_shell_flags(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # On a subcommand the defaults are suppressed, so a flag given before the
    # subcommand is not reset by the subcommand's parser.
    default: dict = {"default": argparse.SUPPRESS} if suppress else {}
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors",
                        **default)
    parser.add_argument("-v", "--verbose", action="count", help="log more (-v info, -vv debug)",
                        **(default or {"default": 0}))


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The one-line message for a missing optional dependency, or None for other modules.

    Parameters
    ----------
    exc
        The import error raised while running a command.

    Returns
    -------
    str or None
        What to install, naming the extra.

    Examples
    --------
    >>> missing_extra(ModuleNotFoundError("No module named 'ray'", name="ray"))
    "this needs ray, which is not installed: pip install 'alpaserve[ray]'"
    >>> missing_extra(ModuleNotFoundError("x", name="nonexistent")) is None
    True
    """
    top = (exc.name or "").split(".")[0]
    extra = EXTRAS.get(top)
    if extra is None:
        return None
    return f"this needs {top}, which is not installed: pip install 'alpaserve[{extra}]'"


def build_parser() -> argparse.ArgumentParser:
    """The ``alpaserve`` argument parser with every subcommand registered.

    Returns
    -------
    argparse.ArgumentParser
        The parser (subcommand modules are imported here, their heavy imports stay lazy).
    """
    parser = OneLineParser(
        prog="alpaserve",
        description="Plan and simulate model-parallel serving on GPU clusters.",
        allow_abbrev=False,  # `--rat 3` is a typo to name, not `--rate 3` (or `--ratio`)
    )
    from alpaserve import __version__

    parser.add_argument("--version", action="version", version=f"alpaserve {__version__}")
    _add_shell_flags(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=OneLineParser)
    for name, module, help_text in SUBCOMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text, allow_abbrev=False)
        p.set_defaults(_module=module, _parser=p)
        importlib.import_module(module).register(p)
        for leaf in _leaf_parsers(p):  # `llm plan`: the flags go where they are parsed
            _add_shell_flags(leaf, suppress=True)
            if name not in OWN_CONFIG:
                add_config_flag(leaf)
            leaf.add_argument("--force", action="store_true",
                              help="replace output files that alpaserve did not write")
    return parser


def _leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` itself, or the parsers of its own sub-commands (``llm plan``, ...)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return [leaf for child in dict(action.choices).values()
                    for leaf in _leaf_parsers(child)]
    return [parser]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line: parse, check the inputs and outputs, run the subcommand.

    Errors become one line on stderr (``--debug`` shows the traceback): the library's named
    errors, usage errors, a missing optional dependency (naming the extra to install), and any
    other exception that escapes.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        The exit status: 0 on success, 2 on an error, 1 when a sweep case failed, 130 on
        Ctrl-C, 141 when stdout was closed.
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        preload_config(parser, argv)
    except AlpaServeError as exc:
        print(f"alpaserve: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:  # anything else a config file provokes: still one line
        report_unexpected("--config", exc)
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a usage error, already one line on stderr
        if exc.code in (0, None):  # --help
            raise
        return exc.code if isinstance(exc.code, int) else 2
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    run = importlib.import_module(args._module).run
    try:
        check_outputs(args)
        with machine_stdout(args):
            return int(run(args) or 0)
    except AlpaServeError as exc:
        if args.debug:
            raise
        print(f"alpaserve {args.command}: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if args.debug:
            raise
        message = missing_extra(exc)
        if message is None:
            report_unexpected(args.command, exc)
        else:
            print(f"alpaserve {args.command}: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("alpaserve: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the shell's last resort: one line, exit 2
        if args.debug:
            raise
        report_unexpected(args.command, exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
