"""Hypothesis strategies for workloads (shared by the workloads test files)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from workloads.workload import Workload

MODEL_NAMES = st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=4, unique=True)


@st.composite
def workloads(draw: st.DrawFn, *, max_size: int = 40, columns: bool | None = None) -> Workload:
    """A random workload: arrivals (with ties), model codes and, maybe, every optional column."""
    names = draw(MODEL_NAMES)
    n = draw(st.integers(0, max_size))
    base = draw(st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False),
                         min_size=n, max_size=n))
    codes = draw(st.lists(st.integers(0, len(names) - 1), min_size=n, max_size=n))
    with_cols = draw(st.booleans()) if columns is None else columns
    extra = {}
    if with_cols:
        extra["slo"] = draw(st.lists(st.floats(1e-6, 1e3), min_size=n, max_size=n))
        extra["prompt_tokens"] = draw(st.lists(st.integers(0, 2**40), min_size=n, max_size=n))
        extra["output_tokens"] = draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n))
    return Workload.from_arrays(arrival=np.asarray(base, dtype=np.float64),
                                model=np.asarray(codes, dtype=np.int64), model_names=names,
                                **extra)
