"""The timeline of one static batch of LLM requests on one replica.

A batch starts with a prefill of every request that has no KV cache yet (over its prompt
plus the tokens it already committed), then decodes one token per step for every request
still generating. Step times come from :mod:`alpaserve.cost.llm`; the batch occupies its
replica until its longest request finishes, while each request completes at its own last
token.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alpaserve.cost.llm import LLMConfig, StagePlan, decode_step_time, prefill_time
from alpaserve.cost.llm_profile import LLMProfile
from alpaserve.model_spec import ModelSpec
from alpaserve.spot.hardware import SpotHardware

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False, kw_only=True)
class Batch:
    """One static batch on one replica; build it with :func:`build_batch`.

    Parameters
    ----------
    ids : numpy.ndarray of int
        The requests, by index in the workload.
    start : float
        When the batch starts, seconds.
    decode_start : float
        When the prefill ends, seconds.
    step_end : numpy.ndarray of float
        ``step_end[k]``: when decode step ``k + 1`` ends, seconds.
    committed : numpy.ndarray of int
        Tokens each request had already generated before this batch.
    remaining : numpy.ndarray of int
        Tokens each request still generates in this batch.
    context : numpy.ndarray of int
        Tokens in each request's cache at the start (prompt + committed).
    finish : numpy.ndarray of float
        When each request finishes, seconds.
    """

    ids: IntArray
    start: float
    decode_start: float
    step_end: FloatArray
    committed: IntArray
    remaining: IntArray
    context: IntArray
    finish: FloatArray

    @property
    def end(self) -> float:
        """When the replica is free again: the last request's finish (s)."""
        return float(self.finish.max()) if self.finish.size else self.start

    def tokens_done(self, time: float) -> IntArray:
        """Tokens each request has decoded in this batch by ``time``.

        Parameters
        ----------
        time : float
            Seconds.

        Returns
        -------
        numpy.ndarray of int
            Per request, at most its ``remaining``.
        """
        steps = int(np.searchsorted(self.step_end, time, side="right"))
        return np.minimum(self.remaining, steps).astype(np.int64)

    def kv_tokens(self, time: float) -> int:
        """Context tokens cached at ``time`` by requests still generating.

        Parameters
        ----------
        time : float
            Seconds.

        Returns
        -------
        int
            Tokens (0 before the prefill ends).
        """
        if time < self.decode_start:
            return 0
        live = self.finish > time
        return int((self.context[live] + self.tokens_done(time)[live]).sum())


def build_batch(*, model: ModelSpec, hardware: SpotHardware, config: LLMConfig, start: float,
                ids: IntArray, context: IntArray, committed: IntArray, remaining: IntArray,
                needs_prefill: npt.NDArray[np.bool_], plan: StagePlan | None = None,
                profile: LLMProfile | None = None) -> Batch:
    """Lay out a batch's timeline.

    Parameters
    ----------
    model : ModelSpec
        The decoder.
    hardware : SpotHardware
        The replica's hardware (for the analytic latency).
    config : LLMConfig
        The replica's config.
    start : float
        When the batch starts, seconds.
    ids : numpy.ndarray of int
        The requests.
    context : numpy.ndarray of int
        Tokens in each request's cache at the start once prefilled (prompt + committed).
    committed : numpy.ndarray of int
        Tokens each request had generated before.
    remaining : numpy.ndarray of int
        Tokens each still generates.
    needs_prefill : numpy.ndarray of bool
        Which requests must be prefilled (their KV cache is not on the replica).
    plan : StagePlan, optional
        ``config``'s :func:`~alpaserve.cost.llm.stage_plan`, if precomputed.
    profile : LLMProfile, optional
        Measured per-layer latencies to use instead of the analytic model.

    Returns
    -------
    Batch
        The timeline.

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> from alpaserve.spot.hardware import g4dn_hardware
    >>> b = build_batch(model=model_preset("gpt-1.3b"), hardware=g4dn_hardware(),
    ...                 config=LLMConfig(data=1, pipeline=1, tensor=1, batch=2), start=10.0,
    ...                 ids=np.array([0, 1]), context=np.array([100, 50]),
    ...                 committed=np.array([0, 0]), remaining=np.array([3, 1]),
    ...                 needs_prefill=np.array([True, True]))
    >>> len(b.step_end), bool(b.finish[1] < b.finish[0] == b.end), b.tokens_done(10.0).tolist()
    (3, True, [0, 0])
    """
    if profile is not None:
        prefill = profile.prefill_time(config, context[needs_prefill])
    else:
        prefill = prefill_time(model, hardware, config, context[needs_prefill], plan=plan)
    decode_start = start + prefill
    longest = int(remaining.max()) if remaining.size else 0
    if longest > 0:
        k = np.arange(1, longest + 1)
        active_mask = remaining[None, :] >= k[:, None]
        active = active_mask.sum(axis=1).astype(np.float64)
        ctx = (active_mask * (context[None, :] + k[:, None])).sum(axis=1).astype(np.float64)
        dt = (profile.decode_step_time(config, active=active, context_tokens=ctx)
              if profile is not None else
              decode_step_time(model, hardware, config, active=active, context_tokens=ctx,
                               plan=plan))
        step_end = decode_start + np.cumsum(np.atleast_1d(dt))
    else:
        step_end = np.empty(0)
    finish = np.where(remaining > 0, step_end[np.maximum(remaining, 1) - 1]
                      if longest > 0 else decode_start, decode_start)
    return Batch(ids=ids, start=start, decode_start=decode_start, step_end=step_end,
                 committed=committed, remaining=remaining, context=context,
                 finish=np.asarray(finish, dtype=np.float64))
