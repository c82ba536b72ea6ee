"""``alpaserve modelless``: simulate INFaaS-style model-less serving on one of its loads."""

from __future__ import annotations

import argparse
import json

from alpaserve.cli import _checks as checks


def register(parser: argparse.ArgumentParser) -> None:
    """Add ``alpaserve modelless``'s flags to its parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser; flags are added in place.
    """
    parser.add_argument("--registry", metavar="FILE", type=checks.input_file,
                        help="variant registry (.yaml/.json); default: the bundled "
                             "image-classification example")
    parser.add_argument("--load", choices=("flat", "steady", "fluctuating"), default="flat",
                        help="INFaaS load: flat 4 QPS, steady 650->700 QPS, fluctuating "
                             "4-80 QPS (default: flat)")
    parser.add_argument("--duration", type=checks.duration, default=None, metavar="S",
                        help="simulated seconds (default: the load's benchmark duration)")
    parser.add_argument("--seed", type=checks.seed, default=0)
    parser.add_argument("--task", default=None,
                        help="task to serve (default: the registry's only or first task)")
    parser.add_argument("--policy", choices=("infaas", "clipper+", "sm+"), default="infaas",
                        help="INFaaS, or one of its paper's baselines: Clipper+ (one variant "
                             "per application, replicas autoscaled) or SM+ (the same with a "
                             "worker per replica and a static scaler); default infaas")
    parser.add_argument("--variant", default=None,
                        help="serve with this one variant (the fixed baseline) instead of "
                             "a policy")
    parser.add_argument("--lookahead", type=checks.seconds_or_zero, default=None, metavar="S",
                        help="plan for the rate extrapolated this far ahead (default: the "
                             "longest worker start-up plus load time; 0 is INFaaS as "
                             "published)")
    parser.add_argument("--no-plan-ahead", action="store_true",
                        help="do not declare the load's starting rate before traffic "
                             "arrives (the first queries then wait for a cold start)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--out", metavar="FILE", type=checks.table_file,
                        help="also write the rows to FILE (.csv, .parquet or .json)")


def run(args: argparse.Namespace) -> int:
    """Run ``alpaserve modelless``: model-less (INFaaS) serving.

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
    from dataclasses import replace

    from alpaserve.modelless.registry import VariantRegistry, example_registry
    from placement.modelless.config import InfaasConfig
    from placement.modelless.experiment import ModellessExperiment, run_policy

    registry = (example_registry() if args.registry is None
                else VariantRegistry.from_file(args.registry))
    exp = ModellessExperiment.preset(args.load, duration=args.duration, seed=args.seed)
    exp = replace(exp, plan_ahead=not args.no_plan_ahead)
    if args.task is not None or exp.task not in registry.tasks():
        exp = replace(exp, task=args.task or registry.tasks()[0])
    result = run_policy(exp, registry, policy=args.policy, variant=args.variant,
                        config=InfaasConfig(lookahead=args.lookahead))
    label = args.variant or args.policy
    summary = result.summary(exp.warmup, exp.duration)
    if args.out:
        from alpaserve.cli._output import write_rows

        flat = {k: (json.dumps(v) if isinstance(v, dict) else v)
                for k, v in summary.to_dict().items()}
        write_rows([{"policy": label, "load": args.load, **flat}], args.out,
                   force=getattr(args, "force", False))
    if args.json:
        out = summary.to_dict()
        out.update(load=args.load, duration=exp.duration, warmup=exp.warmup, seed=args.seed,
                   policy=label, outcomes=result.counts())
        from alpaserve.cli._output import print_json

        print_json(dict(sorted(out.items())), args)
        return 0
    print(f"{label} on the {args.load} load: {summary.queries} queries "
          f"measured over [{exp.warmup:.0f}, {exp.duration:.0f}) s")
    print(f"  SLO violations   {summary.violations} (attainment {100 * summary.attainment:.2f}%): "
          f"late {summary.late}, below accuracy {summary.below_accuracy}, "
          f"fallback {summary.fallback}, dropped {summary.dropped}")
    print(f"  throughput       {summary.throughput:.1f} queries/s")
    print(f"  accuracy         mean {summary.mean_accuracy:.2f}%, "
          f"min {summary.min_accuracy:.2f}%")
    print(f"  cost             ${summary.cost:.4f} ("
          + ", ".join(f"{h} ${c:.4f}" for h, c in summary.cost_by_hardware.items() if c)
          + ")")
    print(f"  scaling          {summary.worker_starts} worker starts, "
          f"{summary.load_events} loads, {summary.variant_switches} variant switches")
    for name, count in sorted(summary.served_by_variant.items(), key=lambda kv: -kv[1]):
        print(f"  served by {name:<28} {count}")
    return 0
