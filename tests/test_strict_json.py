"""Strict JSON: non-finite numbers become null; everything else round-trips."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpaserve.errors import SpecError
from alpaserve.strict_json import dumps_strict, loads_object, read_text, strict

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


def test_read_text_drops_a_bom_and_names_binary_files(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(b"\xef\xbb\xbf{}")
    assert read_text(path, "placement") == "{}"
    path.write_bytes(b"\x80")
    with pytest.raises(SpecError, match=r"placement .*p\.json.* is not UTF-8"):
        read_text(path, "placement")
    with pytest.raises(SpecError, match=r"cannot read placement .*nope"):
        read_text(tmp_path / "nope", "placement")


def test_loads_object_names_what_is_wrong() -> None:
    assert loads_object('{"a": 1}', where="", what="a plan") == {"a": 1}
    with pytest.raises(SpecError, match=r"^'f': not valid JSON: Expecting"):
        loads_object("{", where="'f': ", what="a plan")
    with pytest.raises(SpecError, match="nested too deeply"):
        loads_object("[" * 100_000, where="", what="a plan")
    with pytest.raises(SpecError, match=r"^'f': a plan must be a JSON object$"):
        loads_object("[1]", where="'f': ", what="a plan")
