"""Small checks shared by the spec dataclasses. Each raises ``SpecError`` naming the value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeVar

from alpaserve.errors import SpecError

T = TypeVar("T")


def preset(presets: Mapping[str, T], name: object, kind: str) -> T:
    """The entry of ``presets`` (lower-case keys) called ``name`` in any case; a name that is
    not a known string raises a ``SpecError`` listing the known ones."""
    spec = presets.get(name.lower()) if isinstance(name, str) else None
    if spec is None:
        raise SpecError(f"unknown {kind} preset {name!r}; known: {', '.join(presets)}")
    return spec


def positive_int(owner: str, field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SpecError(f"{owner}.{field} must be a positive integer, got {value!r}")
    return value


def non_negative_int(owner: str, field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SpecError(f"{owner}.{field} must be a non-negative integer, got {value!r}")
    return value


def positive_float(owner: str, field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise SpecError(f"{owner}.{field} must be a positive number, got {value!r}")
    if not math.isfinite(value):
        raise SpecError(f"{owner}.{field} must be finite, got {value!r}")
    return float(value)


def non_negative_float(owner: str, field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise SpecError(f"{owner}.{field} must be a non-negative number, got {value!r}")
    if not math.isfinite(value):
        raise SpecError(f"{owner}.{field} must be finite, got {value!r}")
    return float(value)


def non_empty_name(owner: str, field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"{owner}.{field} must be a non-empty string, got {value!r}")
    return value


def non_empty_tuple(owner: str, value: object, kind: type) -> tuple[Any, ...]:
    items = tuple(value) if isinstance(value, list | tuple) else None
    if not items or not all(isinstance(x, kind) for x in items):
        raise SpecError(f"{owner} needs a non-empty tuple of {kind.__name__}, got {value!r}")
    return items
