"""The cost of one serving iteration, as the token-level engines evaluate it.

An iteration processes ``n`` tokens: whole or partial prompts (prefill) and one token per
decoding sequence. Its work on one replica is::

    W = overhead_s
        + linear(n)                                   # every non-attention operator
        + prefill_attention_s * prefill_units         # causal attention over prompt chunks
        + decode_attention_s * decode_kv_tokens       # reading the KV cache while decoding

where a prompt chunk of ``c`` tokens after ``p`` cached tokens contributes
``c * p + c * (c + 1) // 2`` to ``prefill_units`` and a decoding sequence whose context is
``L`` tokens (after appending the new one) contributes ``L`` to ``decode_kv_tokens``.
``linear(n)`` is the table ``linear_s[n]``, extrapolated along its last segment beyond it.

With ``pipeline_stages = P`` the layers are split evenly over ``P`` stages, so one stage
takes ``S = W / P + handoff_s + handoff_s_per_token * n`` (the hand-off terms only when
``P > 1``). The iteration holds the first stage for ``S`` and its tokens come out after
``P * S``; meanwhile up to ``P`` iterations over disjoint sequences are in flight. Both the
compiled engine and the SimPy reference evaluate exactly these expressions in this order, so
their times agree to the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from alpaserve._validation import non_negative_float, positive_int
from alpaserve.errors import SpecError


@dataclass(frozen=True, kw_only=True)
class IterationCost:
    """Seconds one iteration of one model replica takes, by what is in its batch.

    Parameters
    ----------
    linear_s : array_like of float
        ``linear_s[n]``: seconds of the non-attention work (GEMMs, norms, activations,
        tensor-parallel all-reduces, sampling) for ``n`` tokens; ``linear_s[0] == 0``, at
        least two entries, non-decreasing and finite.
    prefill_attention_s : float
        Seconds per unit of causal attention (one query token attending one key), >= 0.
    decode_attention_s : float
        Seconds per KV-cache token read by one decoding sequence, >= 0.
    overhead_s : float, default 0
        Fixed seconds per iteration (scheduling, kernel launches), >= 0.
    pipeline_stages : int, default 1
        Pipeline stages ``P`` of the replica.
    handoff_s : float, default 0
        Fixed seconds of one inter-stage hand-off (used when ``P > 1``), >= 0.
    handoff_s_per_token : float, default 0
        Seconds of one hand-off per token in the batch (used when ``P > 1``), >= 0.
    source : str, default "analytic"
        Where the numbers come from (``"analytic"``, ``"measured:<file>"``, ...), for reports.

    Raises
    ------
    SpecError
        If a field is out of range.

    Examples
    --------
    >>> cost = IterationCost(linear_s=[0.0, 0.01, 0.011], decode_attention_s=1e-6,
    ...                      prefill_attention_s=0.0, overhead_s=0.002)
    >>> round(cost.work_s(n_tokens=2, prefill_units=0, decode_kv_tokens=1000), 6)
    0.014
    >>> round(cost.linear(4), 6)
    0.013
    """

    linear_s: npt.NDArray[np.float64] = field(repr=False)
    prefill_attention_s: float
    decode_attention_s: float
    overhead_s: float = 0.0
    pipeline_stages: int = 1
    handoff_s: float = 0.0
    handoff_s_per_token: float = 0.0
    source: str = "analytic"

    def __post_init__(self) -> None:
        try:
            table = np.array(self.linear_s, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise SpecError(f"IterationCost.linear_s must be numbers: {exc}") from None
        if table.size < 2 or not np.all(np.isfinite(table)):
            raise SpecError("IterationCost.linear_s needs at least two finite entries, "
                            f"got {table.size}")
        if table[0] != 0.0 or np.any(np.diff(table) < 0):
            raise SpecError("IterationCost.linear_s must start at 0 and never decrease")
        table.setflags(write=False)
        object.__setattr__(self, "linear_s", table)
        for name in ("prefill_attention_s", "decode_attention_s", "overhead_s", "handoff_s",
                     "handoff_s_per_token"):
            object.__setattr__(self, name, non_negative_float("IterationCost", name,
                                                              getattr(self, name)))
        positive_int("IterationCost", "pipeline_stages", self.pipeline_stages)
        if not isinstance(self.source, str) or not self.source:
            raise SpecError(f"IterationCost.source must be a non-empty str, got {self.source!r}")

    def linear(self, n_tokens: int) -> float:
        """Seconds of the non-attention work for ``n_tokens`` tokens.

        Parameters
        ----------
        n_tokens : int
            Tokens in the batch, >= 0.

        Returns
        -------
        float
            ``linear_s[n]``, or the last segment extended beyond the table.
        """
        last = self.linear_s.size - 1
        if n_tokens <= last:
            return float(self.linear_s[n_tokens])
        slope = self.linear_s[last] - self.linear_s[last - 1]
        return float(self.linear_s[last] + (n_tokens - last) * slope)

    def work_s(self, *, n_tokens: int, prefill_units: int, decode_kv_tokens: int) -> float:
        """Seconds of one iteration's work on the whole replica (all stages together).

        Parameters
        ----------
        n_tokens : int
            Tokens in the batch.
        prefill_units : int
            Sum over prompt chunks of ``c * p + c * (c + 1) // 2``.
        decode_kv_tokens : int
            Sum of the contexts of the decoding sequences.

        Returns
        -------
        float
            ``W`` of the module docstring.
        """
        return (self.overhead_s + self.linear(n_tokens)
                + self.prefill_attention_s * float(prefill_units)
                + self.decode_attention_s * float(decode_kv_tokens))

    def stage_s(self, *, n_tokens: int, prefill_units: int, decode_kv_tokens: int) -> float:
        """Seconds the iteration holds the first pipeline stage (``S``).

        Parameters
        ----------
        n_tokens : int
            Tokens in the batch.
        prefill_units : int
            Sum over prompt chunks of ``c * p + c * (c + 1) // 2``.
        decode_kv_tokens : int
            Sum of the contexts of the decoding sequences.

        Returns
        -------
        float
            ``W / P`` plus the hand-off when ``P > 1``; the iteration's tokens come out
            ``P * S`` after it starts.
        """
        work = self.work_s(n_tokens=n_tokens, prefill_units=prefill_units,
                           decode_kv_tokens=decode_kv_tokens)
        if self.pipeline_stages == 1:
            return work
        return (work / self.pipeline_stages + self.handoff_s
                + self.handoff_s_per_token * float(n_tokens))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description.

        Returns
        -------
        dict
            Every field, ``linear_s`` as a list.
        """
        return {"linear_s": [float(v) for v in self.linear_s],
                "prefill_attention_s": self.prefill_attention_s,
                "decode_attention_s": self.decode_attention_s,
                "overhead_s": self.overhead_s, "pipeline_stages": self.pipeline_stages,
                "handoff_s": self.handoff_s, "handoff_s_per_token": self.handoff_s_per_token,
                "source": self.source}
