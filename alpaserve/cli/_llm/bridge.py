"""The library calls of ``alpaserve llm``, in one place: LLM shapes and devices, the planning
problem, the planners, the token-level engine and its metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alpaserve.errors import AlpaServeError, SpecError


def model_specs(names: tuple[str, ...]) -> dict[str, Any]:
    """The :class:`~alpaserve.llm.spec.LLMSpec` of each model (copies share their preset's).

    Parameters
    ----------
    names : tuple of str
        Model names, ``PRESET`` or ``PRESET#i``.

    Returns
    -------
    dict of str to LLMSpec
        By name.

    Raises
    ------
    SpecError
        An unknown preset, naming it and listing the presets.
    """
    from alpaserve.cli._llm.args import preset_of
    from alpaserve.llm.spec import llm_preset, llm_preset_names

    out = {}
    for name in names:
        try:
            out[name] = llm_preset(preset_of(name))
        except SpecError:
            raise SpecError(f"--models: unknown LLM preset {preset_of(name)!r}; presets: "
                            f"{', '.join(llm_preset_names())}") from None
    return out


def device(name: str) -> Any:
    """The device preset ``name``.

    Parameters
    ----------
    name : str
        A device preset (``a100-80gb``, ``h100-80gb``, ...).

    Returns
    -------
    DeviceSpec
        The device.

    Raises
    ------
    SpecError
        An unknown preset (the message lists them).
    """
    from alpaserve.device_spec import device_preset

    try:
        return device_preset(name)
    except (SpecError, KeyError) as exc:
        raise SpecError(f"--device: {exc}") from None


def scheduler(**fields: Any) -> Any:
    """A checked :class:`~simulator.llm.config.SchedulerConfig`.

    Parameters
    ----------
    **fields
        ``max_num_seqs``, ``max_batched_tokens``, ``block_size``, ``chunked_prefill``.

    Returns
    -------
    SchedulerConfig
        The configuration.
    """
    from simulator.llm.config import SchedulerConfig

    try:
        return SchedulerConfig(**fields)
    except SpecError as exc:  # name the flags rather than the fields
        raise SpecError(str(exc).replace("SchedulerConfig.", "--").replace("_", "-")) from None


def problem(*, names: tuple[str, ...], device: Any, num_devices: int, gpus_per_node: int,
            scheduler: Any, ttft_slo: Mapping[str, float],
            tpot_slo: Mapping[str, float]) -> Any:
    """The planning problem.

    Parameters
    ----------
    names : tuple of str
        The models (presets or copies).
    device : DeviceSpec
        The GPU.
    num_devices, gpus_per_node : int
        The cluster.
    scheduler : SchedulerConfig
        Every group's scheduler.
    ttft_slo, tpot_slo : mapping of str to float
        SLOs per model, seconds.

    Returns
    -------
    LLMPlanProblem
        The problem.
    """
    from placement.llm import LLMPlanProblem

    return LLMPlanProblem(models=names, num_devices=num_devices, device=device,
                          gpus_per_node=gpus_per_node, scheduler=scheduler,
                          ttft_slo=dict(ttft_slo), tpot_slo=dict(tpot_slo))


def plan(problem: Any, workload: Any, *, method: str, seed: int, workers: int = 1) -> Any:
    """Plan with ``method`` on ``workload`` (the training part).

    Parameters
    ----------
    problem : LLMPlanProblem
        The problem.
    workload : Workload
        The requests the plan is searched on.
    method : str
        ``"search"``, ``"dedicated"`` or ``"muxserve"``.
    seed : int
        The search's seed.
    workers : int, default 1
        Threads over groups in each of the search's engine runs.

    Returns
    -------
    LLMPlan
        The plan.
    """
    from placement.llm import plan_llm

    engine = None if workers == 1 else _threaded_engine(workers)
    return plan_llm(problem, workload, method=method, seed=seed, engine=engine)


def _threaded_engine(workers: int) -> Any:
    """The placer's engine (route, then the compiled engine) on ``workers`` threads."""
    from simulator.llm.engine import run_compiled
    from simulator.llm.prepared import prepare_llm

    def engine(deployment: Any, workload: Any) -> tuple[Any, Any]:
        prepared = prepare_llm(workload, deployment)
        return prepared, run_compiled(prepared, deployment, workers=workers)

    return engine


def deployment_of(plan: Any) -> Any:
    """The plan's :class:`~simulator.llm.config.LLMDeployment`.

    Parameters
    ----------
    plan : LLMPlan
        A plan.

    Returns
    -------
    LLMDeployment
        What the engine runs.
    """
    return plan.deployment


def explain(plan: Any) -> str:
    """The plan in words.

    Parameters
    ----------
    plan : LLMPlan
        A plan.

    Returns
    -------
    str
        ``plan.explain()``.
    """
    return str(plan.explain())


def plan_to_dict(plan: Any) -> dict[str, Any]:
    """The plan as the LLM plan file keeps it.

    Parameters
    ----------
    plan : LLMPlan
        A plan.

    Returns
    -------
    dict
        ``plan.to_dict()``.
    """
    return dict(plan.to_dict())


def plan_from_dict(data: Mapping[str, Any], *, where: str) -> Any:
    """Rebuild a plan from an LLM plan file's ``plan`` object.

    Parameters
    ----------
    data : mapping
        The ``plan`` object.
    where : str
        The file, for messages.

    Returns
    -------
    LLMPlan
        The plan, its deployment rebuilt.

    Raises
    ------
    SpecError
        A malformed or tampered plan, naming the file.
    """
    from placement.llm import LLMPlan

    try:
        return LLMPlan.from_dict(data)
    except AlpaServeError as exc:
        raise SpecError(f"{where!r}: the plan is malformed: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise SpecError(f"{where!r}: the plan is malformed: {type(exc).__name__}: "
                        f"{exc}") from exc


def contexts(plan: Any, names: tuple[str, ...]) -> dict[str, int]:
    """Context window of each model of a plan.

    Parameters
    ----------
    plan : LLMPlan
        A plan.
    names : tuple of str
        Its models.

    Returns
    -------
    dict of str to int
        Tokens, by model.
    """
    return {n: s.max_context for n, s in model_specs(names).items()}


def simulate(deployment: Any, workload: Any, *, engine: str = "compiled",
             workers: int = 1, kv_timeline: bool | int = False) -> Any:
    """The token-level simulation of ``workload`` on ``deployment``.

    Parameters
    ----------
    deployment : LLMDeployment
        Groups and their models.
    workload : Workload
        Requests with token counts.
    engine : str, default "compiled"
        ``"compiled"`` or ``"reference"`` (SimPy).
    workers : int, default 1
        Threads over groups (compiled engine).
    kv_timeline : bool or int, default False
        Also record KV use over time per group (points per group; ``simulate_llm``'s).

    Returns
    -------
    LLMSimResult
        :func:`simulator.llm.simulate.simulate_llm`'s result.
    """
    from simulator.llm.simulate import simulate_llm

    return simulate_llm(deployment, workload, engine=engine,  # type: ignore[arg-type]
                        workers=workers, kv_timeline=kv_timeline)


def metrics(result: Any, deployment: Any, *, ttft_slo: Mapping[str, float],
            tpot_slo: Mapping[str, float]) -> dict[str, Any]:
    """The metrics of a simulation under per-model SLOs, JSON-ready.

    The numbers are :meth:`simulator.llm.result.LLMSimResult.summary`'s (their definitions
    are in :mod:`simulator.llm.metrics`); this only lays them out for the command line.

    Parameters
    ----------
    result : LLMSimResult
        A simulation (:func:`simulate`).
    deployment : LLMDeployment
        What it ran on (devices and models per group, for the ``groups`` rows).
    ttft_slo, tpot_slo : mapping of str to float
        SLOs per model, seconds; their keys are the models reported, in order.

    Returns
    -------
    dict
        ``{"overall": {...}, "per_model": {model: {...}}, "groups": [...]}``: the overall
        and per-model :class:`~simulator.llm.metrics.LLMMetrics`, and per group its
        devices, models, KV blocks, iterations, busy fraction and KV utilisation; NaN as
        None.
    """
    from alpaserve.strict_json import strict

    summary = result.summary(ttft_slo=dict(ttft_slo), tpot_slo=dict(tpot_slo))
    groups = [{"group": g.name, "devices": g.num_devices, "models": list(g.model_names),
               "kv_blocks": int(result.kv_capacity[k]),
               "iterations": int(result.iterations[k]),
               "busy": summary.busy_fraction[g.name],
               "kv_utilization": summary.kv_utilization[g.name]}
              for k, g in enumerate(deployment.groups)]
    return dict(strict({"overall": summary.overall.to_dict(),
                        "per_model": {m: summary.models[m].to_dict() for m in ttft_slo},
                        "groups": groups}))


def nonzero(counts: Mapping[str, int]) -> str:
    """``"a: 3, b: 1"`` for the non-zero counts.

    Parameters
    ----------
    counts : mapping of str to int
        Counts by name.

    Returns
    -------
    str
        The non-zero ones.

    Examples
    --------
    >>> nonzero({"a": 3, "b": 0, "c": 1})
    'a: 3, c: 1'
    """
    return ", ".join(f"{k}: {v}" for k, v in counts.items() if v)
