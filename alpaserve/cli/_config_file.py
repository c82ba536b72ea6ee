"""``--config FILE``: take a subcommand's flag values from a YAML or JSON mapping.

Keys are the flags' names with dashes or underscores (``slo-scale`` or ``slo_scale``).
Flags given on the command line override the file. Unknown keys are an error that names
them, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alpaserve.errors import SpecError

FLAG = "--config"


def add_config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(FLAG, dest="config_file", type=Path, metavar="FILE",
                        help="read flag values from a YAML or JSON file; flags given on the "
                             "command line win")


def load_mapping(path: Path) -> dict[str, Any]:
    """A YAML (``.yaml``/``.yml``) or JSON file holding one mapping."""
    from alpaserve.strict_json import read_text

    text = read_text(path, "config file")  # a named error for a missing or binary file
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # yaml.YAMLError or json.JSONDecodeError, both user input
        first_line = " ".join(str(exc).split())  # YAML errors span several lines
        raise SpecError(f"config file {str(path)!r} is malformed: {first_line}") from exc
    if not isinstance(data, dict):
        raise SpecError(f"config file {str(path)!r} must hold a mapping of flag values")
    return data


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _config_path(argv: Sequence[str]) -> Path | None:
    for k, token in enumerate(argv):
        if token == FLAG and k + 1 < len(argv):
            return Path(argv[k + 1])
        if token.startswith(FLAG + "="):
            return Path(token.split("=", 1)[1])
    return None


def preload_config(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """Before parsing: if the subcommand in ``argv`` has ``--config FILE``, use the file's
    values as that subcommand's defaults (so a file can supply otherwise required flags)."""
    subs = _subparsers(parser)
    name = next((t for t in argv if t in subs), None)
    if name is None:
        return
    sub = subs[name]
    rest = list(argv[argv.index(name) + 1:])
    while _subparsers(sub):  # a command with sub-commands (`llm plan`): the leaf's flags
        inner = _subparsers(sub)
        name = next((t for t in rest if t in inner), None)
        if name is None:
            return
        sub = inner[name]
        rest = rest[rest.index(name) + 1:]
    if not any(a.dest == "config_file" for a in sub._actions):
        return
    path = _config_path(rest)
    if path is None:
        return
    data = load_mapping(path)
    actions = {a.dest: a for a in sub._actions if a.dest not in ("help", "config_file")}
    values: dict[str, Any] = {}
    unknown = []
    for key, value in data.items():
        dest = str(key).replace("-", "_")
        action = actions.get(dest)
        if action is None:
            unknown.append(key)
            continue
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        if action.type is not None and not isinstance(value, bool) and callable(action.type):
            try:
                value = action.type(str(value))
            except (TypeError, ValueError, argparse.ArgumentTypeError) as exc:
                raise SpecError(f"config file {str(path)!r}: {key} = {value!r} is invalid: "
                                f"{exc}") from exc
        if action.choices is not None and value not in action.choices:
            raise SpecError(f"config file {str(path)!r}: {key} = {value!r} is not one of "
                            f"{list(action.choices)}")
        values[dest] = value
        action.required = False
    if unknown:
        raise SpecError(f"config file {str(path)!r} has unknown keys {sorted(unknown)}; "
                        f"known: {sorted(actions)}")
    sub.set_defaults(**values)
