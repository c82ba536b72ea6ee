"""``alpaserve costs``: the analytic cost model's table for model presets on one device type.

For each model: parameters, weight bytes, single-device latency, the smallest group that
holds it, and for each uniform pipeline × tensor config up to ``--max-devices`` devices (one
node) its latency, slowest stage and peak memory per device.
"""

from __future__ import annotations

import argparse
from typing import Any

from alpaserve.cli import _checks as checks

DEFAULT_MODELS = ("bert-1.3b", "bert-2.6b", "bert-6.7b", "gpt-1.3b", "moe-1.3b", "moe-5.3b")


def register(parser: argparse.ArgumentParser) -> None:
    """Add ``alpaserve costs``'s flags to its parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser; flags are added in place.
    """
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help="comma-separated model presets (default: %(default)s)")
    parser.add_argument("--device", default="v100-16gb",
                        help="device preset (default: %(default)s)")
    parser.add_argument("--batch-size", type=checks.batch, default=1,
                        help=f"batch size, at most {checks.MAX_BATCH} (default: 1)")
    parser.add_argument("--max-devices", type=checks.devices, default=8,
                        help="largest group to tabulate, within one node (default: 8)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--out", metavar="FILE", type=checks.table_file,
                        help="also write the rows to FILE (.csv, .parquet or .json)")


def cost_rows(models: list[str], device_name: str, batch_size: int,
              max_devices: int) -> list[dict[str, Any]]:
    """One record per model with its per-config costs (used by ``costs`` and ``demo``).

    Parameters
    ----------
    models : list of str
        Model presets.
    device_name : str
        A device preset.
    batch_size : int
        Requests per batch.
    max_devices : int
        The largest group size costed.

    Returns
    -------
    list of dict
        One record per model: its configs with stage latencies and per-device memory.
    """
    from alpaserve.cluster_spec import ClusterSpec
    from alpaserve.cost.model import fits, min_devices_to_fit, profile_entry, uniform_configs
    from alpaserve.cost.stage import single_device_latency
    from alpaserve.device_spec import device_preset
    from alpaserve.errors import InfeasibleError, SpecError
    from alpaserve.model_presets import model_preset

    if batch_size <= 0 or max_devices <= 0:
        raise SpecError(f"--batch-size and --max-devices must be positive, got {batch_size} "
                        f"and {max_devices}")
    device = device_preset(device_name)
    cluster = ClusterSpec(num_nodes=1, devices_per_node=max_devices, device=device)
    records = []
    for name in models:
        model = model_preset(name)
        try:
            need: int | None = min_devices_to_fit(model=model, device=device)
        except InfeasibleError:
            need = None
        configs = []
        for config in uniform_configs(model, max_devices):
            entry = profile_entry(model=model, config=config, cluster=cluster,
                                  batch_size=batch_size)
            configs.append({
                "config": config.key, "devices": config.num_devices,
                "latency_s": entry.total_latency, "max_stage_latency_s": entry.max_stage_latency,
                "peak_memory_bytes": max(entry.stage_peak_memory_bytes),
                "weight_bytes": max(entry.stage_weight_bytes),
                "fits": fits(model=model, config=config, device=device, batch_size=batch_size),
            })
        records.append({
            "model": model.name, "family": model.family, "params": model.num_params,
            "weight_bytes": model.weight_bytes, "device": device.name, "batch_size": batch_size,
            "single_device_latency_s": single_device_latency(model=model, device=device,
                                                             batch_size=batch_size),
            "min_devices_to_fit": need, "configs": configs,
        })
    return records


def format_table(records: list[dict[str, Any]]) -> str:
    """The records of :func:`cost_rows` as a plain-text table.

    Parameters
    ----------
    records : list of dict
        What :func:`cost_rows` returned.

    Returns
    -------
    str
        One line per (model, config).
    """
    lines = []
    for r in records:
        need = r["min_devices_to_fit"]
        lines.append(f"{r['model']} ({r['family']}): {r['params'] / 1e9:.2f} B params, "
                     f"{r['weight_bytes'] / 1e9:.2f} GB weights; on one {r['device']} at batch "
                     f"{r['batch_size']}: {r['single_device_latency_s'] * 1e3:.1f} ms; fits on "
                     f"{need if need is not None else 'no'} device(s)")
        lines.append(f"  {'config':<10} {'devices':>7} {'latency ms':>11} {'max stage ms':>13} "
                     f"{'mem/device GB':>14} {'fits':>5}")
        for c in r["configs"]:
            lines.append(f"  {c['config']:<10} {c['devices']:>7} {c['latency_s'] * 1e3:>11.1f} "
                         f"{c['max_stage_latency_s'] * 1e3:>13.1f} "
                         f"{c['peak_memory_bytes'] / 1e9:>14.2f} "
                         f"{'yes' if c['fits'] else 'no':>5}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def run(args: argparse.Namespace) -> int:
    """Run ``alpaserve costs``: the cost model's latency and memory table.

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
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not models:
        from alpaserve.errors import SpecError

        raise SpecError(f"--models {args.models!r} names no model preset")
    records = cost_rows(models, args.device, args.batch_size, args.max_devices)
    if args.out:
        from alpaserve.cli._output import write_rows

        write_rows([{**{k: v for k, v in r.items() if k != "configs"}, **c}
                    for r in records for c in r["configs"]], args.out,
                   force=getattr(args, "force", False))
    if args.json:
        from alpaserve.cli._output import print_json

        print_json(records, args)
    else:
        print(format_table(records), end="")
    return 0
