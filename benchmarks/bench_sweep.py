"""Sweep throughput (cases/s): the same cases in this process, on the local process pool,
and on Ray.

The cases are the trace sweep of ``examples/trace_sweep.yaml`` cut to 16: the Azure LLM code
trace (shared data), two policies, two cluster sizes, two load levels, two 20-minute windows.
Each backend runs them from scratch into its own file (its workers start and compile their
kernels inside the timing, as a user's run would). The local pool is the baseline; Ray's
ratio against it is printed, with the absolute numbers. The rows of every backend are
checked equal.

Run from the repository root: ``python benchmarks/bench_sweep.py [--workers 2]
[--ray-address HOST:PORT]``
(without an address a local Ray with ``--workers`` CPUs is started and stopped). Set
``ALPASERVE_DATA`` to the folder holding ``azure_llm_2023/`` if it is not found.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

from alpaserve.sweep.cases import run_plan_case
from alpaserve.sweep.ray_backend import runtime_env
from alpaserve.sweep.runner import SweepGrid, read_results, run_sweep

_ROOT = Path(__file__).resolve().parents[1]
_CANDIDATES = [Path(os.environ["ALPASERVE_DATA"])] if "ALPASERVE_DATA" in os.environ else []
_CANDIDATES += [p / "shared" / "data" for p in _ROOT.parents[:3]]
DATA = next((p for p in _CANDIDATES if p.exists()), _CANDIDATES[0])
TRACE = DATA / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"


def grid() -> SweepGrid:
    return SweepGrid(policies=("sr", "alpaserve"), devices=(4, 8), rate_scales=(0.5, 1.0),
                     windows=((0.0, 1200.0), (1200.0, 2400.0)),
                     settings={"models": "bert-1.3b:4", "trace": str(TRACE)})


def timed_sweep(out: Path, **backend: object) -> tuple[float, int]:
    t0 = time.perf_counter()
    report = run_sweep(grid(), out, runner=run_plan_case, **backend)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - t0
    if report.failed:
        raise SystemExit(f"{out.name}: {len(report.failed)} cases failed: {report.failed}")
    return elapsed, report.completed


def rows(path: Path) -> list[dict]:
    return sorted(({k: v for k, v in r.items() if k != "plan_wall_s"}
                   for r in read_results(path)), key=lambda r: r["case_id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ray-address")
    args = parser.parse_args()
    # One stream mapped onto 4 models warns once per case; the benchmark is about throughput.
    logging.getLogger("workloads.mapping").setLevel(logging.ERROR)
    if not TRACE.exists():
        raise SystemExit(f"trace not found: {TRACE} (set ALPASERVE_DATA)")
    n = len(grid().cases())
    print(f"{n} cases: {TRACE.name}, {args.workers} workers")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        results = {}
        results["serial (1 process)"] = timed_sweep(out / "serial.csv", workers=1)
        results[f"local pool ({args.workers})"] = timed_sweep(out / "pool.csv",
                                                              workers=args.workers)
        if args.ray_address is None:
            import ray

            ray.init(address="local", num_cpus=args.workers, include_dashboard=False,
                     log_to_driver=False, runtime_env=runtime_env(run_plan_case))
        try:
            label = f"ray ({args.ray_address or f'local, {args.workers} CPUs'})"
            results[label] = timed_sweep(out / "ray.csv", ray_address=args.ray_address,
                                         use_ray=True)
        finally:
            if args.ray_address is None:
                ray.shutdown()
        same = rows(out / "serial.csv") == rows(out / "pool.csv") == rows(out / "ray.csv")
        pool_rate = n / results[f"local pool ({args.workers})"][0]
        print(f"{'backend':<32} {'cases':>5} {'seconds':>8} {'cases/s':>8} {'vs pool':>8}")
        for name, (secs, done) in results.items():
            rate = done / secs
            print(f"{name:<32} {done:>5} {secs:>8.2f} {rate:>8.2f} {rate / pool_rate:>7.2f}x")
        print(f"rows identical on every backend: {same}")


if __name__ == "__main__":
    main()
