"""``alpaserve demo``: the README's main job, a small planning study on an embedded default.

An 8-GPU node (V100, 13 GB usable each) serves 8 BERT-1.3B-class models under bursty Gamma
traffic (CV 4). The demo plans the cluster with selective replication (SR) and with the
AlpaServe search, checks both on a held-out sample of the same traffic, prints a comparison
table, and writes a figure (``demo.png``: both placements and per-model attainment) and the
AlpaServe plan (``plan.json``) into an output folder (``--out-dir``, default
``alpaserve-demo/`` under the current directory). Every value can be changed by a flag.

The folder is the demo's own: it writes a marker file there and refuses to write into an
existing folder that holds other files but no marker (it never overwrites what it did not
write) unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from alpaserve.cli import _checks as checks
from alpaserve.cli._output import add_output_flags, emit
from alpaserve.errors import SpecError

POLICIES = ("sr", "alpaserve")
OUT_DIR = "alpaserve-demo"
MARKER = ".alpaserve-demo"
FIGURE, PLAN = "demo.png", "plan.json"


def register(parser: argparse.ArgumentParser) -> None:
    """Add ``alpaserve demo``'s flags to its parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser; flags are added in place.
    """
    parser.add_argument("--model", default="bert-1.3b", help="model preset (default: %(default)s)")
    parser.add_argument("--num-models", type=checks.count, default=8,
                        help="copies of the model (8)")
    parser.add_argument("--devices", type=checks.devices, default=8,
                        help="GPUs (default: 8, one node)")
    parser.add_argument("--device", default="v100-16gb", help="device preset (default: v100-16gb)")
    parser.add_argument("--rate", type=checks.rate, default=40.0,
                        help="total request rate, req/s (default: %(default)s)")
    parser.add_argument("--cv", type=checks.cv, default=4.0, help="burstiness CV (default: 4)")
    parser.add_argument("--slo-scale", type=checks.scale, default=5.0,
                        help="SLO = this x single-device latency (default: 5)")
    parser.add_argument("--duration", type=checks.duration, default=120.0,
                        help="seconds of traffic to plan for and to test on (default: 120)")
    parser.add_argument("--seed", type=checks.seed, default=0, help="seed (default: 0)")
    parser.add_argument("--out-dir", default=OUT_DIR,
                        help=f"folder for {FIGURE} and {PLAN} (default: %(default)s/)")
    parser.add_argument("--explain", action="store_true", help="print why the plan looks so")
    add_output_flags(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``alpaserve demo``: the README's main job.

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
    from alpaserve.model_presets import model_copies, model_preset
    from placement.plan import plan
    from workloads.mixes import MixSpec

    if args.num_models < 1 or args.devices < 1:
        raise SpecError(f"--num-models and --devices must be positive, got {args.num_models} "
                        f"and {args.devices}")
    out_dir = Path(args.out_dir)
    _check_out_dir(out_dir, force=args.force)  # before the planning, which takes a while
    base = model_preset(args.model)
    models = model_copies(f"{base.name}:{args.num_models}")
    cluster = homogeneous_cluster(args.devices, args.device)
    mix = MixSpec(model_names=tuple(m.name for m in models), total_rate=args.rate, cv=args.cv)
    results = {policy: plan(models, cluster, mix, slo_scale=args.slo_scale, policy=policy,
                            seed=args.seed, duration=args.duration)
               for policy in POLICIES}
    rows: list[dict[str, Any]] = []
    for policy, res in results.items():
        r = res.test_result
        rows.append({"policy": policy, "attainment": r.attainment,
                     "p99_ms": 1e3 * r.latency_p99, "dropped": r.num_dropped,
                     "groups": len(res.placement.groups),
                     "devices_used": res.placement.num_devices_used,
                     "plan_s": res.wall_time})
    title = (f"{args.num_models} x {base.name} on {args.devices} x {cluster.device.name}, "
             f"{args.rate:g} req/s, CV {args.cv:g}, SLO {args.slo_scale:g} x latency, "
             f"tested on {results['sr'].test_source}")
    emit(rows, args, title=title)
    best = results["alpaserve"]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).write_text(f"This folder is alpaserve demo's output: each run rewrites "
                                  f"{FIGURE} and {PLAN} here.\n")
    # a plan file, so that `alpaserve simulate alpaserve-demo/plan.json` replays the traffic
    best.to_plan_file(workload={"kind": "mix", "model_names": list(mix.model_names),
                                "rate": args.rate, "cv": args.cv, "zipf": 0.0,
                                "duration": args.duration, "seed": args.seed},
                      profiles={"source": "analytic", "device": cluster.device.name}
                      ).save(out_dir / PLAN, force=True)  # the folder is ours (checked above)
    _figure(results).savefig(out_dir / FIGURE, dpi=110)
    wrote = f"wrote {FIGURE} and {PLAN} to {out_dir}{'' if args.out_dir.endswith('/') else '/'}"
    if args.json:
        print(wrote, file=sys.stderr)  # stdout holds only the JSON rows
    else:
        sr, ours = rows[0]["attainment"], rows[1]["attainment"]
        print(f"AlpaServe attains {100 * ours:.1f}% vs {100 * sr:.1f}% for selective "
              f"replication; {wrote}")
        if args.explain:
            print(best.explain())
    return 0


def _check_out_dir(out_dir: Path, *, force: bool) -> None:
    """Refuse a path that is not a folder, or a folder of someone else's files without force."""
    if out_dir.exists() and not out_dir.is_dir():
        raise SpecError(f"--out-dir {str(out_dir)!r} exists and is not a folder")
    if force or not out_dir.is_dir() or (out_dir / MARKER).is_file():
        return
    others = sorted(p.name for p in out_dir.iterdir())
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise SpecError(f"--out-dir {str(out_dir)!r} holds files the demo did not write "
                        f"({shown}); choose another folder or pass --force")


def _figure(results: dict[str, Any]) -> Any:
    """Both placements on top, per-model attainment below."""
    from matplotlib.figure import Figure

    from alpaserve.plots import plot_model_attainment, plot_placement

    fig = Figure(figsize=(12, 6.5), layout="constrained")
    grid = fig.add_gridspec(2, len(results), height_ratios=[1, 1.4])
    for k, (policy, res) in enumerate(results.items()):
        ax = fig.add_subplot(grid[0, k])
        plot_placement(res.placement, ax=ax)
        ax.set_title(f"{policy}: {100 * res.test_result.attainment:.1f}% attainment")
    ax = fig.add_subplot(grid[1, :])
    plot_model_attainment({p: dict(res.test_result.attainment_per_model)
                           for p, res in results.items()}, ax=ax)
    ax.set_title("per-model SLO attainment on held-out traffic")
    return fig
