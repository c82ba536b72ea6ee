"""``alpaserve profile``: measure a model's stage latencies and memory on real devices."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alpaserve.cli import _checks as checks
from alpaserve.cli._runtime_args import (
    add_device_args,
    add_model_spec_args,
    devices_from,
    int_list,
    parse_config,
    resolve_model,
)
from alpaserve.profiles import ProfileDB
from alpaserve.safe_files import atomic_open, write_text


def register(parser: argparse.ArgumentParser) -> None:
    """Add ``alpaserve profile``'s flags to its parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser; flags are added in place.
    """
    parser.add_argument("model", metavar="MODEL",
                        help="a model preset, a JSON ModelSpec file, or a name for the spec "
                             "given by --layers/--hidden/--heads...")
    parser.add_argument("--configs", default="pp1-tp1",
                        help="comma-separated parallel configs (default pp1-tp1)")
    parser.add_argument("--batch-sizes", default="1", help="comma-separated (default 1)")
    parser.add_argument("--out", type=checks.json_file, default=Path("profiles.json"),
                        help="profile database JSON; entries are merged into an existing one "
                             "(default profiles.json)")
    parser.add_argument("--tsv", type=checks.output_file(".tsv"),
                        help="also write AlpaServe's TSV here")
    parser.add_argument("--json", action="store_true",
                        help="print the measured entries as JSON")
    parser.add_argument("--warmup", type=checks.count_or_zero, default=2,
                        help="untimed runs (default 2)")
    parser.add_argument("--repeats", type=checks.count, default=5,
                        help="timed runs; the median is kept (default 5)")
    add_device_args(parser)
    add_model_spec_args(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``alpaserve profile``: measured stage latencies.

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
    from alpaserve.runtime.profiler import profile_model

    spec = resolve_model(args.model, args)
    # split on commas outside stages[...] lists
    keys, depth, cur = [], 0, ""
    for ch in args.configs:
        depth += (ch == "[") - (ch == "]")
        if ch == "," and depth == 0:
            keys.append(cur)
            cur = ""
        else:
            cur += ch
    keys.append(cur)
    configs = [parse_config(k, spec.num_layers) for k in keys if k.strip()]
    for cfg in configs:
        cfg.validate_for(spec)
    devices = devices_from(args)
    db = ProfileDB.from_json(args.out.read_text()) if args.out.is_file() else ProfileDB()
    fresh = profile_model(spec, configs, devices, int_list(args.batch_sizes),
                          warmup=args.warmup, repeats=args.repeats, seed=args.seed,
                          dtype=args.dtype, progress=lambda line: print(line, file=sys.stderr))
    db.update(fresh)
    with atomic_open(args.out, force=getattr(args, "force", False), owned=args.out.is_file()) as fh:
        fh.write(db.to_json(indent=1))  # an existing file parsed as a profile DB: merged
    if args.tsv:
        write_text(args.tsv, fresh.to_tsv(), force=getattr(args, "force", False))
    if args.json:
        from alpaserve.cli._output import print_json

        print_json({"entries": [e.to_dict() for e in fresh], "out": str(args.out),
                    "tsv": None if args.tsv is None else str(args.tsv)}, args)
        return 0
    for e in fresh:
        stages = " ".join(f"{t * 1e3:.3f}" for t in e.stage_latencies)
        mem = " ".join(f"{b / 1e6:.2f}" for b in e.stage_weight_bytes)
        print(f"{e.model}\t{e.config.key}\tbs={e.batch_size}\tstages(ms)=[{stages}]\t"
              f"weights/device(MB)=[{mem}]")
    print(f"wrote {len(fresh)} measured entries to {args.out}"
          + (f" and {args.tsv}" if args.tsv else ""))
    return 0
