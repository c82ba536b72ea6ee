"""GPU benchmark of the runtime: profile every preset that fits, then fidelity on 1-8 GPUs.

On a node with GPUs (``pip install -e '.[runtime-gpu]'``)::

    python benchmarks/bench_runtime_gpu.py --out-dir gpu-results

profiles every BERT/GPT preset that fits the devices under pipeline and tensor configs of
1, 2, 4 and 8 devices (AlpaServe's TSV schema, ``profiles.tsv``), then serves a bursty
workload on placements of 1, 2, 4 and 8 devices with pipelines and tensor parallelism
(``pp1``, ``pp2``, ``tp2``, ``pp4``, ``tp4``, ``pp2xtp2``, and the two-group ``pp2xtp2 + pp4``)
and compares each run with the simulator: predicted vs measured attainment, and the replay
check (``fidelity.tsv``). It is sized to finish in under 10 minutes on one 8-GPU node.

Without GPUs, ``--cpu-devices 8 --models bert-tiny,gpt-tiny`` runs the same script on
virtual CPU devices (a dry run of the code path; CPU numbers say nothing about GPUs).
Its output is a plain table on stdout and the two TSV files.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alpaserve.cluster_spec import homogeneous_cluster  # noqa: E402
from alpaserve.model_spec import ModelSpec, model_preset  # noqa: E402
from alpaserve.parallel_config import ParallelConfig  # noqa: E402
from alpaserve.placement_spec import Group, Placement  # noqa: E402
from alpaserve.profiles import ProfileDB  # noqa: E402
from workloads import Workload  # noqa: E402

PRESETS = ("bert-tiny", "gpt-tiny", "bert-1.3b", "gpt-1.3b", "bert-2.6b", "gpt-2.7b",
           "bert-6.7b", "gpt-6.7b")
SHAPES = ((1, 1), (1, 2), (2, 1), (1, 4), (2, 2), (4, 1), (1, 8), (2, 4), (8, 1))  # (pp, tp)


def devices(args: argparse.Namespace) -> list[Any]:
    if args.cpu_devices:
        from alpaserve.runtime.devices import use_cpu_devices

        return use_cpu_devices(args.cpu_devices)
    import jax

    return jax.devices()


def fits(spec: ModelSpec, pp: int, tp: int, memory: float) -> bool:
    """Weights per device (the first stage holds the embeddings) within 70% of memory."""
    per_layer = spec.weight_bytes / spec.num_layers
    return (spec.num_layers / pp) * per_layer / tp < 0.7 * memory and spec.num_heads % tp == 0


def profile_all(args: argparse.Namespace, devs: list[Any], memory: float) -> ProfileDB:
    from alpaserve.runtime.profiler import profile_model

    db = ProfileDB()
    for name in args.models.split(","):
        spec = model_preset(name)
        configs = [ParallelConfig.uniform(num_layers=spec.num_layers, pipeline_degree=pp,
                                          tensor_degree=tp)
                   for pp, tp in SHAPES if pp * tp <= len(devs) and fits(spec, pp, tp, memory)
                   and spec.num_layers % pp == 0]
        if not configs:
            print(f"{name}: does not fit {len(devs)} devices of {memory / 2**30:.0f} GiB",
                  file=sys.stderr)
            continue
        profile_model(spec, configs, devs, (1, 2, 4), warmup=2, repeats=args.repeats,
                      dtype="bfloat16" if not args.cpu_devices else None, db=db,
                      progress=lambda line: print(line, file=sys.stderr))
    return db


def placements(spec: ModelSpec, other: ModelSpec, n: int) -> dict[str, Placement]:
    cluster = homogeneous_cluster(max(n, 1), "cpu")
    models = {spec.name: spec, other.name: other}

    def one(name: str, ids: list[int], pp: int) -> Group:
        return Group.uniform(name=name, device_ids=ids, pipeline_degree=pp,
                             models=[spec, other])

    layouts = {"pp1": [one("g0", [0], 1)], "pp2": [one("g0", [0, 1], 2)],
               "tp2": [one("g0", [0, 1], 1)], "pp4": [one("g0", [0, 1, 2, 3], 4)],
               "tp4": [one("g0", [0, 1, 2, 3], 1)], "pp2xtp2": [one("g0", [0, 1, 2, 3], 2)],
               "pp2xtp2+pp4": [one("g0", [0, 1, 2, 3], 2), one("g1", [4, 5, 6, 7], 4)]}
    return {k: Placement(cluster=cluster, models=models, groups=tuple(v))
            for k, v in layouts.items() if max(d for g in v for d in g.device_ids) < n}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=Path, default=Path("gpu-results"))
    parser.add_argument("--models", default=",".join(PRESETS))
    parser.add_argument("--fidelity-models", default="bert-1.3b,gpt-1.3b",
                        help="the two models the fidelity placements host")
    parser.add_argument("--cpu-devices", type=int, default=0,
                        help="run on this many virtual CPU devices instead of the GPUs")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--skip-profiles", action="store_true")
    parser.add_argument("--max-batch", type=int, default=1,
                        help="batch up to this size in the fidelity runs (runtime and "
                             "simulator alike; default 1)")
    parser.add_argument("--layouts", default=None,
                        help="comma-separated fidelity layouts to run (default: all that fit)")
    args = parser.parse_args()
    if args.max_batch < 1:
        parser.error(f"--max-batch must be >= 1, got {args.max_batch}")
    import numpy as np

    from alpaserve.runtime.fidelity import measure_fidelity

    began = time.perf_counter()
    devs = devices(args)
    stats = None if args.cpu_devices else devs[0].memory_stats()
    memory = float((stats or {}).get("bytes_limit", 4 * 2**30))
    print(f"{len(devs)} devices: {devs[0].platform} {getattr(devs[0], 'device_kind', '')}, "
          f"{memory / 2**30:.1f} GiB each")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if not args.skip_profiles:
        db = profile_all(args, devs, memory)
        (args.out_dir / "profiles.tsv").write_text(db.to_tsv())
        print(f"profiled {len(db)} (model, config, batch) entries in "
              f"{time.perf_counter() - began:.0f} s -> {args.out_dir / 'profiles.tsv'}")
    a_name, b_name = args.fidelity_models.split(",")
    rows = []
    chosen = placements(model_preset(a_name), model_preset(b_name), len(devs))
    if args.layouts:
        wanted = args.layouts.split(",")
        unknown = sorted(set(wanted) - set(chosen))
        if unknown:
            parser.error(f"--layouts {unknown} not among {sorted(chosen)}")
        chosen = {k: chosen[k] for k in wanted}
    for layout, placement in chosen.items():
        rng = np.random.default_rng(0)
        arrival = np.cumsum(rng.gamma(1 / 9, 9 / 40.0, args.requests))  # CV 3
        workload = Workload.from_arrays(arrival=arrival, model=rng.choice([a_name, b_name],
                                                                          args.requests),
                                        model_names=[a_name, b_name])
        rep = measure_fidelity(placement, workload, slo_scale=5.0,
                               runtime_options={"devices": devs, "repeats": args.repeats,
                                                "calibrate_concurrently": bool(args.cpu_devices),
                                                "max_batch": args.max_batch})
        replay = rep.replay.agreement if rep.replay is not None else float("nan")
        sizes = rep.replay is not None and rep.replay.batch_agreement
        rows.append((layout, sum(g.num_devices for g in placement.groups),
                     rep.attainment_sim, rep.attainment_real, rep.attainment_diff_pp, replay,
                     rep.host_steady))
        print(f"{layout:12s} predicted {rep.attainment_sim:.3f} measured "
              f"{rep.attainment_real:.3f} ({rep.attainment_diff_pp:+.1f} pp) replay "
              f"{replay:.3f} (batch sizes {sizes}) host steady {rep.host_steady}, "
              f"max batch {args.max_batch}")
    lines = ["layout\tdevices\tpredicted\tmeasured\tdiff_pp\treplay_agreement\thost_steady"]
    lines += ["\t".join(str(x) for x in row) for row in rows]
    (args.out_dir / "fidelity.tsv").write_text("\n".join(lines) + "\n")
    print(f"done in {time.perf_counter() - began:.0f} s -> {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
