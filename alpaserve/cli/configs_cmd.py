"""``alpaserve configs MODEL --devices N``: candidate parallel configs of a model."""

from __future__ import annotations

import argparse

from alpaserve.cli import _checks as checks
from alpaserve.errors import SpecError


def _batch_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"batch sizes must be integers like 1,2,4, "
                                         f"got {text!r}") from None
    if not sizes or any(not 0 < b <= checks.MAX_BATCH for b in sizes):
        raise argparse.ArgumentTypeError(f"batch sizes must lie in 1..{checks.MAX_BATCH}, "
                                         f"got {text!r}")
    return sizes


def register(parser: argparse.ArgumentParser) -> None:
    """Add ``alpaserve configs``'s flags to its parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser; flags are added in place.
    """
    parser.add_argument("model", help="model preset name, e.g. bert-6.7b")
    parser.add_argument("--devices", type=checks.devices, default=8,
                        help="largest group size; groups of 1, 2, 4, ... up to it (8)")
    parser.add_argument("--device", default="v100-16gb", help="device preset (v100-16gb)")
    parser.add_argument("--devices-per-node", type=checks.devices, default=8,
                        help="devices per node of the cluster (8)")
    parser.add_argument("--batch-sizes", type=_batch_sizes, default=(1, 2, 4),
                        help="comma-separated batch sizes (1,2,4)")
    parser.add_argument("--memory-policy", choices=("min-memory", "fastest"),
                        default="min-memory",
                        help="keep weights sharded (min-memory) or use free memory (fastest)")
    parser.add_argument("--no-unequal", action="store_true",
                        help="only equal sub-meshes per stage")
    parser.add_argument("--cache-dir", default=None, type=checks.cache_dir,
                        help="cache directory ($ALPASERVE_CACHE_DIR or ./.alpaserve_cache)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--out", metavar="FILE", type=checks.table_file,
                        help="also write the rows to FILE (.csv, .parquet or .json)")


def run(args: argparse.Namespace) -> int:
    """Run ``alpaserve configs``: the parallel configurations of a model.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags (:func:`register`'s, plus the shell's ``--json``, ``--force``, ...).

    Returns
    -------
    int
        The exit status: 0. Errors raise the library's exceptions, which
        :func:`alpaserve.cli.main` prints as one line with exit status 2.
    """
    from alpaserve.cluster_spec import homogeneous_cluster
    from alpaserve.model_presets import model_preset
    from alpaserve.parallel import ConfigSearchOptions, cached_search, search_configs

    if args.devices <= 0:
        raise SpecError(f"--devices must be positive, got {args.devices}")
    model = model_preset(args.model)
    cluster = homogeneous_cluster(args.devices, args.device,
                                  devices_per_node=args.devices_per_node)
    options = ConfigSearchOptions(batch_sizes=args.batch_sizes, memory_policy=args.memory_policy,
                            allow_unequal=not args.no_unequal)
    if args.no_cache:
        result = search_configs(model, cluster, options=options)
    else:
        result = cached_search(model, cluster, options=options, cache_dir=args.cache_dir)
    if args.out:
        from alpaserve.cli._output import write_rows

        write_rows([{"model": result.model, "group_size": c.group_size, "config": c.config.key,
                     "batch_size": e.batch_size, "total_latency_s": e.total_latency,
                     "max_stage_latency_s": e.max_stage_latency,
                     "stage_latencies_s": list(e.stage_latencies),
                     "peak_memory_bytes": max(e.stage_peak_memory_bytes)}
                    for c in result.candidates for e in c.entries], args.out,
                   force=getattr(args, "force", False))
    if args.json:
        from alpaserve.cli._output import print_json

        print_json({"model": result.model,
                          "candidates": [{"config": c.config.to_dict(), "key": c.config.key,
                                          "group_size": c.group_size,
                                          "entries": [e.to_dict() for e in c.entries]}
                                         for c in result.candidates],
                          "skipped": list(result.skipped)}, args)
        return 0
    header = ("devices", "config", "meshes", "bs", "max_stage_s", "total_s",
              "stage_latencies_s", "peak_mem_GB")
    rows = []
    for c in result.candidates:
        meshes = ",".join(f"{s.mesh_shape[0]}x{s.mesh_shape[1]}" for s in c.config.stages)
        for e in c.entries:
            rows.append((str(c.group_size), c.config.key, meshes, str(e.batch_size),
                         f"{e.max_stage_latency:.4f}", f"{e.total_latency:.4f}",
                         " ".join(f"{x:.4f}" for x in e.stage_latencies),
                         f"{max(e.stage_peak_memory_bytes) / 1e9:.2f}"))
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
    cache = result.extra.get("cache", "off")
    print(f"{len(result.candidates)} configs for {model.name} on up to {args.devices} × "
          f"{cluster.device.name}; {len(result.skipped)} skipped; cache {cache}")
    return 0
