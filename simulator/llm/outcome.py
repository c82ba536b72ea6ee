"""The raw outcome of a token-level simulation, as both engines produce it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulator.llm.kv_timeline import KVTimeline

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class LLMOutcome:
    """Per-request and per-group arrays of one simulation (request order of the
    :class:`simulator.llm.prepared.PreparedLLM`).

    Parameters
    ----------
    first_token : ndarray of float64
        End of the iteration that emitted the request's first token; NaN when rejected.
    finish : ndarray of float64
        End of the iteration that emitted its last token; NaN when rejected.
    preemptions : ndarray of int64
        Times the request was preempted (recompute).
    status : ndarray of int64
        :class:`simulator.llm.semantics.LLMRequestStatus` codes.
    iterations : ndarray of int64
        Iterations each group ran.
    busy_s : ndarray of float64
        Seconds each group's first stage was held (iterations and loads).
    kv_block_seconds : ndarray of float64
        Time integral of each group's blocks in use, in block-seconds.
    end_time : float
        Time of the last event (the last finish, or the last arrival).
    kv_timeline : KVTimeline or None, default None
        Each group's blocks in use over time, when the run recorded it.
    """

    first_token: FloatArray
    finish: FloatArray
    preemptions: IntArray
    status: IntArray
    iterations: IntArray
    busy_s: FloatArray
    kv_block_seconds: FloatArray
    end_time: float
    kv_timeline: KVTimeline | None = None
