"""Strict JSON: non-finite numbers become null; everything else round-trips."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpaserve.strict_json import dumps_strict, strict

LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=4), inner, max_size=4), max_leaves=20)


def finite_equal(a: object, b: object) -> bool:
    if isinstance(a, float):
        return b is None if not math.isfinite(a) else a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and \
            all(finite_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and \
            all(finite_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@given(VALUES)
def test_any_value_dumps_as_strict_json(value: object) -> None:
    text = dumps_strict(value)

    def reject(token: str) -> None:
        raise AssertionError(f"non-JSON constant {token}")
    assert finite_equal(value, json.loads(text, parse_constant=reject))


def test_numpy_and_paths() -> None:
    data = strict({"a": np.array([1.0, np.nan]), "b": np.float32(np.inf), "c": Path("x/y"),
                   "d": (np.int64(3),)})
    assert data == {"a": [1.0, None], "b": None, "c": "x/y", "d": [3]}


def test_unknown_objects_are_named() -> None:
    with pytest.raises(TypeError, match="cannot serialise object as JSON"):
        dumps_strict({"x": object()})
