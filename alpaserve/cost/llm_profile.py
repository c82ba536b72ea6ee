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
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from alpaserve.cost.llm import FloatLike, LLMConfig, device_memory_bytes
from alpaserve.errors import ProfileError
from alpaserve.model_spec import ModelSpec
from alpaserve.profiles import ProfileDB, ProfileEntry

_MS = 1e-3


@dataclass(frozen=True, kw_only=True)
class LLMProfile:
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

    name: str
    num_layers: int
    prefill: Mapping[int, Mapping[int, float]]
    decode: Mapping[int, Mapping[int, float]]
    embed: Mapping[int, float]
    pp_init_comm: float
    pp_incr_comm: float
    final_fix_factor: float
    reference_prompt_tokens: int = 512
    hidden_size: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.num_layers, int) or self.num_layers < 1:
            raise ProfileError(f"profile {self.name!r}: layer_num must be an int >= 1, got "
                               f"{self.num_layers!r}")
        for label, table in (("init", self.prefill), ("incr", self.decode)):
            if not table:
                raise ProfileError(f"profile {self.name!r} has no {label} times")
            for tp, row in table.items():
                if not row or any(not (math.isfinite(v) and v > 0) for v in row.values()):
                    raise ProfileError(f"profile {self.name!r}: {label} times of tp-{tp} must "
                                       f"be positive, got {dict(row)!r}")
        if set(self.prefill) != set(self.decode):
            raise ProfileError(f"profile {self.name!r}: init and incr cover different tensor "
                               f"degrees {sorted(self.prefill)} vs {sorted(self.decode)}")
        for name in ("pp_init_comm", "pp_incr_comm"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ProfileError(f"profile {self.name!r}: {name} must be >= 0")
        if not (math.isfinite(self.final_fix_factor) and self.final_fix_factor > 0):
            raise ProfileError(f"profile {self.name!r}: final_fix_factor must be > 0")
        for name in ("prefill", "decode"):
            object.__setattr__(self, name, MappingProxyType(
                {int(t): MappingProxyType({int(b): float(v) for b, v in row.items()})
                 for t, row in getattr(self, name).items()}))
        object.__setattr__(self, "embed", MappingProxyType(
            {int(b): float(v) for b, v in self.embed.items()}))

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, name: str | None = None) -> LLMProfile:
        """Build a profile from the artifact's JSON object (times in milliseconds).

        Parameters
        ----------
        data : mapping
            Keys ``layer_num``, ``embed`` (by batch 1, 2, 4, 8), ``pp_init_comm``,
            ``pp_incr_comm``, ``final_fix_factor`` and ``tp-T`` → ``bsz-B`` →
            ``{"init": ms, "incr": ms}``; ``name`` and ``hidden_size`` are optional.
        name : str, optional
            Name to use instead of ``data["name"]``.

        Returns
        -------
        LLMProfile
            Times converted to seconds.

        Raises
        ------
        ProfileError
            A missing key, a malformed ``tp-T``/``bsz-B`` key or a non-positive time.
        """
        label = name or str(data.get("name", "profile"))
        try:
            layers = data["layer_num"]
            embed_ms = list(data["embed"])
            pre: dict[int, dict[int, float]] = {}
            dec: dict[int, dict[int, float]] = {}
            for key, row in data.items():
                if not key.startswith("tp-"):
                    continue
                tp = _degree(key, "tp-", label)
                for bkey, cell in row.items():
                    b = _degree(bkey, "bsz-", label)
                    pre.setdefault(tp, {})[b] = float(cell["init"]) * _MS
                    dec.setdefault(tp, {})[b] = float(cell["incr"]) * _MS
            return cls(name=label, num_layers=layers, prefill=pre, decode=dec,
                       embed={2 ** k: float(v) * _MS for k, v in enumerate(embed_ms)},
                       pp_init_comm=float(data["pp_init_comm"]) * _MS,
                       pp_incr_comm=float(data["pp_incr_comm"]) * _MS,
                       final_fix_factor=float(data["final_fix_factor"]),
                       hidden_size=data.get("hidden_size"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProfileError(f"profile {label!r} is malformed: {exc!r}") from None

    @classmethod
    def read(cls, path: str | Path) -> LLMProfile:
        """Read a profile JSON file of the artifact (``profile/*/megatron_*.json``).

        Parameters
        ----------
        path : str or Path
            The file.

        Returns
        -------
        LLMProfile
            The profile, named after the file's ``name`` key or its stem.

        Raises
        ------
        ProfileError
            The file is not JSON or is malformed.
        """
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ProfileError(f"cannot read LLM profile {str(path)!r}: {exc}") from None
        if not isinstance(data, dict):
            raise ProfileError(f"LLM profile {str(path)!r} must hold a JSON object")
        return cls.from_dict(data, name=str(data.get("name", Path(path).stem)))

    # ------------------------------------------------------------------ lookups
    @property
    def tensor_degrees(self) -> tuple[int, ...]:
        """Tensor degrees the tables cover, ascending."""
        return tuple(sorted(self.prefill))

    @property
    def max_batch(self) -> int:
        """The largest measured batch size (of every tensor degree)."""
        return min(max(row) for row in self.prefill.values())

    def check_model(self, model: ModelSpec) -> None:
        """Raise ``ProfileError`` unless ``model`` has the profiled layer count.

        Parameters
        ----------
        model : ModelSpec
            The model the profile is used for.
        """
        if model.num_layers != self.num_layers or (
                self.hidden_size is not None and model.hidden_size != self.hidden_size):
            raise ProfileError(f"profile {self.name!r} ({self.num_layers} layers, hidden "
                               f"{self.hidden_size}) does not match model {model.name!r} "
                               f"({model.num_layers} layers, hidden {model.hidden_size})")

    def _row(self, table: Mapping[int, Mapping[int, float]], tp: int
             ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        if tp not in table:
            raise ProfileError(f"profile {self.name!r} has no tensor degree {tp}; it has "
                               f"{list(self.tensor_degrees)}")
        b = np.array(sorted(table[tp]), dtype=np.float64)
        return b, np.array([table[tp][int(x)] for x in b])

    def _interp(self, b: npt.NDArray[np.float64], v: npt.NDArray[np.float64],
                n: FloatLike) -> FloatLike:
        x = np.asarray(n, dtype=np.float64)
        out = np.interp(x, b, v)
        if b.size >= 2:
            slope = (v[-1] - v[-2]) / (b[-1] - b[-2])
            out = np.where(x > b[-1], v[-1] + slope * (x - b[-1]), out)
        return float(out) if np.ndim(out) == 0 else out

    def layer_prefill(self, tp: int, batch: FloatLike) -> FloatLike:
        """Seconds one layer takes to prefill ``batch`` reference-length prompts.

        Parameters
        ----------
        tp : int
            Tensor degree (one the tables cover).
        batch : float or array
            Prompts in the micro-batch (interpolated between measured sizes).

        Returns
        -------
        float or numpy.ndarray
            Seconds, shaped like ``batch``.
        """
        return self._interp(*self._row(self.prefill, tp), batch)

    def layer_decode(self, tp: int, batch: FloatLike) -> FloatLike:
        """Seconds of one decode step of one layer for ``batch`` requests.

        Parameters
        ----------
        tp : int
            Tensor degree (one the tables cover).
        batch : float or array
            Requests in the micro-batch (interpolated between measured sizes).

        Returns
        -------
        float or numpy.ndarray
            Seconds, shaped like ``batch``.
        """
        return self._interp(*self._row(self.decode, tp), batch)

    def embed_time(self, batch: float) -> float:
        """Seconds of the embedding for ``batch`` requests.

        Parameters
        ----------
        batch : float
            Requests in the batch.

        Returns
        -------
        float
            Seconds (interpolated between measured sizes).
        """
        b = np.array(sorted(self.embed), dtype=np.float64)
        return float(self._interp(b, np.array([self.embed[int(x)] for x in b]), batch))

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


def _degree(key: str, prefix: str, name: str) -> int:
    try:
        value = int(key[len(prefix):])
    except ValueError:
        raise ProfileError(f"profile {name!r}: bad key {key!r}, expected {prefix}N") from None
    if not key.startswith(prefix) or value < 1:
        raise ProfileError(f"profile {name!r}: bad key {key!r}, expected {prefix}N")
    return value
