"""Strict JSON: ``NaN`` and infinities become ``null``, so any JSON parser reads the output.

Python's :mod:`json` writes ``NaN`` by default, which is not JSON; machine output and the
files alpaserve writes go through :func:`dumps_strict` instead. The files alpaserve reads
back (plan files) go through :func:`read_text` and :func:`loads_object`, whose errors name
the file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alpaserve.errors import SpecError

__all__ = ["dumps_strict", "loads_object", "read_text", "strict"]


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


def read_text(path: str | os.PathLike[str], what: str) -> str:
    """The UTF-8 text of ``path`` (a byte-order mark is dropped).

    Parameters
    ----------
    path : path-like
        The file.
    what : str
        What the file is, for messages (``"LLM plan file"``).

    Returns
    -------
    str
        Its text.

    Raises
    ------
    SpecError
        If the file cannot be read or is not UTF-8; the message names it.

    Examples
    --------
    >>> try:
    ...     read_text("/no/such.json", "placement")
    ... except SpecError as exc:
    ...     print(exc)
    cannot read placement '/no/such.json': No such file or directory
    """
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SpecError(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SpecError(f"{what} {str(path)!r} is not UTF-8 text (byte {exc.start}); a binary "
                        "or compressed file?") from None


def loads_object(text: str, *, where: str, what: str) -> dict[str, Any]:
    """Parse JSON text that must hold an object.

    Parameters
    ----------
    text : str
        The JSON text.
    where : str
        Prefix of messages (``"'plan.json': "``, or ``""``).
    what : str
        What the object is, for the message when it is not one (``"an LLM plan file"``).

    Returns
    -------
    dict
        The parsed object.

    Raises
    ------
    SpecError
        If the text is not JSON, nests too deeply, or holds something other than an object.

    Examples
    --------
    >>> try:
    ...     loads_object("[1]", where="", what="a plan file")
    ... except SpecError as exc:
    ...     print(exc)
    a plan file must be a JSON object
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{where}not valid JSON: {exc}") from exc
    except RecursionError:
        raise SpecError(f"{where}not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise SpecError(f"{where}{what} must be a JSON object")
    return data
