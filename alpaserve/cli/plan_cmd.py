"""``alpaserve plan``: plan a placement for a synthetic mix or a trace.

Example::

    alpaserve plan --models bert-1.3b:8,bert-2.6b:4 --devices 8 --rate 8 --cv 4 \\
        --slo-scale 5 --policy alpaserve --out plan.json
    alpaserve plan --models bert-1.3b:4 --devices 4 --trace AzureLLMInferenceTrace_code.csv \\
        --rate-scale 4 --out plan.json

Models are presets (or ModelSpec JSON files) with a count (copies are named ``bert-1.3b#0``,
``bert-1.3b#1``, ...).
A synthetic workload is Gamma arrivals with power-law popularity (``--zipf``): the search
sees one sample and the plan is tested on a fresh one. A trace (``--trace``) is windowed,
rate-scaled and mapped onto the models (see ``alpaserve.cli._trace_args``); its early part
trains the plan and the later part tests it. The plan is printed (``PlanResult.explain()``);
``--out`` writes the plan file (placement, SLOs, profiles source, workload spec) that
``simulate`` and ``fidelity`` read; ``--json`` prints it. ``--max-batch N`` tests the plan
with the simulator's batching (analytic profiles at batch sizes 1..N) and records
``max_batch`` in the plan file, which ``simulate`` and ``fidelity`` then use by default; the
search itself scores without batching.
Synthetic arrivals start stationary (``--policy alpaserve-published`` keeps AlpaServe's
ordinary start).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from alpaserve.cli import _checks as checks
from alpaserve.cli._output import print_json
from alpaserve.cli._trace_args import add_trace_flags, check_flag_kinds, describe
from alpaserve.cli._workload_args import SLO_SCALE_DEFAULT, add_workload_flags, mix_spec


class _DeprecatedJobs(argparse.Action):
    """``--jobs N``: the old name of ``--workers`` (one flag name per concept)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print("alpaserve plan: warning: --jobs is deprecated; use --workers", file=sys.stderr)
        setattr(namespace, self.dest, values)


def register(parser: argparse.ArgumentParser) -> None:
    """Add ``alpaserve plan``'s flags to its parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser; flags are added in place.
    """
    parser.add_argument("--models", default="bert-1.3b:8",
                        help="comma-separated PRESET[:COUNT], e.g. bert-1.3b:8,bert-2.6b:4; "
                             "a PRESET may be a ModelSpec JSON file (%(default)s)")
    parser.add_argument("--devices", type=checks.devices, default=8, help="number of devices (8)")
    parser.add_argument("--device", default="v100-16gb", help="device preset (%(default)s)")
    parser.add_argument("--devices-per-node", type=checks.devices, default=8,
                        help="devices per node (%(default)s)")
    parser.add_argument("--policy", default="alpaserve",
                        choices=("sr", "clockwork++", "alpaserve", "alpaserve-published"))
    parser.add_argument("--window", type=checks.seconds, default=60.0,
                        help="Clockwork++ window in seconds (%(default)s)")
    parser.add_argument("--workers", type=checks.whole(1, 1024), default=1,
                        help="worker processes of the search (%(default)s)")
    parser.add_argument("--jobs", type=checks.whole(1, 1024), dest="workers",
                        action=_DeprecatedJobs,
                        help=argparse.SUPPRESS)
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bars (default: on when stderr is a terminal)")
    parser.add_argument("--memory-gib", type=checks.real(0.0, 1e6, above=True), default=None,
                        help="usable GiB per device (default: the preset's; AlpaServe's V100 "
                             "budget is 13)")
    parser.add_argument("--in-sample", action="store_true",
                        help="plan on the evaluation workload itself (AlpaServe's artifact); "
                             "by default the plan is tested on an independent sample")
    parser.add_argument("--max-batch", type=checks.batch, default=1,
                        help="largest batch the plan is tested with and that `simulate` and "
                             f"`fidelity` use, at most {checks.MAX_BATCH} (default 1; the "
                             "search scores without batching)")
    parser.add_argument("--out", default=None, type=checks.json_file,
                        help="write the plan file (JSON) here, for `simulate`/`fidelity`")
    parser.add_argument("--json", action="store_true", help="print the plan file's JSON")
    add_workload_flags(parser)
    add_trace_flags(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``alpaserve plan``: a placement plan.

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
    import dataclasses

    from alpaserve.cluster_spec import homogeneous_cluster
    from placement import ClockworkOptions, SearchOptions, plan
    from simulator import SimulationOptions
    from workloads.mixes import MixSpec

    models = parse_models(args.models)
    names = tuple(m.name for m in models)
    budget = None if args.memory_gib is None else round(args.memory_gib * 2**30)
    cluster = homogeneous_cluster(args.devices, args.device,
                                  devices_per_node=args.devices_per_node)
    workload: Any
    test: Any = None
    trace_report: dict[str, Any] | None = None
    if args.trace is not None:
        from alpaserve.cli._trace_args import load_trace, spec_from_args
        from alpaserve.plan_file import file_sha256

        check_flag_kinds(args, trace=True)
        parts = load_trace(spec_from_args(args), names)
        workload, test, trace_report = parts.train, parts.test, parts.report
        spec: dict[str, Any] = {**trace_report, "sha256": file_sha256(args.trace),
                                "model_names": list(names)}
    else:
        check_flag_kinds(args, trace=False)
        mix = mix_spec(args)
        # The paper's policy is replayed on AlpaServe's own arrivals: the ordinary start.
        workload = MixSpec(model_names=names, total_rate=mix["rate"], cv=mix["cv"],
                           zipf_alpha=mix["zipf"] if mix["zipf"] > 0 else None,
                           start_mode="ordinary" if args.policy == "alpaserve-published"
                           else "stationary")
        spec = {"kind": "mix", "model_names": list(names), **mix, "seed": args.seed,
                "start_mode": workload.start_mode}
    result = plan(models, cluster, workload, test_workload=test, slo=args.slo,
                  slo_scale=SLO_SCALE_DEFAULT if args.slo_scale is None else args.slo_scale,
                  policy=args.policy, seed=args.seed,
                  duration=mix_spec(args)["duration"] if test is None else 60.0,
                  search=SearchOptions(n_jobs=args.workers,
                                       progress=sys.stderr.isatty() if args.progress is None
                                       else args.progress),
                  clockwork=ClockworkOptions(window=args.window), memory_budget=budget,
                  in_sample=args.in_sample, options=SimulationOptions(max_batch=args.max_batch))
    if trace_report is not None:  # name the held-out span rather than "the given workload"
        a, b = trace_report["test_span"]
        result = dataclasses.replace(result, test_source=f"the later part [{a:.6g}, {b:.6g}] "
                                                         "s of the trace")
    plan_file = result.to_plan_file(workload=spec, profiles={"source": "analytic",
                                                             "device": cluster.device.name})
    plan_file = dataclasses.replace(plan_file, summary={**plan_file.summary,
                                                        "max_batch": args.max_batch})
    unplaced = plan_file.summary["models_without_replica"]
    if args.out:
        plan_file.save(args.out, force=getattr(args, "force", False))
    if unplaced:
        print(f"warning: {len(unplaced)} model(s) got no replica and will miss every SLO: "
              f"{', '.join(unplaced[:8])}", file=sys.stderr)
    if args.json:
        print_json(plan_file.to_dict(), args)
        return 0
    if trace_report is not None:
        print(describe(trace_report, "test"))
    print(result.explain())
    if args.out:
        print(f"wrote the plan file {args.out} (simulate it: alpaserve simulate {args.out})")
    return 0


def parse_models(text: str) -> list[Any]:
    """Copies of presets or of ModelSpec JSON files: ``"bert-1.3b:8,tiny.json:2"``.

    Copy ``i`` of a file's model ``m`` is named ``m#i``, as for presets.

    Parameters
    ----------
    text : str
        Comma-separated ``PRESET[:COUNT]`` or ``FILE.json[:COUNT]`` items.

    Returns
    -------
    list of ModelSpec
        The named copies.

    Raises
    ------
    SpecError
        When an item names no preset nor a readable ModelSpec file, or a count is invalid.

    Examples
    --------
    >>> [m.name for m in parse_models("bert-1.3b:2")]
    ['bert-1.3b#0', 'bert-1.3b#1']
    """
    import json
    from pathlib import Path

    from alpaserve.errors import SpecError
    from alpaserve.model_presets import model_copies
    from alpaserve.model_spec import ModelSpec

    models = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, _, count = part.rpartition(":") if ":" in part else (part, "", "")
        if not name.lower().endswith(".json"):
            models += model_copies(part)
            continue
        try:
            base = ModelSpec.from_dict(json.loads(Path(name).read_text(encoding="utf-8")))
        except OSError as exc:
            raise SpecError(f"cannot read model file {name!r}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise SpecError(f"model file {name!r} is not valid JSON: {exc}") from exc
        if not count.isdigit() and count:
            raise SpecError(f"model count in {part!r} is not an integer")
        copies = int(count) if count else 1
        if copies < 1:
            raise SpecError(f"model count in {part!r} must be positive")
        models += [base.renamed(f"{base.name}#{i}") for i in range(copies)]
    if not models:
        raise SpecError(f"no models in {text!r}")
    return models
