"""The rules of token-level serving that the compiled engine and the SimPy reference share.

Both engines implement exactly these rules; ``tests/test_llm_reference.py`` checks that they
agree on every request. Notation: a request has ``prompt`` and ``output`` tokens
(``output >= 1``); ``generated`` counts the tokens it has emitted; ``B`` is the block size.

Routing
-------
Requests are taken in order of arrival (ties by workload index). A request of model ``m``
goes to one of the groups hosting ``m`` by smooth weighted round robin on
``ServedModel.route_weight``: every candidate's credit grows by its weight, the largest
credit wins (ties: the earliest group in the deployment), and the winner's credit drops by
the total weight. Routing does not look at load, so each group evolves on its own.

Rejection
---------
A request is rejected on arrival (status ``REJECTED``, never scheduled) when its whole
sequence cannot fit its KV budget, ``ceil((prompt + output - 1) / B)`` blocks more than the
model's ``kv_blocks`` (the pool, when shared), or, without chunked prefill, when
``prompt > max_batched_tokens``.

KV cache
--------
A sequence with ``s`` tokens stored holds ``ceil(s / B)`` blocks. A prefill of a request that
has ``g`` tokens generated stores ``prompt + g`` tokens and emits token ``g + 1`` (``g > 0``
after a preemption: recompute). A decode step of a sequence with ``g`` generated stores one
more token, making ``prompt + g``, and emits token ``g + 1``; the attention reads
``prompt + g`` tokens. Blocks are allocated before the iteration starts and freed when the
request finishes (``generated == output``, at the iteration's end) or is preempted.

Events at one time
------------------
At time ``t`` a group first completes every iteration ending at ``t`` (emitting tokens,
finishing requests, freeing blocks), then enqueues every request arriving at or before
``t``, then, if its first stage is free (``free_at <= t``), schedules. Completions are
processed in start order. A scheduled iteration holds the first stage until
``t + S`` and completes at ``t + P * S`` (:mod:`alpaserve.llm.iteration`); its sequences are
*in flight* until then and cannot be scheduled again. The group schedules again at the
next time when its first stage is free and an iteration completes or a request arrives
(or right away at ``t + S`` when ``P > 1`` and work remains).

Choosing a model
----------------
Models of a group are tried in round-robin order, starting after the model that ran the
group's previous iteration (the first model at the start). The first attempt that yields a
non-empty batch runs; an attempt may preempt sequences even when it yields nothing. If no
model yields a batch, the group waits for the next event, unless it is *stuck* (below).
With ``swap=True`` only the *resident* model (initially the first) is tried while it has
any waiting, running or in-flight sequence; otherwise the round robin picks the next model
with waiting requests, which becomes resident after ``load_s`` (the first stage is held for
the load, then the group schedules).

Stuck group
-----------
If no model yields a batch (and no load starts), no iteration of the group is in flight and
some sequence holds blocks, nothing would ever free a block (partial prefills of several
models can fill a shared pool, each unable to preempt the others). The group then preempts
its most recently admitted running sequence, of any model (as in step 2: blocks freed,
``generated`` kept, back to the head of its model's queue, one more preemption), and tries
the models again, this time in round-robin order starting at the model of its
earliest-admitted running sequence, which gets the freed blocks first; it repeats until a
batch (or a load) starts. Admission order is group-wide: each admission, recomputes
included, comes after every earlier one.

Since every request that is not rejected fits the pool alone, this always ends with a
batch, so no group ends with requests unfinished. It can only fire with chunked prefill, a
shared pool and several models without swapping (otherwise a model whose attempt yields
nothing has preempted every sequence it ran or holds none); there a stuck model holds one
partial prefill with its last block full, and one preemption suffices. It cannot livelock:
a sequence decodes only after a token came out, so once tokens stop coming out (and
arrivals), the decoders soon are gone; from then on every iteration raises the stored
tokens of the earliest admission it changes (a chunk stores more, an admission adds a later
sequence, a preemption only removes a later one than the sequence that takes the blocks;
the earliest-admitted sequence is never preempted and takes a stuck group's freed blocks),
and the states are finite.

One model's attempt, prefill-first (``chunked_prefill=False``)
--------------------------------------------------------------
1. *Prefill.* If requests wait, admit from the head of the queue while the model's running
   sequences (in flight or not, plus those admitted now) stay at most ``max_num_seqs``, the
   batch's prefill tokens ``prompt + g`` stay at most ``max_batched_tokens`` and the free
   blocks cover ``ceil((prompt + g) / B)``. Stop at the first request that does not fit
   (first come, first served). If any was admitted, the batch is these prefills.
2. *Decode.* Otherwise every running sequence not in flight, in admission order, decodes
   one token. Before adding a sequence, if it needs a new block (``prompt + g > B * held``)
   and none is free, preempt the model's most recently admitted running sequence that is not
   in flight and not yet in this batch; if that is the sequence itself, preempt it and move
   on. A preempted sequence frees its blocks, keeps ``generated`` and goes back to the head
   of the waiting queue (earlier-admitted ones ahead of later ones). Its preemption count
   grows by one.
3. If the decode batch is empty but something was preempted, retry step 1 once.

One model's attempt, chunked prefill (``chunked_prefill=True``)
----------------------------------------------------------------
The token budget is ``max_batched_tokens``. First the decode step 2 above over sequences
whose prefill is complete (one token each). Then running sequences whose prefill is
incomplete, in admission order, and then waiting requests from the head (while the running
count stays at most ``max_num_seqs``) each take a chunk of ``min(remaining prefill, budget
left)`` tokens, shrunk to what the free blocks can hold (``B * free + room in its last
block``); a chunk of zero stops the admission of new requests. A sequence's first token (or
next token, after a preemption) comes out when its last chunk completes.

Iteration cost
--------------
``n_tokens`` is the batch's tokens, ``prefill_units`` sums ``c * p + c * (c + 1) // 2``
over chunks of ``c`` tokens after ``p`` stored ones (a whole prefill: ``p = 0``), and
``decode_kv_tokens`` sums ``prompt + g`` over decoding sequences (after the append).
:meth:`alpaserve.llm.iteration.IterationCost.stage_s` turns them into seconds.

Decisions on cases the rules above leave open
---------------------------------------------
These were settled while writing the compiled engine; the reference follows them too.

- *Rejected requests are not events*: they never reach the group and never wake it.
- *Empty prompts.* A request with ``prompt + g == 0`` (prompt 0, nothing generated) is
  prefilled with zero tokens and zero blocks; with chunked prefill it is admitted with an
  empty chunk (which does not stop admission) and emits its first token at that
  iteration's end.
- *Long recomputes (prefill-first).* A waiting request whose prefill ``prompt + g`` alone
  exceeds ``max_batched_tokens`` (only a recompute can, since longer prompts are rejected)
  is admitted when it is the first of the batch; otherwise it would never run again.
- *Stuck chunks (chunked prefill).* When a running sequence's incomplete prefill gets no
  room (no block free and its last block full) while budget is left, it preempts, as in
  step 2, the model's most recently admitted running sequence that is neither in flight nor
  in this batch, until it has room or that sequence would be itself (it never preempts
  itself). Without this, two partial prefills can hold each other's blocks forever.
- *No deadlock.* The stuck-group rule leaves no group out of events with requests
  unfinished; both engines still raise :class:`alpaserve.errors.SimulationError` if one
  is, as a guard against bugs.
- *Pipelines.* Nothing caps the iterations in flight; each completes at its own
  ``start + P * S`` (iterations ending at the same time complete in start order). The first
  stage also wakes at ``free_at`` when no completion or arrival falls there; an attempt then
  finds nothing to do unless work remains, so this is not observable.
- *Swapping.* The next model to load is the first with waiting requests in round-robin
  order after the resident one. A load of ``0`` seconds schedules at once.
- *Round robin.* A model with no waiting and no running sequence is skipped (its attempt
  would yield nothing and preempt nothing).
- *KV integral.* ``kv_block_seconds`` adds, at each event time ``t``, the blocks in use
  just before ``t`` times ``t`` minus the previous event time (compare it with a relative
  tolerance: the float sums may group differently between engines).

Outputs
-------
Per request: group, first-token time (the end of the iteration that emitted token 1),
finish time, preemptions, status (``FINISHED`` or ``REJECTED``). Per group: iterations,
busy time of the first stage, and the time integral of blocks in use (KV utilisation).
"""

from __future__ import annotations

from enum import IntEnum


class LLMRequestStatus(IntEnum):
    """What became of a request in a token-level simulation.

    Attributes
    ----------
    FINISHED : int
        Emitted all its output tokens.
    REJECTED : int
        Could never fit its group (KV budget or, without chunked prefill, the token budget).
    """

    FINISHED = 0
    REJECTED = 1
