"""Strict JSON: ``NaN`` and infinities become ``null``, so any JSON parser reads the output.

Python's :mod:`json` writes ``NaN`` by default, which is not JSON; machine output and the
files alpaserve writes go through :func:`dumps_strict` instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["dumps_strict", "strict"]


def strict(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by ``None``, ready for strict JSON.

    Containers are copied; NumPy scalars and arrays become Python values.

    Parameters
    ----------
    value
        Nested dicts, lists, tuples, numbers, strings, NumPy values or paths.

    Returns
    -------
    Any
        The same structure, with every non-finite float as ``None``.

    Examples
    --------
    >>> strict({"a": float("nan"), "b": [1.0, float("inf")], "c": (2, "x")})
    {'a': None, 'b': [1.0, None], 'c': [2, 'x']}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if hasattr(value, "tolist"):  # NumPy scalar or array
        return strict(value.tolist())
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__} as JSON")


def dumps_strict(value: Any, *, indent: int | None = 2) -> str:
    """Strict JSON text of ``value`` (``NaN``/``inf`` as ``null``; never ``NaN``).

    Parameters
    ----------
    value
        Anything :func:`strict` accepts.
    indent
        Indentation as for :func:`json.dumps`.

    Returns
    -------
    str
        JSON that any parser accepts.

    Examples
    --------
    >>> dumps_strict({"attainment": float("nan")}, indent=None)
    '{"attainment": null}'
    """
    return json.dumps(strict(value), indent=indent, allow_nan=False)
