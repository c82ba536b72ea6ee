"""Small checks shared by the spec dataclasses. Each raises ``SpecError`` naming the value."""

from __future__ import annotations

import math
from typing import Any

from alpaserve.errors import SpecError


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
