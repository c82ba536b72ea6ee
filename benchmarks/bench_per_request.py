"""Peak memory of ``simulate --per-request``: streamed chunks against the old record list.

Issue 17: the per-request output held about 1.2 KB per request (a ``DataFrame`` turned into
one dict per row). The baseline below rebuilds that path in the same run; the streamed
writer (``alpaserve.cli._per_request``) should hold a few bytes per request plus a chunk.
Run: ``python benchmarks/bench_per_request.py [--requests 500000]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

from alpaserve.cli._output import write_rows
from alpaserve.cli._per_request import write_per_request
from simulator.result import SimResult


def synthetic_result(n: int) -> SimResult:
    rng = np.random.default_rng(0)
    arrival = np.sort(rng.random(n) * 3600.0)
    status = rng.integers(0, 3, n)
    served = status == 0
    start = np.where(served, arrival + 0.01, np.nan)
    finish = np.where(served, start + 0.2, np.nan)
    return SimResult.from_outcomes(
        model_names=tuple(f"m{i}" for i in range(8)), group_names=("g0", "g1", "g2"),
        arrival=arrival, model_codes=rng.integers(0, 8, n), slo=np.full(n, 0.5),
        start=start, finish=finish, group=np.where(served, rng.integers(0, 3, n), -1),
        status=status)


def peak(fn: Callable[[], object]) -> tuple[float, float]:
    """Peak traced bytes and wall seconds of ``fn``."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1], time.perf_counter() - t0
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500_000)
    args = parser.parse_args()
    n = args.requests
    result = synthetic_result(n)
    _ = result.slo, result.batch_size  # columns the result caches either way
    with tempfile.TemporaryDirectory() as d:
        base_path, new_path = Path(d) / "old.csv", Path(d) / "new.csv"
        old_peak, old_s = peak(lambda: write_rows(
            result.to_dataframe().to_dict(orient="records"), base_path))
        new_peak, new_s = peak(lambda: write_per_request(result, new_path))
        same = base_path.stat().st_size > 0 and new_path.stat().st_size > 0
    print(f"{n} requests, CSV")
    print(f"baseline (records): peak {old_peak / 1e6:8.1f} MB = {old_peak / n:7.1f} B/request, "
          f"{old_s:.2f} s")
    print(f"streamed (chunks):  peak {new_peak / 1e6:8.1f} MB = {new_peak / n:7.1f} B/request, "
          f"{new_s:.2f} s")
    print(f"ratio baseline/streamed: memory {old_peak / new_peak:.1f}x, time "
          f"{old_s / new_s:.2f}x; both files written: {same}")


if __name__ == "__main__":
    main()
