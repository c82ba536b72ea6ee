"""Replay the shared Azure LLM code trace and a synthetic Azure Functions 2019 day.

Prints the shape of the LLM trace (expected: about 8.8 k requests over about 57 minutes,
inter-arrival CV above 10), the reader's speed against a plain ``csv`` + ``datetime``
baseline measured in the same run, and a rescale of the trace. Then it writes a synthetic
2019-format day (in a temporary directory) and times the streaming reader on it.
Run: ``python benchmarks/bench_trace_replay.py``.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from workloads.function_mapping import FunctionMapping
from workloads.rescale import RescaleSpec, rescale
from workloads.stats import interarrival_cv, summarize, window_stats
from workloads.traces.azure.functions_2019 import AzureFunctions2019Spec, read_azure_functions_2019
from workloads.traces.azure.llm import read_azure_llm

# The shared data sits next to the repository; a git worktree one level deeper also finds it.
_ROOT = Path(__file__).resolve().parents[1]
_CANDIDATES = [Path(os.environ["ALPASERVE_DATA"])] if "ALPASERVE_DATA" in os.environ else []
_CANDIDATES += [_ROOT / ".." / "shared" / "data", _ROOT / ".." / ".." / "shared" / "data"]
DATA = next((p for p in _CANDIDATES if p.exists()), _CANDIDATES[0])
LLM_TRACE = DATA / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"
T = TypeVar("T")


def timed(fn: Callable[[], T], repeats: int = 3) -> tuple[T, float]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best  # type: ignore[return-value]


def baseline_llm(path: Path) -> np.ndarray:
    """The naive reader: csv rows, datetime.strptime (microseconds: the 7th digit is cut)."""
    stamps = []
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for row in reader:
            stamps.append(dt.datetime.strptime(row[0][:26], "%Y-%m-%d %H:%M:%S.%f").timestamp())
    t = np.asarray(stamps)
    return t - t[0]


def llm_section() -> None:
    if not LLM_TRACE.exists():
        print(f"Azure LLM trace not found at {LLM_TRACE}; skipping its replay (the shared "
              "data folder is expected next to the repository, or set ALPASERVE_DATA).")
        return
    result, ours = timed(lambda: read_azure_llm(LLM_TRACE))
    base_t, base = timed(lambda: baseline_llm(LLM_TRACE))
    w = result.workload
    s = summarize(w)
    print(f"== Azure LLM 2023 code trace: {LLM_TRACE.name}")
    print(f"requests            {s.requests:,}  (rows {result.rows:,}, skipped "
          f"{result.rows_skipped})")
    print(f"span                {s.duration:,.1f} s = {s.duration / 60:.1f} min")
    print(f"mean rate           {s.rate:.3f} req/s")
    print(f"inter-arrival CV    {s.cv:.2f}   (expected > 10: "
          f"{'ok' if s.cv > 10 else 'NOT MET'})")
    gaps = np.diff(w.arrival)
    print(f"gaps                median {np.median(gaps) * 1e3:.1f} ms, p99 "
          f"{np.quantile(gaps, 0.99):.2f} s, max {gaps.max():.1f} s, zero gaps "
          f"{int((gaps == 0).sum())}")
    pt, ot = w.prompt_tokens, w.output_tokens
    assert pt is not None
    assert ot is not None
    print(f"prompt tokens       mean {pt.mean():.0f}, median {np.median(pt):.0f}, max {pt.max()}")
    print(f"output tokens       mean {ot.mean():.1f}, median {np.median(ot):.0f}, max {ot.max()}")
    win = window_stats(w, window=300.0, start=0.0)
    print("per 5-min window    rate " + " ".join(f"{r:.2f}" for r in win.rate))
    print("                    CV   " + " ".join(f"{c:.1f}" for c in win.cv))
    same = np.allclose(base_t, w.arrival, atol=2e-6)
    print(f"read time           ours {ours * 1e3:.1f} ms, csv+strptime baseline "
          f"{base * 1e3:.1f} ms, speed-up {base / ours:.2f}x (arrivals agree to 2 µs: {same})")
    r, t_rescale = timed(lambda: rescale(w, RescaleSpec(window=60.0, rate_scale=4.0, cv_scale=0.5),
                                         seed=0), repeats=1)
    print(f"rescale x4 rate, x0.5 CV per 60 s window: {len(r.workload):,} requests, CV "
          f"{interarrival_cv(r.workload.arrival):.2f}, {r.default_cv_windows} of {r.fitted} "
          f"windows used the default CV, {t_rescale * 1e3:.0f} ms")


def synthetic_2019_section(n_functions: int = 2000) -> None:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "invocations_per_function_md.anon.d01.csv"
        # Heavy-tailed popularity and bursty minutes, like the real trace.
        mean = rng.pareto(1.2, n_functions) * 0.5
        with path.open("w") as fh:
            fh.write("HashOwner,HashApp,HashFunction,Trigger,"
                     + ",".join(str(m) for m in range(1, 1441)) + "\n")
            for i in range(n_functions):
                counts = rng.poisson(mean[i] * rng.gamma(0.3, 1 / 0.3, 1440))
                fh.write(f"o{i % 97},a{i % 389},f{i},http," + ",".join(map(str, counts)) + "\n")
        size = os.path.getsize(path) / 1e6
        spec = AzureFunctions2019Spec(mapping=FunctionMapping(num_models=48, top_k=1000),
                                      within_minute="gamma", cv=2.0)
        result, secs = timed(lambda: read_azure_functions_2019(path, spec, seed=0), repeats=1)

        def baseline() -> int:
            total = 0
            with path.open(newline="") as fh:
                reader = csv.reader(fh)
                next(reader)
                for row in reader:
                    total += sum(int(x) for x in row[4:])
            return total

        total, base = timed(baseline, repeats=1)
    w = result.workload
    assert result.mapping is not None
    print(f"== Synthetic Azure Functions 2019 day: {n_functions} functions x 1440 minutes, "
          f"{size:.1f} MB, {total:,} invocations")
    print(f"read + map (top 1000 onto 48 models) + gamma placement: {secs:.2f} s "
          f"({result.rows / secs:,.0f} rows/s); plain csv+int() sum baseline {base:.2f} s "
          f"(ratio {base / secs:.2f}x)")
    print(f"kept {len(w):,} requests; dropped {result.mapping.empty_dropped} empty and "
          f"{result.mapping.beyond_top_k} beyond top-K functions")


def main() -> None:
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")
    llm_section()
    synthetic_2019_section()


if __name__ == "__main__":
    main()
