"""A workload made ready for the token-level engines: routed, checked, as flat arrays.

Routing and rejection follow :mod:`simulator.llm.semantics`; both engines read the same
:class:`PreparedLLM`, so they cannot disagree on where a request went.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SimulationError
from simulator.llm.config import LLMDeployment
from workloads.workload import Workload

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class PreparedLLM:
    """Per-request arrays of a routed LLM workload (sorted by arrival).

    Parameters
    ----------
    arrival : ndarray of float64
        Arrival times, non-decreasing.
    prompt, output : ndarray of int64
        Prompt tokens (>= 0) and output tokens (>= 1).
    group : ndarray of int64
        Index of the group each request was routed to.
    slot : ndarray of int64
        Index of the request's model within its group (``group.models[slot]``).
    rejected : ndarray of bool
        Requests that can never fit their group (never scheduled).
    raised_outputs : int
        Requests whose ``output_tokens`` was 0 and counts as 1 (the prefill emits a token).

    Examples
    --------
    >>> from alpaserve.llm.iteration import IterationCost
    >>> from simulator.llm.config import EngineGroup, LLMDeployment, ServedModel
    >>> cost = IterationCost(linear_s=[0.0, 0.01], prefill_attention_s=0.0,
    ...                      decode_attention_s=0.0)
    >>> groups = tuple(EngineGroup(name=f"g{i}", num_devices=1,
    ...                            models=(ServedModel(model="m", cost=cost, kv_blocks=8),))
    ...                for i in range(2))
    >>> w = Workload.from_arrays(arrival=[0.0, 1.0, 2.0], model="m",
    ...                          prompt_tokens=[10, 10, 500], output_tokens=[2, 2, 2])
    >>> p = prepare_llm(w, LLMDeployment(groups=groups))
    >>> p.group.tolist(), p.rejected.tolist()
    ([0, 1, 0], [False, False, True])
    """

    arrival: FloatArray
    prompt: IntArray
    output: IntArray
    group: IntArray
    slot: IntArray
    rejected: npt.NDArray[np.bool_]
    raised_outputs: int = 0

    def __len__(self) -> int:
        return int(self.arrival.size)


def _route(weights: list[float], count: int) -> IntArray:
    """Smooth weighted round robin over ``len(weights)`` candidates for ``count`` requests."""
    if len(weights) == 1:
        return np.zeros(count, dtype=np.int64)
    from simulator.llm.engine.route import smooth_round_robin

    return np.asarray(smooth_round_robin(np.array(weights, dtype=np.float64), count),
                      dtype=np.int64)


def prepare_llm(workload: Workload, deployment: LLMDeployment) -> PreparedLLM:
    """Route every request of ``workload`` to a group of ``deployment`` and flag rejections.

    Parameters
    ----------
    workload : Workload
        Requests with ``prompt_tokens`` and ``output_tokens``.
    deployment : LLMDeployment
        Groups and the models they host; every model of a request must be hosted.

    Returns
    -------
    PreparedLLM
        The routed arrays (see :mod:`simulator.llm.semantics` for the rules).

    Raises
    ------
    SimulationError
        If the workload has no token counts or requests a model no group hosts.
    """
    if not isinstance(workload, Workload):
        raise SimulationError(f"workload must be a Workload, got {type(workload).__name__}")
    if workload.prompt_tokens is None or workload.output_tokens is None:
        raise SimulationError("the workload has no prompt_tokens/output_tokens: a token-level "
                              "simulation needs both (read an LLM trace or use llm_workload)")
    n = len(workload)
    prompt = np.asarray(workload.prompt_tokens, dtype=np.int64)
    output = np.asarray(workload.output_tokens, dtype=np.int64)
    zero = output < 1
    raised = int(np.count_nonzero(zero))
    if raised:
        logger.info("%d requests have 0 output tokens and count as 1", raised)
        output = np.where(zero, 1, output)
    group = np.full(n, -1, dtype=np.int64)
    slot = np.full(n, -1, dtype=np.int64)
    rejected = np.zeros(n, dtype=bool)
    codes = np.asarray(workload.model_codes)
    for code, name in enumerate(workload.model_names):
        members = np.flatnonzero(codes == code)
        if members.size == 0:
            continue
        hosts = [(g, s) for g, grp in enumerate(deployment.groups)
                 for s, served in enumerate(grp.models) if served.model == name]
        if not hosts:
            raise SimulationError(f"model {name!r} has {members.size} requests but no group "
                                  f"hosts it (hosted: {list(deployment.model_names)})")
        picks = _route([deployment.groups[g].models[s].route_weight for g, s in hosts],
                       members.size)
        host_group = np.array([g for g, _ in hosts], dtype=np.int64)
        host_slot = np.array([s for _, s in hosts], dtype=np.int64)
        group[members] = host_group[picks]
        slot[members] = host_slot[picks]
    for g, grp in enumerate(deployment.groups):
        sched = grp.scheduler
        pool = sum(m.kv_blocks for m in grp.models)
        for s, served in enumerate(grp.models):
            mine = (group == g) & (slot == s)
            budget = pool if grp.kv_sharing == "shared" else served.kv_blocks
            need = -(-(prompt + output - 1) // sched.block_size)
            bad = mine & (need > budget)
            if not sched.chunked_prefill:
                bad |= mine & (prompt > sched.max_batched_tokens)
            rejected |= bad
    arrays = (np.ascontiguousarray(workload.arrival, dtype=np.float64), prompt, output,
              group, slot)
    for a in arrays:
        a.setflags(write=False)
    rejected.setflags(write=False)
    return PreparedLLM(arrival=arrays[0], prompt=arrays[1], output=arrays[2], group=arrays[3],
                       slot=arrays[4], rejected=rejected, raised_outputs=raised)
