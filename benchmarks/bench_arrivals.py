"""Arrival generation speed against a plain ``numpy.random.gamma`` + ``cumsum`` baseline.

Targets (one core): 1 M arrivals in < 0.1 s and 10 M in < 1 s. Run:
``python benchmarks/bench_arrivals.py``. Prints the best of several runs for each size.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the targets say
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time
from collections.abc import Callable

import numpy as np

from workloads.arrivals import GammaProcess, ParetoProcess
from workloads.mixes import MixSpec, generate_mix
from workloads.mmpp import MMPPProcess

RATE = 100.0


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """Best CPU time of this process over ``repeats`` runs (wall time is noisy on a shared host).

    The CPU time of a single-threaded run is the time it would take on one idle core.
    """
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def best_wall(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def baseline(n: int, cv: float, seed: int) -> np.ndarray:
    """What one would write by hand: draw gaps with gamma(shape, scale), then cumsum."""
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.gamma(1.0 / cv**2, cv**2 / RATE, n))


def main() -> None:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"numpy {np.__version__}; rate {RATE} req/s; {os.cpu_count()} CPUs, load average "
          f"{load:.1f}; times are the best CPU seconds of repeated runs (wall: best wall time)")
    print(f"{'process':<34}{'n':>12}{'ours (s)':>10}{'wall (s)':>10}{'baseline (s)':>14}"
          f"{'speed-up':>10}{'M arrivals/s':>14}  target")
    for n, target, repeats in ((1_000_000, 0.1, 7), (10_000_000, 1.0, 3)):
        for cv in (1.0, 4.0):
            proc = GammaProcess(rate=RATE, cv=cv)
            ours = best_of(lambda p=proc, n=n: p.generate(n=n, seed=1), repeats)
            wall = best_wall(lambda p=proc, n=n: p.generate(n=n, seed=1), repeats)
            base = best_of(lambda n=n, cv=cv: baseline(n, cv, 1), repeats)
            ok = "ok" if ours < target else "MISSED"
            print(f"{proc!r:<34}{n:>12,}{ours:>10.4f}{wall:>10.4f}{base:>14.4f}"
                  f"{base / ours:>9.2f}x{n / ours / 1e6:>14.1f}  < {target} s {ok}")
    # Other processes, by count, for reference (no hand-written baseline).
    n = 1_000_000
    others = {
        "Pareto(shape=2.5)": ParetoProcess(rate=RATE, shape=2.5),
        "MMPP(on/off, cv≈4.4)": MMPPProcess(rate_on=10 * RATE, rate_off=0.0, mean_on=1.0,
                                            mean_off=9.0),
    }
    for name, proc in others.items():
        ours = best_of(lambda p=proc: p.generate(n=n, seed=1), 5)
        print(f"{name:<34}{n:>12,}{ours:>10.4f}{'':>10}{'-':>14}{'-':>10}"
              f"{n / ours / 1e6:>14.1f}")
    spec = MixSpec.zipf(32, total_rate=1000.0, alpha=1.0, cv=4.0)
    mix = best_of(lambda: generate_mix(spec, duration=1000.0, seed=1), 3)
    print(f"{'mix: 32 models, Zipf 1, cv 4':<34}{'~1,000,000':>12}{mix:>10.4f}{'':>10}{'-':>14}"
          f"{'-':>10}{1.0 / mix:>14.1f}  (includes the merge into one sorted Workload)")


if __name__ == "__main__":
    main()
