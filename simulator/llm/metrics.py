"""Serving metrics of a token-level simulation: TTFT, TPOT, end-to-end latency, SLO
attainment, goodput, throughput, KV utilisation, preemptions and rejections.

The one definition, used by the library, the command line and the notebooks:

- TTFT is the first token's time minus the arrival; TPOT is
  ``(finish - first_token) / (output - 1)``, 0 for a one-token output; both are NaN for a
  rejected request. Percentiles are NumPy's linear ones over finished requests only
  (``None`` when there are none).
- A request is *good* when it finished with TTFT and TPOT within its model's SLOs.
  Attainment and goodput are fractions of *all* requests, so a rejected request counts as
  failing every SLO (it is never silently left out of the denominator).
- Rates (good requests and output tokens per second) divide by the span from the first
  arrival to the last event; with a zero span they are undefined (``None``), never a
  division by a tiny number.
- KV utilisation is a group's block-seconds in use over its blocks times the span. Over
  several groups, it is their block-seconds over their blocks times the span (groups
  weighed by their blocks: the fraction of all the KV cache's block-time in use). The
  engine integrates blocks per group, not per model, so a model's own utilisation is the
  one over the groups it has to itself, and undefined (``None``) for a model that only
  shares groups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SpecError
from alpaserve.strict_json import strict

SLOSpec = float | Mapping[str, float] | None


def slo_per_request(slo: SLOSpec, kind: str, models: tuple[str, ...],
                    codes: npt.NDArray[np.int64]) -> npt.NDArray[np.float64] | None:
    """Expand an SLO given for all models or per model into one value per request.

    Parameters
    ----------
    slo : float, mapping of str to float, or None
        Seconds, one for all models or one per model name.
    kind : str
        ``"ttft_slo"`` or ``"tpot_slo"``, for messages.
    models : tuple of str
        Model names, indexed by ``codes``.
    codes : ndarray of int64
        Each request's model.

    Returns
    -------
    ndarray of float64 or None
        Per-request SLO, or None without an SLO.

    Raises
    ------
    SpecError
        If a value is not a positive number or a model with requests has none.
    """
    if slo is None:
        return None
    if isinstance(slo, Mapping):
        table = np.full(len(models), np.nan)
        for name, value in slo.items():
            if name not in models:
                raise SpecError(f"{kind} names model {name!r}, which is not simulated "
                                f"(models: {list(models)})")
            table[models.index(name)] = _positive(kind, value)
        used = np.unique(codes)
        missing = [models[c] for c in used if np.isnan(table[c])]
        if missing:
            raise SpecError(f"{kind} has no value for models {missing}")
        return table[codes]
    return np.full(codes.size, _positive(kind, slo))


def _positive(kind: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            0 < value < float("inf")):
        raise SpecError(f"{kind} must be a positive number of seconds, got {value!r}")
    return float(value)


def request_latencies(arrival: npt.NDArray[np.float64], output: npt.NDArray[np.int64],
                      first_token: npt.NDArray[np.float64], finish: npt.NDArray[np.float64]
                      ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                                 npt.NDArray[np.float64]]:
    """TTFT, TPOT and end-to-end latency of each request (the definitions above).

    Parameters
    ----------
    arrival : ndarray of float64
        Arrival times.
    output : ndarray of int64
        Output tokens.
    first_token, finish : ndarray of float64
        When the first and the last token came out (NaN when rejected).

    Returns
    -------
    tuple of ndarray of float64
        ``(ttft, tpot, e2e)``; NaN for rejected requests.

    Examples
    --------
    >>> import numpy as np
    >>> ttft, tpot, e2e = request_latencies(np.array([0.0, 1.0]), np.array([5, 1]),
    ...                                     np.array([0.5, 1.2]), np.array([0.9, 1.2]))
    >>> ttft.tolist(), tpot.tolist(), e2e.tolist()
    ([0.5, 0.19999999999999996], [0.1, 0.0], [0.9, 0.19999999999999996])
    """
    steps = np.maximum(output - 1, 1).astype(np.float64)
    tpot = np.where(output > 1, (finish - first_token) / steps,
                    np.where(np.isnan(first_token), np.nan, 0.0))
    return first_token - arrival, tpot, finish - arrival


def good_requests(finished: npt.NDArray[np.bool_], ttft: npt.NDArray[np.float64],
                  tpot: npt.NDArray[np.float64], ttft_slo: npt.NDArray[np.float64] | float,
                  tpot_slo: npt.NDArray[np.float64] | float) -> npt.NDArray[np.bool_]:
    """The requests that finished within both SLOs (the definition of *good*).

    Parameters
    ----------
    finished : ndarray of bool
        Requests that emitted all their tokens.
    ttft, tpot : ndarray of float64
        Their latencies (:func:`request_latencies`).
    ttft_slo, tpot_slo : ndarray of float64 or float
        SLOs, per request or for all.

    Returns
    -------
    ndarray of bool
        Good requests; a rejected one never is.
    """
    with np.errstate(invalid="ignore"):
        return finished & (ttft <= ttft_slo) & (tpot <= tpot_slo)


def _pct(values: npt.NDArray[np.float64], q: float) -> float | None:
    return float(np.percentile(values, q)) if values.size else None


@dataclass(frozen=True, kw_only=True)
class LLMMetrics:
    """Metrics of one model's requests (or of all requests).

    Parameters
    ----------
    requests, finished, rejected, preemptions : int
        Requests, those finished, those rejected, preemptions over all of them.
    ttft_p50, ttft_p90, ttft_p99 : float or None
        Time to first token percentiles (seconds) over finished requests.
    tpot_p50, tpot_p90, tpot_p99 : float or None
        Time per output token percentiles over finished requests.
    e2e_p50, e2e_p99 : float or None
        End-to-end latency percentiles.
    ttft_attainment, tpot_attainment, goodput : float or None
        Fractions of requests meeting the TTFT SLO, the TPOT SLO, and both (None without
        the SLOs it needs).
    good : int or None
        Requests meeting both SLOs (None without both SLOs).
    goodput_rps : float or None
        Requests meeting both SLOs per second of the span.
    tokens_per_s : float or None
        Output tokens of finished requests per second of the span (None for a zero span).
    kv_utilization : float or None
        Block-weighted KV utilisation of the groups these requests have to themselves (all
        groups for the overall figure); None where there are none.
    """

    requests: int
    finished: int
    rejected: int
    preemptions: int
    ttft_p50: float | None
    ttft_p90: float | None
    ttft_p99: float | None
    tpot_p50: float | None
    tpot_p90: float | None
    tpot_p99: float | None
    e2e_p50: float | None
    e2e_p99: float | None
    ttft_attainment: float | None
    tpot_attainment: float | None
    goodput: float | None
    good: int | None
    goodput_rps: float | None
    tokens_per_s: float | None
    kv_utilization: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A strict-JSON-safe dict.

        Returns
        -------
        dict
            Every field (``None`` where undefined).
        """
        return strict(asdict(self))


def compute_metrics(*, mask: npt.NDArray[np.bool_], finished: npt.NDArray[np.bool_],
                    ttft: npt.NDArray[np.float64], tpot: npt.NDArray[np.float64],
                    e2e: npt.NDArray[np.float64], output: npt.NDArray[np.int64],
                    preemptions: npt.NDArray[np.int64],
                    ttft_slo: npt.NDArray[np.float64] | None,
                    tpot_slo: npt.NDArray[np.float64] | None, span_s: float,
                    kv_utilization: float | None = None) -> LLMMetrics:
    """Metrics of the requests selected by ``mask``.

    Parameters
    ----------
    mask, finished : ndarray of bool
        Requests to count; those that finished.
    ttft, tpot, e2e : ndarray of float64
        Per-request latencies (NaN when rejected).
    output, preemptions : ndarray of int64
        Output tokens and preemptions per request.
    ttft_slo, tpot_slo : ndarray of float64 or None
        Per-request SLOs.
    span_s : float
        Seconds the rates are taken over.
    kv_utilization : float, optional
        The requests' KV utilisation (:func:`kv_utilization_of`), carried into the result.

    Returns
    -------
    LLMMetrics
        The metrics.
    """
    done = mask & finished
    n = int(mask.sum())
    with np.errstate(invalid="ignore"):  # NaN latencies (rejected) are never within an SLO
        ok_ttft = done & (ttft <= ttft_slo) if ttft_slo is not None else None
        ok_tpot = done & (tpot <= tpot_slo) if tpot_slo is not None else None
    good = ok_ttft & ok_tpot if ok_ttft is not None and ok_tpot is not None else None

    def frac(ok: npt.NDArray[np.bool_] | None) -> float | None:
        return None if ok is None or n == 0 else float(ok.sum()) / n

    spanned = span_s > 0  # rates over a zero span are undefined
    return LLMMetrics(
        requests=n, finished=int(done.sum()), rejected=int((mask & ~finished).sum()),
        preemptions=int(preemptions[mask].sum()),
        ttft_p50=_pct(ttft[done], 50), ttft_p90=_pct(ttft[done], 90),
        ttft_p99=_pct(ttft[done], 99), tpot_p50=_pct(tpot[done], 50),
        tpot_p90=_pct(tpot[done], 90), tpot_p99=_pct(tpot[done], 99),
        e2e_p50=_pct(e2e[done], 50), e2e_p99=_pct(e2e[done], 99),
        ttft_attainment=frac(ok_ttft), tpot_attainment=frac(ok_tpot), goodput=frac(good),
        good=None if good is None else int(good.sum()),
        goodput_rps=float(good.sum()) / span_s if good is not None and spanned else None,
        tokens_per_s=float(output[done].sum()) / span_s if spanned else None,
        kv_utilization=kv_utilization)


def kv_utilization_of(block_seconds: npt.NDArray[np.float64], capacity: npt.NDArray[np.int64],
                   span_s: float) -> float | None:
    """Block-weighted KV utilisation of some groups over a span.

    Parameters
    ----------
    block_seconds : ndarray of float64
        Each group's blocks in use integrated over time.
    capacity : ndarray of int64
        Each group's KV blocks.
    span_s : float
        Seconds.

    Returns
    -------
    float or None
        ``sum(block_seconds) / (sum(capacity) * span_s)``; None without groups, blocks or
        span.

    Examples
    --------
    >>> import numpy as np
    >>> kv_utilization_of(np.array([50.0, 0.0]), np.array([10, 30]), 10.0)
    0.125
    >>> kv_utilization_of(np.array([]), np.array([], dtype=np.int64), 10.0) is None
    True
    """
    blocks = float(np.sum(capacity))
    if blocks <= 0 or not span_s > 0:
        return None
    return float(np.sum(block_seconds)) / (blocks * span_s)


@dataclass(frozen=True, kw_only=True)
class LLMSummary:
    """Per-model, overall and per-group metrics of one simulation.

    Parameters
    ----------
    overall : LLMMetrics
        All requests.
    models : dict of str to LLMMetrics
        Per model, in deployment order.
    kv_utilization : dict of str to float or None
        Per group: block-seconds in use over capacity × span (None for a zero span).
    busy_fraction : dict of str to float or None
        Per group: first-stage busy seconds over the span (None for a zero span).
    span_s : float
        Seconds from the first arrival to the last event.
    """

    overall: LLMMetrics
    models: dict[str, LLMMetrics]
    kv_utilization: dict[str, float | None]
    busy_fraction: dict[str, float | None]
    span_s: float

    def to_dict(self) -> dict[str, Any]:
        """A strict-JSON-safe dict.

        Returns
        -------
        dict
            ``overall``, ``models``, ``kv_utilization``, ``busy_fraction``, ``span_s``.
        """
        return strict({"overall": self.overall.to_dict(),
                       "models": {k: v.to_dict() for k, v in self.models.items()},
                       "kv_utilization": self.kv_utilization,
                       "busy_fraction": self.busy_fraction, "span_s": self.span_s})

    def to_frame(self) -> Any:
        """Per-model metrics as a pandas DataFrame (pandas is imported here).

        Returns
        -------
        pandas.DataFrame
            One row per model and an ``"(all)"`` row, indexed by ``model``.
        """
        import pandas as pd

        rows = [{"model": k, **v.to_dict()} for k, v in self.models.items()]
        rows.append({"model": "(all)", **self.overall.to_dict()})
        return pd.DataFrame(rows).set_index("model")
