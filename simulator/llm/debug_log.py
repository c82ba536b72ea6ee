"""The SimPy reference's debug records: each iteration and the outcome with the logs.

:func:`simulator.llm.reference.run_reference` fills them with ``debug=True``; the tests read
them to check invariants (KV within capacity, each token once, why each preemption came).
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.llm.outcome import LLMOutcome
from simulator.llm.reference_state import Preemption


@dataclass(frozen=True, slots=True)
class IterationRecord:
    """One iteration, as the debug log records it.

    Parameters
    ----------
    group, slot : int
        The group and the index of the model that ran.
    start, stage_s, end : float
        Start, first-stage time ``S`` and completion (``start + P * S``).
    chunks : tuple of tuple of int
        ``(request, tokens, stored_before, completes_prefill)`` per prompt chunk.
    decodes : tuple of int
        Requests decoding one token.
    preempted : tuple of Preemption
        Preemptions made while choosing this iteration (by any model's attempt).
    pool_used, pool_capacity : int
        Blocks in use in the model's pool after allocating for this batch, and its size.
    group_used : int
        Blocks in use over the group's pools.
    in_flight : int
        Iterations of the group in flight, this one included.
    """

    group: int
    slot: int
    start: float
    stage_s: float
    end: float
    chunks: tuple[tuple[int, int, int, bool], ...]
    decodes: tuple[int, ...]
    preempted: tuple[Preemption, ...]
    pool_used: int
    pool_capacity: int
    group_used: int
    in_flight: int


@dataclass(frozen=True, kw_only=True)
class ReferenceOutcome(LLMOutcome):
    """:class:`LLMOutcome` plus, with ``debug=True``, the reference's logs.

    Parameters
    ----------
    first_token, finish, preemptions, status, iterations, busy_s, kv_block_seconds, end_time
        As in :class:`LLMOutcome`.
    kv_timeline : KVTimeline or None
        As in :class:`LLMOutcome` (with ``kv_timeline=`` only).
    iteration_log : tuple of IterationRecord
        Every iteration in start order (empty unless ``debug``).
    preemption_log : tuple of tuple
        ``(time, group, slot, Preemption)`` for every preemption, including those made by
        attempts that ran nothing (empty unless ``debug``).
    load_log : tuple of tuple
        ``(time, group, slot, load_s)`` for every model switch of a swapping group.
    """

    iteration_log: tuple[IterationRecord, ...] = ()
    preemption_log: tuple[tuple[float, int, int, Preemption], ...] = ()
    load_log: tuple[tuple[float, int, int, float], ...] = ()
