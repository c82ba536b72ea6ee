"""Workload and SLO flags shared by ``plan`` and ``simulate`` (one definition of the
defaults, so that simulating a plan evaluates the workload it was planned for)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from alpaserve.cli import _checks as checks
from alpaserve.errors import SpecError

# The synthetic mix of `plan` and `simulate`, when neither flags nor a plan file say otherwise.
WORKLOAD_DEFAULTS: dict[str, float] = {"rate": 20.0, "cv": 1.0, "zipf": 0.5, "duration": 60.0}
SLO_SCALE_DEFAULT = 5.0


def add_workload_flags(parser: argparse.ArgumentParser, *, from_plan: bool = False) -> None:
    """Add the mix and SLO flags.

    Every mix default is None, resolved at run time by :func:`mix_spec` (from a plan file's
    workload with ``from_plan``, else from :data:`WORKLOAD_DEFAULTS`), so that a mix flag
    given with a trace is told apart from its default.

    Parameters
    ----------
    parser
        The subcommand's parser.
    from_plan
        Say in the help that a plan file's values are the defaults (``simulate``).

    Returns
    -------
    None

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_workload_flags(p)
    >>> p.parse_args(["--cv", "4"]).rate is None
    True
    """
    d = dict.fromkeys(WORKLOAD_DEFAULTS)
    where = "the plan file's, else " if from_plan else ""
    g = parser.add_argument_group("synthetic workload (Gamma arrivals, power-law popularity)")
    g.add_argument("--rate", type=checks.rate, default=d["rate"],
                   help=f"total arrival rate, req/s (default: {where}"
                        f"{WORKLOAD_DEFAULTS['rate']:g})")
    g.add_argument("--cv", type=checks.cv, default=d["cv"],
                   help=f"inter-arrival CV of each model's Gamma process (default: {where}"
                        f"{WORKLOAD_DEFAULTS['cv']:g})")
    g.add_argument("--zipf", type=checks.zipf, default=d["zipf"],
                   help=f"power-law popularity exponent across models, 0 = equal shares "
                        f"(default: {where}{WORKLOAD_DEFAULTS['zipf']:g})")
    g.add_argument("--duration", type=checks.duration, default=d["duration"],
                   help=f"seconds of synthetic arrivals (default: {where}"
                        f"{WORKLOAD_DEFAULTS['duration']:g})")
    g.add_argument("--seed", type=checks.seed, default=None if from_plan else 0,
                   help="workload seed (default: the plan's seed + 1 for a fresh sample, "
                        "else 0)" if from_plan else "random seed (default: 0)")
    s = parser.add_argument_group("SLO")
    s.add_argument("--slo", type=checks.seconds, default=None,
                   help="one SLO in seconds for every model")
    s.add_argument("--slo-scale", type=checks.scale, default=None,
                   help="SLO = this x each model's single-device latency (default: "
                        + ("the plan file's SLOs, else " if from_plan else "")
                        + f"{SLO_SCALE_DEFAULT:g}; ignored with --slo)")


def mix_spec(args: argparse.Namespace, base: Mapping[str, Any] | None = None
             ) -> dict[str, Any]:
    """``rate, cv, zipf, duration`` from the flags, else ``base`` (a plan file's mix), else
    the defaults; validated.

    Parameters
    ----------
    args
        Parsed flags of :func:`add_workload_flags` (None = not given).
    base
        A plan file's mix spec, or None.

    Returns
    -------
    dict
        The four values as floats.

    Examples
    --------
    >>> args = argparse.Namespace(rate=None, cv=8.0, zipf=None, duration=None)
    >>> mix_spec(args, {"rate": 6.0, "cv": 2.0})
    {'rate': 6.0, 'cv': 8.0, 'zipf': 0.5, 'duration': 60.0}
    """
    values: dict[str, Any] = {}
    for key, default in WORKLOAD_DEFAULTS.items():
        given = getattr(args, key, None)
        values[key] = float(given if given is not None else (base or {}).get(key, default))
    for flag in ("rate", "cv", "duration"):
        if not values[flag] > 0:
            raise SpecError(f"--{flag} must be positive, got {values[flag]!r}")
    if values["zipf"] < 0:
        raise SpecError(f"--zipf must be >= 0, got {values['zipf']!r}")
    return values


def synthetic_workload(model_names: Sequence[str], mix: Mapping[str, Any], seed: int, *,
                       start_mode: Any = "stationary") -> Any:
    """Gamma arrivals for ``model_names`` from a :func:`mix_spec` dict and a seed.

    Each model's process starts stationary, unless ``start_mode="ordinary"`` (AlpaServe's
    start, which ``--alpaserve-mode`` keeps; see :mod:`workloads.arrivals`).

    Parameters
    ----------
    model_names
        The models, in popularity order (model 0 is the most popular under ``zipf > 0``).
    mix
        ``rate, cv, zipf, duration`` (:func:`mix_spec`).
    seed
        The sample's seed.
    start_mode
        ``"stationary"`` or ``"ordinary"``.

    Returns
    -------
    Workload
        The sample.

    Examples
    --------
    >>> w = synthetic_workload(("a", "b"), {"rate": 10.0, "cv": 1.0, "zipf": 0.0,
    ...                                     "duration": 20.0}, seed=1)
    >>> w.model_names, 100 < len(w) < 300
    (('a', 'b'), True)
    """
    from workloads.mixes import MixSpec, generate_mix

    spec = MixSpec(model_names=tuple(model_names), total_rate=mix["rate"], cv=mix["cv"],
                   zipf_alpha=mix["zipf"] if mix["zipf"] > 0 else None, start_mode=start_mode)
    return generate_mix(spec, duration=mix["duration"], seed=seed)


def trace_workload(path: str, model_names: Sequence[str]) -> Any:
    """A whole trace mapped onto ``model_names`` by the default (``auto``) mapping.

    Parameters
    ----------
    path
        The trace file (any format ``--trace`` reads).
    model_names
        The models to map onto.

    Returns
    -------
    Workload
        Every request of the trace, times from its first request.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "t.csv")
    ...     _ = open(p, "w").write("arrival_s,model\\n1,f\\n2,f\\n3,f\\n")
    ...     trace_workload(p, ["a", "b"]).models_of().tolist()
    ['a', 'b', 'a']
    """
    from alpaserve.cli._trace_args import TraceSpec, load_trace

    return load_trace(TraceSpec(path=path), tuple(model_names)).workload


def slo_per_model(models: Mapping[str, Any], device: Any, args: argparse.Namespace,
                  planned: Mapping[str, float] | None = None) -> dict[str, float]:
    """``--slo`` for every model, or ``--slo-scale`` × its single-device latency; without
    either, the ``planned`` SLOs (a plan file's) or the default scale.

    Parameters
    ----------
    models
        Model name to ``ModelSpec``.
    device
        The device whose single-device latency scales the SLO.
    args
        Parsed ``--slo`` and ``--slo-scale`` (None = not given).
    planned
        A plan file's SLOs, or None.

    Returns
    -------
    dict
        Seconds per model.

    Examples
    --------
    >>> from alpaserve import device_preset, model_preset
    >>> m = {"m": model_preset("bert-1.3b")}
    >>> none = argparse.Namespace(slo=None, slo_scale=None)
    >>> slo_per_model(m, device_preset("v100-16gb"), none, {"m": 0.25})
    {'m': 0.25}
    """
    from alpaserve.cost.stage import single_device_latency

    if args.slo is not None:
        if not args.slo > 0:
            raise SpecError(f"--slo must be positive, got {args.slo!r}")
        return {name: float(args.slo) for name in models}
    if args.slo_scale is None and planned is not None:
        missing = sorted(set(models) - set(planned))
        if missing:
            raise SpecError(f"the plan file has no SLO for models {missing[:5]}")
        return {name: float(planned[name]) for name in models}
    scale = SLO_SCALE_DEFAULT if args.slo_scale is None else args.slo_scale
    if not scale > 0:
        raise SpecError(f"--slo-scale must be positive, got {scale!r}")
    return {name: scale * single_device_latency(model=spec, device=device)
            for name, spec in models.items()}


def resolve_workload(args: argparse.Namespace, plan_file: Any, names: tuple[str, ...]
                     ) -> tuple[Any, dict[str, Any]]:
    """The workload ``simulate`` replays: the flags over the plan file's workload spec.

    A synthetic replay uses the plan's seed + 1 unless ``--seed`` is given; a replay of the
    plan's own trace takes its held-out test part unless ``--part`` says otherwise.

    Parameters
    ----------
    args
        ``simulate``'s parsed flags.
    plan_file
        The :class:`~alpaserve.plan_file.PlanFile` read (a bare placement has no workload).
    names
        The placement's models.

    Returns
    -------
    tuple
        The workload and a report of it (``description`` says what it is in words).

    Examples
    --------
    >>> from alpaserve.plan_file import PlanFile
    >>> from alpaserve import homogeneous_cluster, Placement
    >>> pf = PlanFile(placement=Placement(cluster=homogeneous_cluster(1), models={},
    ...                                   groups=()),
    ...               workload={"kind": "mix", "rate": 5.0, "cv": 2.0, "zipf": 0.0,
    ...                         "duration": 10.0, "seed": 4})
    >>> args = argparse.Namespace(trace=None, seed=None, part=None, **dict.fromkeys(
    ...     ["rate", "cv", "zipf", "duration", "trace_format", "start", "end", "rate_scale",
    ...      "map", "map_file", "map_alpha", "train_fraction"]))
    >>> w, report = resolve_workload(args, pf, ("a", "b"))
    >>> report["seed"], report["description"].split(":")[0]
    (5, 'the planned mix')
    """
    from alpaserve.cli._trace_args import check_flag_kinds, describe, load_trace, spec_from_args

    planned = dict(plan_file.workload or {})
    kind = planned.get("kind")
    if args.trace is not None or kind == "trace":
        check_flag_kinds(args, trace=True)
        own = kind == "trace" and (args.trace is None
                                   or str(args.trace) == str(planned.get("path")))
        spec = spec_from_args(args, planned if own else None)
        order = tuple(planned.get("model_names") or ()) if own else ()
        targets = order if sorted(order) == sorted(names) else names
        if own and planned.get("sha256"):
            from alpaserve.plan_file import file_sha256

            if file_sha256(spec.path) != planned["sha256"]:
                print(f"warning: {spec.path} changed since the plan was made (its SHA-256 "
                      "differs); replaying the file as it is now", file=sys.stderr)
        parts = load_trace(spec, targets)
        part = args.part or ("test" if own else "all")
        report = {**parts.report, "part": part, "replays_plan": own,
                  "description": describe(parts.report, part)
                  + ("" if own else " (not the plan's trace)")}
        return parts.part(part), report
    check_flag_kinds(args, trace=False)
    if getattr(args, "part", None) is not None:
        raise SpecError("--part applies to a trace workload; give --trace FILE")
    mix = mix_spec(args, planned if kind == "mix" else None)
    if args.seed is not None:
        seed, why = args.seed, "--seed"
    elif kind == "mix":
        seed, why = int(planned.get("seed", 0)) + 1, "the plan's seed + 1: a fresh sample"
    else:
        seed, why = 0, "default"
    changed = [k for k in WORKLOAD_DEFAULTS if getattr(args, k, None) is not None]
    origin = ("the planned mix" if kind == "mix" and not changed else
              f"the planned mix with {', '.join('--' + k for k in changed)} changed"
              if kind == "mix" else "a synthetic mix (the placement carries no workload)")
    description = (f"{origin}: rate {mix['rate']:g} req/s, CV {mix['cv']:g}, zipf "
                   f"{mix['zipf']:g}, {mix['duration']:g} s, seed {seed} ({why})")
    # --alpaserve-mode, or a plan made on AlpaServe's arrivals, keeps the ordinary start
    start_mode = ("ordinary" if getattr(args, "alpaserve_mode", False)
                  else str(planned.get("start_mode", "stationary")) if kind == "mix"
                  else "stationary")
    return (synthetic_workload(names, mix, seed, start_mode=start_mode),
            {"kind": "mix", **mix, "seed": seed, "start_mode": start_mode,
             "description": description + f", {start_mode} start"})
