"""``simulate_llm``: a workload on an LLM deployment, with either engine."""

from __future__ import annotations

from typing import Literal

from alpaserve.errors import SimulationError
from simulator.llm.config import LLMDeployment
from simulator.llm.prepared import prepare_llm
from simulator.llm.result import LLMSimResult
from workloads.workload import Workload

LLMEngine = Literal["compiled", "reference"]


def simulate_llm(deployment: LLMDeployment, workload: Workload, *,
                 engine: LLMEngine = "compiled", workers: int = 1,
                 kv_timeline: bool | int = False) -> LLMSimResult:
    """Simulate ``workload`` on ``deployment`` at the token level.

    Parameters
    ----------
    deployment : LLMDeployment
        Groups, the models each hosts and their schedulers.
    workload : Workload
        Requests with prompt and output tokens.
    engine : {"compiled", "reference"}, default "compiled"
        The numba engine, or the SimPy reference (slow, written to be read; same outcome).
    workers : int, default 1
        Threads over groups (compiled engine only).
    kv_timeline : bool or int, default False
        Also record each group's KV blocks in use over time (``result.kv_timeline``,
        ``result.kv_timeline_frame()``): ``True`` keeps up to
        :data:`~simulator.llm.kv_timeline.DEFAULT_KV_TIMELINE_POINTS` points per group, an
        int sets that cap; past it the points are downsampled, keeping every peak
        (:mod:`simulator.llm.kv_timeline`). Off by default: recording costs a little time.

    Returns
    -------
    LLMSimResult
        Per-request outcome; ``.summary(ttft_slo=..., tpot_slo=...)`` gives the metrics.

    Raises
    ------
    SimulationError
        On an unknown engine, an invalid ``kv_timeline``, a workload without token counts,
        a model no group hosts, or (an engine bug) a group left with requests unfinished.

    Examples
    --------
    >>> from alpaserve.llm.iteration import IterationCost
    >>> from simulator.llm.config import EngineGroup, ServedModel
    >>> cost = IterationCost(linear_s=[0.0, 0.01], prefill_attention_s=0.0,
    ...                      decode_attention_s=0.0)
    >>> dep = LLMDeployment(groups=(EngineGroup(name="g", num_devices=1, models=(
    ...     ServedModel(model="m", cost=cost, kv_blocks=64),)),))
    >>> w = Workload.from_arrays(arrival=[0.0], model="m", prompt_tokens=[1],
    ...                          output_tokens=[3])
    >>> simulate_llm(dep, w).finish.tolist()
    [0.03]
    >>> line = simulate_llm(dep, w, kv_timeline=True).kv_timeline
    >>> line.times[0].tolist(), line.blocks[0].tolist()
    ([0.0, 0.03], [1, 0])
    """
    if not isinstance(deployment, LLMDeployment):
        raise SimulationError(
            f"deployment must be an LLMDeployment, got {type(deployment).__name__}")
    prepared = prepare_llm(workload, deployment)
    if engine == "compiled":
        from simulator.llm.engine import run_compiled

        outcome = run_compiled(prepared, deployment, workers=workers,
                               kv_timeline=kv_timeline)
    elif engine == "reference":
        try:
            from simulator.llm.reference import run_reference
        except ImportError as exc:
            raise SimulationError("the SimPy reference engine (simulator.llm.reference) is "
                                  f"not available in this installation: {exc}") from None
        outcome = run_reference(prepared, deployment, kv_timeline=kv_timeline)
    else:
        raise SimulationError(f"engine must be 'compiled' or 'reference', got {engine!r}")
    return LLMSimResult.from_outcome(prepared, outcome, deployment, engine=engine)
