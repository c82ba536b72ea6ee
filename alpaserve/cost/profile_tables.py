"""The measured tables of an LLM profile (SpotServe's JSON): checked, read, interpolated.

:class:`LLMProfileTables` holds the per-layer prefill (``init``) and decode (``incr``) times
by tensor degree and batch size, the embedding times and the pipeline hand-off constants of
the SpotServe artifact; it checks them, reads them from the artifact's JSON (milliseconds
into seconds) and interpolates them between measured batch sizes (linearly; extrapolated
from the last two sizes above the largest). :class:`alpaserve.cost.llm_profile.LLMProfile`
adds the latency formula on top. The tables are separate because reading and checking the
measurements is independent of how a latency is estimated from them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from alpaserve.cost.llm import FloatLike
from alpaserve.errors import ProfileError
from alpaserve.model_spec import ModelSpec

__all__ = ["LLMProfileTables"]

_MS = 1e-3


@dataclass(frozen=True, kw_only=True)
class LLMProfileTables:
    """Measured per-layer prefill and decode times of one model on one kind of node.

    The base of :class:`~alpaserve.cost.llm_profile.LLMProfile`, which is what to build and
    read (its ``from_dict`` and ``read`` return it).

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
    >>> t = LLMProfileTables(name="toy", num_layers=4, prefill={1: {1: 0.01, 4: 0.04}},
    ...                      decode={1: {1: 0.001, 4: 0.004}}, embed={1: 0.0},
    ...                      pp_init_comm=0.0, pp_incr_comm=0.0, final_fix_factor=1.0)
    >>> round(t.layer_prefill(1, 2), 4), t.max_batch
    (0.02, 4)
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
    def from_dict(cls, data: Mapping[str, Any], *, name: str | None = None) -> Self:
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
    def read(cls, path: str | Path) -> Self:
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



def _degree(key: str, prefix: str, name: str) -> int:
    try:
        value = int(key[len(prefix):])
    except ValueError:
        raise ProfileError(f"profile {name!r}: bad key {key!r}, expected {prefix}N") from None
    if not key.startswith(prefix) or value < 1:
        raise ProfileError(f"profile {name!r}: bad key {key!r}, expected {prefix}N")
    return value
