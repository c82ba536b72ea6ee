"""Workload and SLO flags shared by ``simulate``, ``plan`` and ``demo``."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from alpaserve.cli import _checks as checks
from alpaserve.errors import SpecError


def add_workload_flags(parser: argparse.ArgumentParser, *, rate: float = 8.0,
                       cv: float = 4.0, duration: float = 600.0) -> None:
    g = parser.add_argument_group("workload")
    g.add_argument("--trace", metavar="FILE",
                   help="replay a trace file instead of a synthetic Gamma workload")
    g.add_argument("--rate", type=checks.rate, default=rate,
                   help="total arrival rate, req/s (default: %(default)s); with --trace, "
                        "a rate scale is --rate-scale")
    g.add_argument("--cv", type=checks.cv, default=cv,
                   help="inter-arrival CV of each model's Gamma process (default: %(default)s)")
    g.add_argument("--zipf", type=checks.zipf, default=0.0,
                   help="power-law popularity exponent across models; 0 = equal shares")
    g.add_argument("--duration", type=checks.duration, default=duration,
                   help="seconds of synthetic arrivals (default: %(default)s)")
    g.add_argument("--seed", type=checks.seed, default=0, help="workload seed (default: 0)")
    g.add_argument("--slo", type=checks.seconds, help="one SLO in seconds for every model")
    g.add_argument("--slo-scale", type=checks.scale, default=5.0,
                   help="SLO = this x each model's single-device latency "
                        "(default: %(default)s; ignored with --slo)")


def synthetic_workload(model_names: Sequence[str], args: argparse.Namespace, *,
                       seed_offset: int = 0) -> Any:
    """Gamma arrivals for ``model_names`` from ``--rate --cv --zipf --duration --seed``.

    Each model's process starts stationary, except with ``--alpaserve-mode``, which keeps
    AlpaServe's ordinary start (see :mod:`workloads.arrivals`).
    """
    from workloads.mixes import MixSpec, generate_mix

    for flag in ("rate", "cv", "duration"):
        if not getattr(args, flag) > 0:
            raise SpecError(f"--{flag} must be positive, got {getattr(args, flag)!r}")
    if args.zipf < 0:
        raise SpecError(f"--zipf must be >= 0, got {args.zipf!r}")
    spec = MixSpec(model_names=tuple(model_names), total_rate=args.rate, cv=args.cv,
                   zipf_alpha=args.zipf if args.zipf > 0 else None,
                   start_mode="ordinary" if getattr(args, "alpaserve_mode", False)
                   else "stationary")
    return generate_mix(spec, duration=args.duration, seed=args.seed + seed_offset)


def trace_workload(path: str, model_names: Sequence[str]) -> Any:
    """A trace whose models are mapped onto ``model_names``, round-robin by popularity."""
    import numpy as np

    from alpaserve.cli.trace_cmd import read_trace
    from workloads.mapping import FunctionMapping, map_functions
    from workloads.workload import Workload

    workload, _ = read_trace(Path(path), "auto", models=len(model_names), skip_bad_rows=False)
    if set(workload.model_names) <= set(model_names):
        return workload
    names = tuple(model_names)
    mapping = map_functions(workload.counts_by_model(),
                            FunctionMapping(num_models=len(names), model_names=names))
    # Trace models without requests are dropped by the mapping and have none to remap.
    remap = np.array([mapping.assignment.get(m, 0) for m in workload.model_names],
                     dtype=np.int64)
    return Workload.from_arrays(arrival=workload.arrival, model=remap[workload.model_codes],
                                model_names=names)


def slo_per_model(models: Mapping[str, Any], device: Any, args: argparse.Namespace
                  ) -> dict[str, float]:
    """``--slo`` for every model, or ``--slo-scale`` × its single-device latency."""
    from alpaserve.cost.model import single_device_latency

    if args.slo is not None:
        if not args.slo > 0:
            raise SpecError(f"--slo must be positive, got {args.slo!r}")
        return {name: float(args.slo) for name in models}
    if not args.slo_scale > 0:
        raise SpecError(f"--slo-scale must be positive, got {args.slo_scale!r}")
    return {name: args.slo_scale * single_device_latency(model=spec, device=device)
            for name, spec in models.items()}
