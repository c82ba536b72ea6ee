"""Column validation and merging: named errors, read-only sorted columns, unioned names."""

from __future__ import annotations

import numpy as np
import pytest

from workloads.columns import encode_models, merged_arguments, readonly, validated_columns
from workloads.errors import WorkloadError
from workloads.workload import Workload


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"arrival": [0.0, np.nan], "model": "m"}, "finite"),
        ({"arrival": [0.0], "model": "m", "slo": 0.0}, "positive"),
        ({"arrival": [0.0], "model": "m", "prompt_tokens": [-1]}, ">= 0"),
        ({"arrival": [0.0], "model": "m", "prompt_tokens": [1.5]}, "whole"),
        ({"arrival": [0.0], "model": [3], "model_names": ["a"]}, "codes"),
        ({"arrival": [0.0], "model": ["x"], "model_names": ["a"]}, "not in"),
        ({"arrival": [0.0, 1.0], "model": ["a"]}, "shape"),
        ({"arrival": [0.0], "model": "m", "output_tokens": [1, 2]}, "output_tokens has shape"),
    ],
)
def test_invalid_columns(kwargs: dict, match: str) -> None:
    with pytest.raises(WorkloadError, match=match):
        validated_columns(**kwargs)

def test_columns_sorted_stably_and_read_only() -> None:
    kw = validated_columns(arrival=[1.0, 0.0, 1.0], model=["a", "b", "c"], slo=[1.0, 2.0, 3.0])
    assert kw["arrival"].tolist() == [0.0, 1.0, 1.0]
    assert kw["slo"].tolist() == [2.0, 1.0, 3.0]  # ties keep their given order
    assert not any(kw[k].flags.writeable for k in ("arrival", "model_codes", "slo"))


def test_encode_models_forms() -> None:
    assert encode_models("m", 2, None)[0].tolist() == [0, 0]
    codes, names = encode_models(np.array([1, 0]), 2, ("a", "b"))
    assert codes.dtype == np.int32
    assert names == ("a", "b")
    with pytest.raises(WorkloadError, match="integer model codes need model_names"):
        encode_models(np.array([0]), 1, None)


def test_merged_arguments_union_names_in_order_seen() -> None:
    a = Workload.from_arrays(arrival=[0.0], model=["z"], slo=1.0)
    b = Workload.from_arrays(arrival=[1.0], model=["a"], slo=2.0)
    kw = merged_arguments([a, b])
    assert kw["model_names"] == ("z", "a")
    assert kw["slo"].tolist() == [1.0, 2.0]


def test_readonly_copies_non_contiguous() -> None:
    out = readonly(np.arange(6)[::2])
    assert out.flags.c_contiguous
    assert not out.flags.writeable
