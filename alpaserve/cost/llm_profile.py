"""Measured per-layer LLM latencies (SpotServe's profile JSON) and the latency they imply.

The SpotServe artifact measures, with FasterTransformer, the time of one transformer layer
for a prefill (``init``) and for one decode step (``incr``), by tensor degree ``tp`` and
batch size ``b``, plus the embedding time by batch, the pipeline hand-off times and a fixed
factor. Its optimizer estimates a request's latency for pipeline degree ``pp`` and
micro-batches ``M`` (the same count for the prefill and the decode here) as::

    f  = ceil(layers / pp)
    t1 = init[tp][b/M] * f * (pp + M - 1) / M + pp_init_comm / M * (pp - 1)
    t2 = incr[tp][b/M] * f * (pp + M - 1)     + pp_incr_comm / M * (pp - 1)
    latency = final_fix_factor * (t1 + t2 * output_tokens + 2 * embed[b])

:class:`LLMProfile` implements that formula, and splits it into a prefill and per-step decode
times for the simulator: the prefill carries ``t1`` and both embedding terms, each decode
step ``t2``, so a full batch of the profiled prompt length takes exactly the formula.

Between and beyond the measured batch sizes the per-layer times are interpolated linearly
(extrapolated from the last two sizes above the largest; the smallest size below it). The
tables were measured at a 512-token prompt (``reference_prompt_tokens``); a prefill of other
lengths scales linearly with the mean prompt, since it is compute-bound. Decode steps do not
depend on the context length in the tables.

The measured tables, their checks, reading and interpolation are in
:class:`alpaserve.cost.profile_tables.LLMProfileTables`, the base of
:class:`LLMProfile`; this module is the latency formula and the profile-DB entries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alpaserve.cost.llm import FloatLike, LLMConfig, device_memory_bytes
from alpaserve.cost.profile_tables import LLMProfileTables
from alpaserve.model_spec import ModelSpec
from alpaserve.profiles import ProfileDB, ProfileEntry

__all__ = ["LLMProfile", "LLMProfileTables"]


@dataclass(frozen=True, kw_only=True)
class LLMProfile(LLMProfileTables):
    """Measured per-layer prefill and decode times of one model on one kind of node.

    Parameters
    ----------
    name : str
        The profile's name (e.g. ``megatron_h6144_profile``).
    num_layers : int
        Transformer layers of the profiled model (``layer_num``).
    prefill : mapping of int to mapping of int to float
        ``prefill[tp][b]``: seconds one layer takes to prefill ``b`` prompts of
        ``reference_prompt_tokens`` tokens at tensor degree ``tp`` (``init``).
    decode : mapping of int to mapping of int to float
        ``decode[tp][b]``: seconds of one decode step of one layer (``incr``).
    embed : mapping of int to float
        Seconds of the embedding at each batch size.
    pp_init_comm, pp_incr_comm : float
        Seconds per pipeline hand-off in the prefill and in a decode step.
    final_fix_factor : float
        Multiplier on the whole estimate (>= 1 in the artifact).
    reference_prompt_tokens : int
        Prompt length at which ``prefill`` was measured (512 in the artifact).
    hidden_size : int, optional
        Hidden size, when the file gives it.

    Examples
    --------
    >>> p = LLMProfile(name="toy", num_layers=4, prefill={1: {1: 0.01, 2: 0.02}},
    ...                decode={1: {1: 0.001, 2: 0.0012}}, embed={1: 0.0, 2: 0.0},
    ...                pp_init_comm=0.0, pp_incr_comm=0.0, final_fix_factor=1.0)
    >>> cfg = LLMConfig(data=1, pipeline=1, tensor=1, batch=2)
    >>> round(p.request_latency(cfg, prompt_tokens=512, output_tokens=10), 4)  # 4(.02 + 10 × .0012)
    0.128
    """

    # ------------------------------------------------------------------ latency
    def prefill_time(self, config: LLMConfig, prompt_lengths: Sequence[int] | npt.ArrayLike
                     ) -> float:
        """Prefill of one batch on one replica: ``t1`` and both embedding terms.

        Parameters
        ----------
        config : LLMConfig
            Pipeline, tensor and micro-batch degrees.
        prompt_lengths : array_like of int
            Tokens to prefill per request (0 requests: 0 s).

        Returns
        -------
        float
            Seconds, times ``final_fix_factor``.
        """
        p = np.asarray(prompt_lengths, dtype=np.float64).ravel()
        if p.size == 0:
            return 0.0
        pp, m = config.pipeline, config.micro_batches
        f = math.ceil(self.num_layers / pp)
        per_layer = float(self.layer_prefill(config.tensor, p.size / m)) * (
            p.mean() / self.reference_prompt_tokens)
        t1 = per_layer * f * (pp + m - 1) / m + self.pp_init_comm / m * (pp - 1)
        return float(self.final_fix_factor * (t1 + 2 * self.embed_time(p.size)))

    def decode_step_time(self, config: LLMConfig, *, active: FloatLike,
                         context_tokens: FloatLike = 0.0) -> FloatLike:
        """One decode step of ``active`` requests (``t2``); the context does not matter.

        Parameters
        ----------
        config : LLMConfig
            Pipeline, tensor and micro-batch degrees.
        active : float or array
            Requests decoding in the step (one entry per step for arrays).
        context_tokens : float or array
            Accepted for the same call as the analytic model; unused.

        Returns
        -------
        float or numpy.ndarray
            Seconds, times ``final_fix_factor``, shaped like ``active``.
        """
        pp, m = config.pipeline, config.micro_batches
        f = math.ceil(self.num_layers / pp)
        n = np.asarray(active, dtype=np.float64) / m
        t2 = (np.asarray(self.layer_decode(config.tensor, n)) * f * (pp + m - 1)
              + self.pp_incr_comm / m * (pp - 1))
        out = self.final_fix_factor * t2
        return float(out) if np.ndim(out) == 0 else np.asarray(out, dtype=np.float64)

    def request_latency(self, config: LLMConfig, *, prompt_tokens: int, output_tokens: int,
                        batch: int | None = None) -> float:
        """SpotServe's latency estimate of a full batch (module docstring).

        Parameters
        ----------
        config : LLMConfig
            The replica's shape; ``config.batch`` requests unless ``batch`` is given.
        prompt_tokens, output_tokens : int
            Tokens per request.
        batch : int, optional
            Requests in the batch.

        Returns
        -------
        float
            Seconds.
        """
        b = config.batch if batch is None else batch
        step = float(self.decode_step_time(config, active=float(b)))
        return self.prefill_time(config, [prompt_tokens] * b) + step * output_tokens

    # ------------------------------------------------------------------ profile DB
    def to_profile_db(self, model: ModelSpec, *, prompt_tokens: int = 512,
                      output_tokens: int = 128, pipeline_degrees: Sequence[int] = (1, 2, 4),
                      context_tokens: int | None = None) -> ProfileDB:
        """Entries ``source="measured"`` for every (pipeline, tensor, batch) the tables cover.

        A stage's latency is its share of :meth:`request_latency` of one full batch
        (layers split evenly); weights and peak memory per device come from the analytic
        model at ``context_tokens`` (default ``prompt_tokens + output_tokens``).

        Parameters
        ----------
        model : ModelSpec
            The profiled model (its layer count must match).
        prompt_tokens, output_tokens : int
            The request the latencies are for.
        pipeline_degrees : sequence of int
            Pipeline degrees to enter.
        context_tokens : int, optional
            Context per request for the memory estimate.

        Returns
        -------
        ProfileDB
            One entry per (pipeline, tensor, measured batch).

        Examples
        --------
        >>> from alpaserve.model_presets import model_preset
        >>> p = LLMProfile(name="p", num_layers=24, prefill={1: {1: 0.01, 2: 0.02}},
        ...                decode={1: {1: 0.001, 2: 0.0012}}, embed={1: 0.0, 2: 0.0},
        ...                pp_init_comm=0.0, pp_incr_comm=0.0, final_fix_factor=1.0)
        >>> db = p.to_profile_db(model_preset("gpt-1.3b"), pipeline_degrees=(1,))
        >>> len(db), sorted(e.source for e in db)[0]
        (2, 'measured')
        """
        self.check_model(model)
        ctx = prompt_tokens + output_tokens if context_tokens is None else context_tokens
        db = ProfileDB()
        for tp in self.tensor_degrees:
            for b in sorted(self.prefill[tp]):
                for pp in pipeline_degrees:
                    cfg = LLMConfig(data=1, pipeline=pp, tensor=tp, batch=b)
                    pc = cfg.parallel_config(model)
                    total = self.request_latency(cfg, prompt_tokens=prompt_tokens,
                                                 output_tokens=output_tokens)
                    peak = device_memory_bytes(model, cfg, context_tokens=ctx)
                    weights = pc.stage_weight_bytes(model)
                    db.add(ProfileEntry(model=model.name, config=pc, batch_size=b,
                                        stage_latencies=(total / pp,) * pp,
                                        stage_weight_bytes=tuple(int(w) for w in weights),
                                        stage_peak_memory_bytes=(int(peak),) * pp,
                                        source="measured"))
        return db
