"""The experiment file of a sweep (YAML or JSON), checked key by key.

::

    policies: [sr, alpaserve]        # a name or a list of names (required)
    devices: [4, 8]                  # an integer or a list          (default 8)
    rate_scales: [0.5, 1, 2]         # a number or a list            (default 1)
    cv_scales: [1, 4]                #                               (default 1)
    slo_scales: [2.5, 5, 10]         #                               (default 5)
    windows: [[0, 1800], null]       # [start_s, end_s] of a trace, or null (whole trace)
    seeds: [0, 1, 2]                 # an integer or a list (or `seed: 0`; not both)
    settings:                        # fixed for every case; keys belong to the runner
      models: "bert-1.3b:8"
      rate: 16

Every case of the cross product of the lists is run. An unknown key, or a value of the wrong
type, is a :class:`~alpaserve.errors.SpecError` naming the key, the value and what is allowed.
A single string is one value: ``policies: sr`` is the policy ``sr``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from alpaserve.errors import SpecError

# A settings schema maps each allowed key to (type description, predicate).
SettingsSchema = Mapping[str, tuple[str, Callable[[Any], bool]]]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_window(v: Any) -> bool:
    return v is None or (isinstance(v, list | tuple) and len(v) == 2
                         and all(_is_number(x) for x in v) and 0 <= v[0] < v[1] < math.inf)


# key -> (description of one value, predicate on one value, may be a list)
_AXES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "policies": ("a policy name", _is_str),
    "devices": ("an integer", _is_int),
    "rate_scales": ("a number", _is_number),
    "cv_scales": ("a number", _is_number),
    "slo_scales": ("a number", _is_number),
    "windows": ("a [start_s, end_s] pair (0 <= start < end) or null", _is_window),
    "seeds": ("an integer", _is_int),
}
ALLOWED = (*_AXES, "seed", "settings")


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def grid_from_mapping(data: Any, *, source: str = "experiment",
                      settings_schema: SettingsSchema | None = None) -> Any:
    """A :class:`~alpaserve.sweep.runner.SweepGrid` from a parsed experiment file.

    Parameters
    ----------
    data
        The parsed file (must be a mapping).
    source
        How to name the file in errors.
    settings_schema
        Allowed ``settings`` keys with their types (the runner's); ``None`` accepts any.

    Returns
    -------
    SweepGrid
        The grid.

    Examples
    --------
    >>> grid = grid_from_mapping({"policies": "sr", "devices": [2, 4], "seeds": [0, 1]})
    >>> grid.policies, grid.devices, grid.seeds
    (('sr',), (2, 4), (0, 1))
    >>> grid_from_mapping({"policies": ["sr"], "colour": "red"})
    Traceback (most recent call last):
    ...
    alpaserve.errors.SpecError: experiment: unknown key 'colour'; allowed: ...
    """
    from alpaserve.sweep.runner import SweepGrid

    if not isinstance(data, Mapping):
        raise SpecError(f"{source}: must hold a mapping of {', '.join(ALLOWED)}, got "
                        f"{type(data).__name__}")
    for key in data:
        if key not in ALLOWED:
            raise SpecError(f"{source}: unknown key {key!r}; allowed: {', '.join(ALLOWED)}")
    if "policies" not in data:
        raise SpecError(f"{source}: 'policies' is required (a name or a list of names)")
    if "seed" in data and "seeds" in data:
        raise SpecError(f"{source}: give 'seed' or 'seeds', not both")
    fields: dict[str, Any] = {}
    for key, (what, ok) in _AXES.items():
        if key not in data:
            continue
        value = data[key]
        if key == "windows" and value is not None and _is_window(value):
            values = [value]  # a single [start, end] pair
        elif isinstance(value, list | tuple):
            values = list(value)
        else:
            values = [value]
        if not values:
            raise SpecError(f"{source}: {key} must not be empty")
        for v in values:
            if not ok(v):
                raise SpecError(f"{source}: {key} must be {what} or a list of them, got "
                                f"{_describe(v)}")
        if key == "windows":
            fields[key] = tuple(None if w is None else (float(w[0]), float(w[1]))
                                for w in values)
        else:
            fields[key] = tuple(values)
    if "seed" in data:
        if not _is_int(data["seed"]):
            raise SpecError(f"{source}: seed must be an integer, got {_describe(data['seed'])}")
        fields["seed"] = data["seed"]
    settings = data.get("settings", {})
    if settings is None:
        settings = {}
    if not isinstance(settings, Mapping):
        raise SpecError(f"{source}: settings must be a mapping, got {_describe(settings)}")
    if settings_schema is not None:
        check_settings(settings, settings_schema, source=source)
    fields["settings"] = dict(settings)
    return SweepGrid(**fields)


def check_settings(settings: Mapping[str, Any], schema: SettingsSchema, *,
                   source: str = "experiment") -> None:
    """Refuse an unknown ``settings`` key or a value of the wrong type.

    Parameters
    ----------
    settings
        The experiment's settings.
    schema
        Allowed keys: ``key -> (type description, predicate)``.
    source
        How to name the file in errors.

    Returns
    -------
    None

    Examples
    --------
    >>> check_settings({"rate": "fast"}, {"rate": ("a number", _is_number)})
    Traceback (most recent call last):
    ...
    alpaserve.errors.SpecError: experiment: settings.rate must be a number, got 'fast' (str)
    """
    for key, value in settings.items():
        if key not in schema:
            raise SpecError(f"{source}: unknown settings key {key!r}; allowed: "
                            f"{', '.join(schema)}")
        what, ok = schema[key]
        if not ok(value):
            raise SpecError(f"{source}: settings.{key} must be {what}, got {_describe(value)}")


def load_experiment(path: str | Path, *,
                    settings_schema: SettingsSchema | None = None) -> Any:
    """Read and check an experiment file (``.yaml``, ``.yml`` or ``.json``).

    Parameters
    ----------
    path
        The file.
    settings_schema
        As for :func:`grid_from_mapping`.

    Returns
    -------
    SweepGrid
        The grid.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "e.json"
    >>> _ = p.write_text('{"policies": ["sr", "alpaserve"], "devices": 4}')
    >>> len(load_experiment(p).cases())
    2
    """
    file = Path(path)
    source = f"experiment file {str(file)!r}"
    suffix = file.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise SpecError(f"{source}: must end in .yaml, .yml or .json")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise SpecError(f"cannot read {source}: {reason}") from exc
    try:
        if suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # yaml.YAMLError or JSONDecodeError: user input
        raise SpecError(f"{source} is malformed: {' '.join(str(exc).split())}") from exc
    return grid_from_mapping(data, source=source, settings_schema=settings_schema)
