"""Parallel-config search: cold vs warm (cache) for BERT-6.7B on groups up to 8 V100s.

Targets (issue 5): all configs in < 5 s cold on one core, < 0.1 s warm from the cache.
Baseline, measured in the same run on a smaller case (groups up to 2 devices, batch size 1):
the ILP without reuse, i.e. re-solving the layer ILP for every stage instead of once per
distinct layer and mesh.

Run: ``python benchmarks/bench_configs.py``
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.model_presets import model_preset
from alpaserve.parallel import ConfigSearchOptions, cached_search, search_configs


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    spec, cluster = model_preset("bert-6.7b"), homogeneous_cluster(8)
    options = ConfigSearchOptions(batch_sizes=(1, 2, 4))
    with tempfile.TemporaryDirectory() as cache:
        cold, t_cold = timed(lambda: cached_search(spec, cluster, options=options,
                                                   cache_dir=cache))
        warm, t_warm = timed(lambda: cached_search(spec, cluster, options=options,
                                                   cache_dir=cache))
    assert cold.extra["cache"] == "miss"
    assert warm.extra["cache"] == "hit"
    assert cold == warm
    entries = sum(len(c.entries) for c in cold.candidates)
    print(f"bert-6.7b, groups 1..8 x v100-16gb, batch sizes {options.batch_sizes}: "
          f"{len(cold.candidates)} configs, {entries} profile entries, "
          f"{cold.intra_op_solves} intra-op solves ({cold.non_optimal_solves} non-optimal), "
          f"{len(cold.skipped)} skipped")
    print(f"cold (search + write cache): {t_cold:.3f} s   target < 5 s")
    print(f"warm (read cache):           {t_warm:.4f} s   target < 0.1 s")
    print(f"cold / warm:                 {t_cold / t_warm:.0f}x")

    ilp_reuse, t_ilp = timed(lambda: search_configs(
        spec, cluster, options=ConfigSearchOptions(batch_sizes=(1, 2, 4), intra_solver="ilp")))
    print(f"ILP only (no DP fast path), with reuse: {t_ilp:.3f} s, "
          f"{ilp_reuse.intra_op_solves} solves")

    small = ConfigSearchOptions(batch_sizes=(1,), group_sizes=(1, 2))
    small_ilp = ConfigSearchOptions(batch_sizes=(1,), group_sizes=(1, 2), intra_solver="ilp")
    no_reuse = ConfigSearchOptions(batch_sizes=(1,), group_sizes=(1, 2), intra_solver="ilp",
                             reuse_layers=False)
    ours, t_ours = timed(lambda: search_configs(spec, cluster, options=small))
    ours_ilp, t_ours_ilp = timed(lambda: search_configs(spec, cluster, options=small_ilp))
    base, t_base = timed(lambda: search_configs(spec, cluster, options=no_reuse))
    assert [c.config for c in base.candidates] == [c.config for c in ours_ilp.candidates]
    print("smaller case (groups 1..2, batch size 1):")
    print(f"  default (DP fast path + reuse): {t_ours:.3f} s, {ours.intra_op_solves} solves")
    print(f"  ILP with reuse:                 {t_ours_ilp:.3f} s, "
          f"{ours_ilp.intra_op_solves} solves")
    print(f"  baseline ILP without reuse:     {t_base:.3f} s, {base.intra_op_solves} solves")
    print(f"  speed-up vs baseline: {t_base / t_ours:.0f}x (default), "
          f"{t_base / t_ours_ilp:.0f}x (ILP with reuse)")


if __name__ == "__main__":
    main()
