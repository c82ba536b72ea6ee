"""The SimPy reference's state and one model's scheduling attempt, written as the rules read.

Everything here follows :mod:`simulator.llm.semantics` step by step; the event handling
(when a group schedules, completes, loads) is in :mod:`simulator.llm.reference`. The
classes are mutable, plain Python and private to the reference: clarity first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count

from alpaserve.errors import SimulationError
from simulator.llm.config import SchedulerConfig, ServedModel


@dataclass(eq=False, slots=True)
class Sequence:
    """A request on its group: its tokens, its stored KV and its blocks.

    Parameters
    ----------
    index : int
        The request's index in the prepared workload.
    prompt, output : int
        Prompt and output tokens.
    generated : int, default 0
        Tokens emitted so far (kept across preemptions).
    stored : int, default 0
        Tokens whose KV is stored (counting chunks of an iteration in flight).
    blocks : int, default 0
        KV blocks held.
    prefill_done : bool, default False
        Whether the prefill (of ``prompt + generated`` tokens) has completed.
    running : bool, default False
        Admitted and not preempted or finished since.
    in_flight : bool, default False
        In an iteration that has started and not completed (or in the batch being formed).
    preemptions : int, default 0
        Times it was preempted.
    admitted : int, default -1
        Stamp of its latest admission, group-wide (larger: admitted later).
    """

    index: int
    prompt: int
    output: int
    generated: int = 0
    stored: int = 0
    blocks: int = 0
    prefill_done: bool = False
    running: bool = False
    in_flight: bool = False
    preemptions: int = 0
    admitted: int = -1


@dataclass(eq=False, slots=True)
class BlockPool:
    """KV blocks that one model (partitioned) or all models of a group (shared) draw on.

    Parameters
    ----------
    capacity : int
        Blocks in the pool.
    used : int, default 0
        Blocks allocated.
    """

    capacity: int
    used: int = 0

    @property
    def free(self) -> int:
        """Blocks not allocated."""
        return self.capacity - self.used

    def allocate(self, blocks: int) -> None:
        """Take ``blocks`` blocks.

        Parameters
        ----------
        blocks : int
            How many; the pool must have them.

        Raises
        ------
        SimulationError
            If the pool would go over capacity (a bug in the reference, never the input).
        """
        if blocks > self.free:
            raise SimulationError(f"KV pool over capacity: {blocks} blocks asked, "
                                  f"{self.free} free of {self.capacity}")
        self.used += blocks


@dataclass(eq=False, slots=True)
class ModelState:
    """One model on its group: its queue, its running sequences and its block pool.

    Parameters
    ----------
    slot : int
        Index of the model in its group.
    served : ServedModel
        Its cost, budget and load time.
    pool : BlockPool
        Where its blocks come from (its own, or the group's shared pool).
    waiting : deque of Sequence
        Requests waiting for admission, head first.
    running : list of Sequence
        Admitted sequences in admission order (in flight or not).
    stamps : iterator of int
        Admission stamps, one counter shared by the group's models.
    """

    slot: int
    served: ServedModel
    pool: BlockPool
    waiting: deque[Sequence] = field(default_factory=deque)
    running: list[Sequence] = field(default_factory=list)
    stamps: Iterator[int] = field(default_factory=count)

    def has_work(self) -> bool:
        """Whether any sequence waits, runs or is in flight.

        Returns
        -------
        bool
            ``True`` when the model holds any unfinished request.
        """
        return bool(self.waiting or self.running)


@dataclass(frozen=True, slots=True)
class Preemption:
    """One preemption, as the debug log records it.

    Parameters
    ----------
    request : int
        The preempted request.
    free_blocks : int
        Free blocks of its pool when the preemption was decided (always 0).
    generated : int
        Tokens it had emitted (kept).
    stuck_group : bool, default False
        Made by the group's stuck-group rule rather than by a model's attempt.
    """

    request: int
    free_blocks: int
    generated: int
    stuck_group: bool = False


@dataclass(eq=False, slots=True)
class Batch:
    """The batch one model's attempt forms, and what the attempt preempted on the way.

    Parameters
    ----------
    model : ModelState
        The model it runs.
    chunks : list of tuple
        ``(sequence, tokens, stored_before)`` per prompt chunk (a whole prefill: one chunk
        from 0).
    decodes : list of Sequence
        Sequences decoding one token.
    preempted : list of Preemption
        Preemptions made while forming it.
    n_tokens, prefill_units, decode_kv_tokens : int
        The iteration's cost inputs (:mod:`alpaserve.llm.iteration`).
    """

    model: ModelState
    chunks: list[tuple[Sequence, int, int]] = field(default_factory=list)
    decodes: list[Sequence] = field(default_factory=list)
    preempted: list[Preemption] = field(default_factory=list)
    n_tokens: int = 0
    prefill_units: int = 0
    decode_kv_tokens: int = 0

    def __bool__(self) -> bool:
        return bool(self.chunks or self.decodes)

    def add_chunk(self, seq: Sequence, tokens: int) -> None:
        """Store ``tokens`` more prompt tokens of ``seq`` (its blocks already allocated).

        Parameters
        ----------
        seq : Sequence
            A running sequence whose prefill is incomplete.
        tokens : int
            The chunk, > 0.
        """
        before = seq.stored
        self.chunks.append((seq, tokens, before))
        self.n_tokens += tokens
        self.prefill_units += tokens * before + tokens * (tokens + 1) // 2
        seq.stored = before + tokens
        seq.in_flight = True

    def add_decode(self, seq: Sequence) -> None:
        """Store one more token of ``seq`` (its block already allocated).

        Parameters
        ----------
        seq : Sequence
            A running sequence whose prefill is complete.
        """
        self.decodes.append(seq)
        seq.stored += 1  # now prompt + generated
        self.n_tokens += 1
        self.decode_kv_tokens += seq.stored
        seq.in_flight = True


def _blocks_for(tokens: int, block_size: int) -> int:
    return -(-tokens // block_size)


def preempt(model: ModelState, seq: Sequence, log: list[Preemption], *,
            stuck_group: bool = False) -> None:
    """Preempt ``seq`` (recompute): free its blocks, keep ``generated``, requeue at the head.

    Victims are taken most recent first, so each new one was admitted before the earlier
    ones and ``appendleft`` keeps the earlier-admitted ahead.

    Parameters
    ----------
    model : ModelState
        Its model.
    seq : Sequence
        A running sequence, not in flight.
    log : list of Preemption
        Receives the record (a batch's ``preempted``).
    stuck_group : bool, default False
        Whether the stuck-group rule preempts it (for the record).
    """
    log.append(Preemption(request=seq.index, free_blocks=model.pool.free,
                          generated=seq.generated, stuck_group=stuck_group))
    model.running.remove(seq)
    model.pool.used -= seq.blocks
    seq.blocks = seq.stored = 0
    seq.prefill_done = seq.running = False
    seq.preemptions += 1
    model.waiting.appendleft(seq)


def _admit(model: ModelState, seq: Sequence, blocks: int) -> None:
    model.waiting.popleft()
    model.pool.allocate(blocks)
    seq.blocks = blocks
    seq.running = True
    seq.admitted = next(model.stamps)
    model.running.append(seq)


def admit_whole_prefills(model: ModelState, sched: SchedulerConfig, batch: Batch) -> None:
    """Prefill-first step 1: admit from the head while the sequences, tokens and blocks fit.

    A recompute longer than the token budget is admitted when it comes first in the batch
    (the semantics' *long recomputes*).

    Parameters
    ----------
    model : ModelState
        The model trying.
    sched : SchedulerConfig
        Its group's scheduler.
    batch : Batch
        Receives the prefills.
    """
    tokens = 0
    while model.waiting:
        seq = model.waiting[0]
        need = seq.prompt + seq.generated
        blocks = _blocks_for(need, sched.block_size)
        too_long = tokens + need > sched.max_batched_tokens and bool(batch.chunks)
        if len(model.running) + 1 > sched.max_num_seqs or too_long or blocks > model.pool.free:
            return  # first come, first served: stop at the first that does not fit
        _admit(model, seq, blocks)
        tokens += need
        batch.add_chunk(seq, need)


def decode_step(model: ModelState, sched: SchedulerConfig, batch: Batch, *,
                prefilled_only: bool) -> None:
    """Step 2: every running sequence not in flight decodes one token, preempting as needed.

    Parameters
    ----------
    model : ModelState
        The model trying.
    sched : SchedulerConfig
        Its group's scheduler.
    batch : Batch
        Receives the decodes and the preemptions.
    prefilled_only : bool
        Skip sequences whose prefill is incomplete (chunked prefill; with prefill-first
        every running sequence not in flight has completed its prefill).
    """
    block_size = sched.block_size
    for seq in list(model.running):
        if not seq.running or seq.in_flight or (prefilled_only and not seq.prefill_done):
            continue
        if seq.stored + 1 > block_size * seq.blocks:  # needs a new block
            while model.pool.free == 0 and seq.running:
                victim = next(s for s in reversed(model.running) if not s.in_flight)
                preempt(model, victim, batch.preempted)
            if not seq.running:
                continue  # it was the most recent: preempted itself, move on
            model.pool.allocate(1)
            seq.blocks += 1
        batch.add_decode(seq)


def attempt_prefill_first(model: ModelState, sched: SchedulerConfig) -> Batch:
    """One model's attempt with ``chunked_prefill=False``.

    Parameters
    ----------
    model : ModelState
        The model trying.
    sched : SchedulerConfig
        Its group's scheduler.

    Returns
    -------
    Batch
        Prefills, or decodes, or empty (possibly with preemptions).
    """
    batch = Batch(model=model)
    admit_whole_prefills(model, sched, batch)
    if batch:
        return batch
    decode_step(model, sched, batch, prefilled_only=False)
    if not batch and batch.preempted:
        admit_whole_prefills(model, sched, batch)  # step 3: retry the prefill once
    return batch


def attempt_chunked(model: ModelState, sched: SchedulerConfig) -> Batch:
    """One model's attempt with ``chunked_prefill=True``.

    Parameters
    ----------
    model : ModelState
        The model trying.
    sched : SchedulerConfig
        Its group's scheduler.

    Returns
    -------
    Batch
        Decodes first, then prompt chunks within the token budget (a running sequence whose
        chunk finds no room preempts later-admitted ones: the semantics' *stuck chunks*);
        maybe empty.
    """
    batch = Batch(model=model)
    decode_step(model, sched, batch, prefilled_only=True)
    budget = sched.max_batched_tokens - len(batch.decodes)
    block_size, pool = sched.block_size, model.pool
    for seq in list(model.running):  # incomplete prefills, in admission order
        if not seq.running or seq.in_flight or seq.prefill_done:
            continue
        if budget <= 0:
            break
        room = block_size * (pool.free + seq.blocks) - seq.stored
        while room == 0:  # a stuck chunk takes blocks from a later-admitted sequence
            victim = next(s for s in reversed(model.running) if not s.in_flight)
            if victim is seq:
                break  # never from itself
            preempt(model, victim, batch.preempted)
            room = block_size * (pool.free + seq.blocks) - seq.stored
        chunk = min(seq.prompt + seq.generated - seq.stored, budget, room)
        if chunk == 0:
            continue
        new_blocks = _blocks_for(seq.stored + chunk, block_size) - seq.blocks
        pool.allocate(new_blocks)
        seq.blocks += new_blocks
        batch.add_chunk(seq, chunk)
        budget -= chunk
    while model.waiting and len(model.running) + 1 <= sched.max_num_seqs:
        seq = model.waiting[0]
        remaining = seq.prompt + seq.generated
        chunk = min(remaining, budget, block_size * pool.free)
        if chunk <= 0 and remaining > 0:
            break  # a chunk of zero stops the admission of new requests
        chunk = max(chunk, 0)  # an empty prompt is admitted with an empty chunk
        _admit(model, seq, _blocks_for(chunk, block_size))
        batch.add_chunk(seq, chunk)
        budget -= chunk
    return batch
