"""``LLMSimResult``: the per-request outcome of a token-level simulation and its metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SimulationError, SpecError
from alpaserve.strict_json import strict
from simulator.llm.config import LLMDeployment
from simulator.llm.kv_timeline import KVTimeline
from simulator.llm.metrics import (
    LLMSummary,
    SLOSpec,
    compute_metrics,
    kv_utilization_of,
    request_latencies,
    slo_per_request,
)
from simulator.llm.outcome import LLMOutcome
from simulator.llm.prepared import PreparedLLM
from simulator.llm.semantics import LLMRequestStatus

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class LLMSimResult:
    """Per-request arrays (arrival order) and per-group totals of one simulation.

    Parameters
    ----------
    model_names, group_names : tuple of str
        Models (deployment order) and groups; ``model`` and ``group`` index them.
    model, group : ndarray of int64
        Each request's model and group.
    arrival, first_token, finish : ndarray of float64
        Times; NaN for rejected requests.
    ttft, tpot, e2e : ndarray of float64
        ``first_token - arrival``; ``(finish - first_token) / (output - 1)`` (0 for one
        output token); ``finish - arrival``. NaN for rejected requests.
    prompt, output : ndarray of int64
        Tokens.
    preemptions, status : ndarray of int64
        Preemptions and :class:`~simulator.llm.semantics.LLMRequestStatus` codes.
    iterations, kv_capacity : ndarray of int64
        Per group: iterations run; KV blocks (sum over its models).
    busy_s, kv_block_seconds : ndarray of float64
        Per group: first-stage busy seconds; blocks in use integrated over time.
    end_time : float
        The last event.
    engine : str
        ``"compiled"`` or ``"reference"``.
    raised_outputs : int
        Requests with 0 output tokens counted as 1.
    group_models : tuple of tuple of int
        Per group, the models it hosts (indices into ``model_names``); a model's own KV
        utilisation is taken over the groups it has to itself.
    kv_timeline : KVTimeline or None, default None
        Per group, KV blocks in use over time (``simulate_llm(..., kv_timeline=True)``).
    """

    model_names: tuple[str, ...]
    group_names: tuple[str, ...]
    model: IntArray
    group: IntArray
    arrival: FloatArray
    first_token: FloatArray
    finish: FloatArray
    ttft: FloatArray
    tpot: FloatArray
    e2e: FloatArray
    prompt: IntArray
    output: IntArray
    preemptions: IntArray
    status: IntArray
    iterations: IntArray
    kv_capacity: IntArray
    busy_s: FloatArray
    kv_block_seconds: FloatArray
    end_time: float
    engine: str = "compiled"
    raised_outputs: int = 0
    group_models: tuple[tuple[int, ...], ...] = ()
    kv_timeline: KVTimeline | None = None

    @classmethod
    def from_outcome(cls, prepared: PreparedLLM, outcome: LLMOutcome,
                     deployment: LLMDeployment, *, engine: str = "compiled") -> LLMSimResult:
        """Assemble the result of an engine run.

        Parameters
        ----------
        prepared : PreparedLLM
            The routed workload the engine ran.
        outcome : LLMOutcome
            What the engine returned.
        deployment : LLMDeployment
            The deployment (names of models and groups).
        engine : str, default "compiled"
            Which engine ran.

        Returns
        -------
        LLMSimResult
            The result.

        Raises
        ------
        SimulationError
            If the outcome's sizes do not match the workload or the deployment.
        """
        n = len(prepared)
        if outcome.first_token.size != n or outcome.iterations.size != len(deployment.groups):
            raise SimulationError(
                f"outcome has {outcome.first_token.size} requests and "
                f"{outcome.iterations.size} groups; expected {n} and "
                f"{len(deployment.groups)}")
        names = deployment.model_names
        slot_code = [np.array([names.index(m.model) for m in g.models], dtype=np.int64)
                     for g in deployment.groups]
        model = np.empty(n, dtype=np.int64)
        for g, codes in enumerate(slot_code):
            mine = prepared.group == g
            model[mine] = codes[prepared.slot[mine]]
        first, finish = outcome.first_token, outcome.finish
        ttft, tpot, e2e = request_latencies(prepared.arrival, prepared.output, first, finish)
        capacity = np.array([sum(m.kv_blocks for m in g.models) for g in deployment.groups],
                            dtype=np.int64)
        return cls(model_names=names, group_names=tuple(g.name for g in deployment.groups),
                   model=model, group=prepared.group.copy(), arrival=prepared.arrival.copy(),
                   first_token=first, finish=finish, ttft=ttft, tpot=tpot, e2e=e2e,
                   prompt=prepared.prompt.copy(), output=prepared.output.copy(),
                   preemptions=outcome.preemptions, status=outcome.status,
                   iterations=outcome.iterations, kv_capacity=capacity,
                   busy_s=outcome.busy_s, kv_block_seconds=outcome.kv_block_seconds,
                   end_time=float(outcome.end_time), engine=engine,
                   raised_outputs=prepared.raised_outputs,
                   group_models=tuple(tuple(int(c) for c in codes) for codes in slot_code),
                   kv_timeline=outcome.kv_timeline)

    def __len__(self) -> int:
        return int(self.arrival.size)

    @property
    def finished(self) -> npt.NDArray[np.bool_]:
        """Requests that emitted all their tokens."""
        return self.status == int(LLMRequestStatus.FINISHED)

    @property
    def span_s(self) -> float:
        """Seconds from the first arrival to the last event (0 without requests)."""
        return float(self.end_time - self.arrival[0]) if self.arrival.size else 0.0

    def summary(self, *, ttft_slo: SLOSpec = None, tpot_slo: SLOSpec = None) -> LLMSummary:
        """Per-model and overall metrics, with SLO attainment when SLOs are given.

        Parameters
        ----------
        ttft_slo : float or mapping of str to float, optional
            Time-to-first-token objective in seconds, for all models or per model.
        tpot_slo : float or mapping of str to float, optional
            Time-per-output-token objective in seconds, for all models or per model.

        Returns
        -------
        LLMSummary
            Metrics per model and overall (with their KV utilisation: see
            :mod:`simulator.llm.metrics`), KV utilisation and busy fraction per group.

        Raises
        ------
        SpecError
            If an SLO is not positive or misses a model that has requests.
        """
        span = self.span_s
        ttft_req = slo_per_request(ttft_slo, "ttft_slo", self.model_names, self.model)
        tpot_req = slo_per_request(tpot_slo, "tpot_slo", self.model_names, self.model)
        fin = self.finished

        def metrics(mask: npt.NDArray[np.bool_], groups: list[int]) -> Any:
            kv = kv_utilization_of(self.kv_block_seconds[groups], self.kv_capacity[groups],
                                   span) if groups else None
            return compute_metrics(mask=mask, finished=fin, ttft=self.ttft, tpot=self.tpot,
                                   e2e=self.e2e, output=self.output,
                                   preemptions=self.preemptions, ttft_slo=ttft_req,
                                   tpot_slo=tpot_req, span_s=span, kv_utilization=kv)

        # the groups each model has to itself (the engine counts KV blocks per group)
        own = {c: [g for g, hosted in enumerate(self.group_models) if hosted == (c,)]
               for c in range(len(self.model_names))}
        models = {name: metrics(self.model == c, own[c])
                  for c, name in enumerate(self.model_names)}
        kv = {g: kv_utilization_of(self.kv_block_seconds[k:k + 1], self.kv_capacity[k:k + 1],
                                   span) for k, g in enumerate(self.group_names)}
        busy = {g: float(self.busy_s[k]) / span if span > 0 else None
                for k, g in enumerate(self.group_names)}
        return LLMSummary(overall=metrics(np.ones(len(self), dtype=bool),
                                          list(range(len(self.group_names)))),
                          models=models, kv_utilization=kv, busy_fraction=busy, span_s=span)

    def latencies(self, kind: str = "ttft") -> dict[str, FloatArray]:
        """One latency of the finished requests, per model (for CDFs).

        Parameters
        ----------
        kind : {"ttft", "tpot", "e2e"}, default "ttft"
            Which latency.

        Returns
        -------
        dict of str to ndarray of float64
            Seconds, by model in deployment order (empty for a model without finished
            requests).

        Raises
        ------
        SpecError
            On an unknown ``kind``.
        """
        if kind not in ("ttft", "tpot", "e2e"):
            raise SpecError(f"kind must be 'ttft', 'tpot' or 'e2e', got {kind!r}")
        values, fin = getattr(self, kind), self.finished
        return {name: values[fin & (self.model == c)]
                for c, name in enumerate(self.model_names)}

    def to_dict(self, *, ttft_slo: SLOSpec = None, tpot_slo: SLOSpec = None,
                per_request: bool = False) -> dict[str, Any]:
        """A strict-JSON-safe description: the summary, per-group totals and, on request,
        every request.

        Parameters
        ----------
        ttft_slo, tpot_slo : float or mapping of str to float, optional
            SLOs for the summary (see :meth:`summary`).
        per_request : bool, default False
            Include the per-request arrays (``None`` where NaN).

        Returns
        -------
        dict
            ``engine``, ``requests``, ``end_time``, ``summary``, ``groups``, optionally
            ``per_request``, and ``kv_timeline`` when recorded (:meth:`KVTimeline.to_dict`).
        """
        out: dict[str, Any] = {
            "engine": self.engine, "requests": len(self), "end_time": self.end_time,
            "raised_outputs": self.raised_outputs,
            "summary": self.summary(ttft_slo=ttft_slo, tpot_slo=tpot_slo).to_dict(),
            "groups": {g: {"iterations": int(self.iterations[k]),
                           "busy_s": float(self.busy_s[k]),
                           "kv_block_seconds": float(self.kv_block_seconds[k]),
                           "kv_capacity_blocks": int(self.kv_capacity[k])}
                       for k, g in enumerate(self.group_names)}}
        if per_request:
            out["per_request"] = {name: getattr(self, name).tolist() for name in _COLUMNS}
        if self.kv_timeline is not None:
            out["kv_timeline"] = self.kv_timeline.to_dict()
        return strict(out)

    def to_frame(self) -> Any:
        """Per-request table as a pandas DataFrame (pandas is imported here).

        Returns
        -------
        pandas.DataFrame
            One row per request: model and group names, times, latencies, tokens,
            preemptions and status.
        """
        import pandas as pd

        frame = pd.DataFrame({name: getattr(self, name) for name in _COLUMNS})
        frame["model"] = pd.Categorical.from_codes(self.model, categories=self.model_names)
        frame["group"] = pd.Categorical.from_codes(self.group, categories=self.group_names)
        frame["status"] = [LLMRequestStatus(s).name for s in self.status]
        return frame


    def kv_timeline_frame(self) -> Any:
        """KV blocks in use over time, one row per recorded point (pandas is imported here).

        Returns
        -------
        pandas.DataFrame
            Columns ``group``, ``time``, ``blocks``, ``capacity``, ``utilisation``
            (:meth:`KVTimeline.to_frame`): from ``time`` on, ``blocks`` are in use.

        Raises
        ------
        SimulationError
            If the run did not record it (``simulate_llm(..., kv_timeline=True)``).
        """
        if self.kv_timeline is None:
            raise SimulationError("this result has no KV timeline: simulate with "
                                  "kv_timeline=True (or a number of points per group)")
        return self.kv_timeline.to_frame()


_COLUMNS = ("model", "group", "arrival", "first_token", "finish", "ttft", "tpot", "e2e",
            "prompt", "output", "preemptions", "status")
