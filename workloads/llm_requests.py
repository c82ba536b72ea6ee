"""Small generators of LLM request workloads: Gamma arrivals with token counts.

Token counts are drawn, with replacement, from a pool of ``(prompt, output)`` pairs (for
example those of a production trace) or from a fixed pair. Prompts are clipped so that
``prompt + output`` fits the model's context window, and the number clipped is reported.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from workloads._renewal import check_start_mode
from workloads._rng import SeedLike, as_generator
from workloads.arrivals import MAX_ARRIVALS, GammaProcess, StartMode
from workloads.errors import WorkloadError
from workloads.workload import Workload

logger = logging.getLogger(__name__)

#: A small built-in spread of ``(prompt, output)`` token pairs for synthetic LLM workloads
#: that must run without a trace: chat-like requests (prompts of hundreds to a few thousand
#: tokens, outputs of tens to hundreds) and code-completion-like ones (long prompts, short
#: outputs). Hand-picked shapes, not drawn from any trace; every pair fits a 4,096-token
#: context.
SMALL_TOKEN_PAIRS: tuple[tuple[int, int], ...] = (
    (64, 128), (128, 32), (192, 256), (256, 64), (384, 16), (512, 128), (640, 400),
    (768, 48), (1024, 256), (1024, 12), (1536, 32), (1792, 160), (2048, 96), (2304, 24),
    (2560, 200), (3072, 64),
)


def gamma_arrivals(*, rate: float, cv: float, start: float, end: float,
                   seed: SeedLike,
                   start_mode: StartMode = "stationary") -> npt.NDArray[np.float64]:
    """Arrival times in ``[start, end)`` of a renewal process with Gamma inter-arrivals.

    With ``start_mode="stationary"`` (default) the first gap is a residual life, so the
    expected count is ``rate * (end - start)``; ``"ordinary"`` starts with an ordinary gap
    (see :mod:`workloads.arrivals`). More than :data:`workloads.arrivals.MAX_ARRIVALS`
    arrivals raise :class:`WorkloadError`.

    Parameters
    ----------
    rate : float
        Mean arrival rate, requests/s (> 0); the mean inter-arrival is ``1 / rate``.
    cv : float
        Coefficient of variation of the inter-arrivals (> 0; 1 is Poisson).
    start, end : float
        The window, seconds (``end > start``, both finite).
    seed : int or numpy.random.Generator
        Random state (a Generator is advanced in place).
    start_mode : {"stationary", "ordinary"}, default "stationary"
        The first gap.

    Returns
    -------
    numpy.ndarray of float
        Sorted arrival times, seconds.

    Raises
    ------
    WorkloadError
        A non-positive ``rate`` or ``cv``, ``end <= start``, an unknown ``start_mode``, or
        more arrivals than the limit.

    Examples
    --------
    >>> a = gamma_arrivals(rate=10.0, cv=2.0, start=0.0, end=1000.0, seed=0)
    >>> 9000 < len(a) < 11000, bool(np.all(np.diff(a) >= 0))
    (True, True)
    """
    for name, value in (("rate", rate), ("cv", cv)):
        if not isinstance(value, int | float) or not value > 0 or not math.isfinite(value):
            raise WorkloadError(f"{name} must be a positive finite number, got {value!r}")
    check_start_mode(start_mode)
    if not (math.isfinite(start) and math.isfinite(end) and end > start):
        raise WorkloadError(f"end {end!r} must exceed start {start!r}, both finite")
    rng = as_generator(seed)
    shape = 1.0 / (cv * cv)
    scale = 1.0 / (rate * shape)
    expected = rate * (end - start)
    if not expected <= MAX_ARRIVALS:
        raise WorkloadError(f"rate {rate!r}/s over {end - start!r} s expects {expected:.3g} "
                            f"arrivals, above the limit of {MAX_ARRIVALS}")
    chunk = min(max(16, int(expected * 1.1) + 16), 1 << 22)
    chunks: list[npt.NDArray[np.float64]] = []
    kept = 0
    t = start
    if start_mode == "stationary" and cv != 1:  # Poisson: an ordinary gap is a residual
        first = GammaProcess(rate=rate, cv=cv)._residual(rng)
        t = start + first
        if t < end:
            chunks.append(np.array([t]))
            kept = 1
    while t < end:
        gaps = rng.gamma(shape, scale, size=chunk)
        times = t + np.cumsum(gaps)
        chunks.append(times[times < end])
        kept += len(chunks[-1])
        if kept > MAX_ARRIVALS:
            raise WorkloadError(f"more than {MAX_ARRIVALS} arrivals at rate {rate!r}/s and "
                                f"CV {cv!r} in {end - start!r} s; lower the CV or the span")
        t = float(times[-1])
    return np.concatenate(chunks) if chunks else np.empty(0)


def llm_workload(*, arrivals: npt.ArrayLike, seed: SeedLike, model: str,
                 token_pairs: Sequence[tuple[int, int]] | npt.ArrayLike,
                 max_context: int | None = None, slo: float | None = None) -> Workload:
    """A workload of ``model`` requests at ``arrivals`` with token counts drawn from
    ``token_pairs``.

    Parameters
    ----------
    arrivals : array_like of float
        Arrival times, seconds.
    seed : int or numpy.random.Generator
        Random state for drawing the token pairs.
    model : str
        Model name of every request.
    token_pairs : array_like of shape (n, 2)
        Rows of ``(prompt_tokens, output_tokens)``, each >= 1, drawn with replacement.
    max_context : int, optional
        Context window (>= 2): outputs are capped at half of it and prompts clipped so
        ``prompt + output`` fits (the number clipped is logged).
    slo : float, optional
        Latency SLO of every request, seconds.

    Returns
    -------
    Workload
        The requests with ``prompt_tokens`` and ``output_tokens``.

    Raises
    ------
    WorkloadError
        Empty or non-positive token pairs, or ``max_context < 2``.

    Examples
    --------
    >>> w = llm_workload(arrivals=[0.0, 1.0], seed=0, model="gpt",
    ...                  token_pairs=[(512, 128)])
    >>> w.prompt_tokens.tolist(), w.output_tokens.tolist()
    ([512, 512], [128, 128])
    """
    pairs = np.asarray(token_pairs, dtype=np.int64).reshape(-1, 2)
    if pairs.shape[0] == 0:
        raise WorkloadError("token_pairs is empty")
    if np.any(pairs[:, 0] < 1) or np.any(pairs[:, 1] < 1):
        raise WorkloadError("token_pairs need prompt >= 1 and output >= 1 tokens")
    times = np.asarray(arrivals, dtype=np.float64).ravel()
    idx = as_generator(seed).integers(0, pairs.shape[0], size=times.size)
    prompt = pairs[idx, 0].copy()
    output = pairs[idx, 1].copy()
    if max_context is not None:
        if max_context < 2:
            raise WorkloadError(f"max_context must be >= 2, got {max_context!r}")
        output = np.minimum(output, max_context // 2)
        over = prompt + output > max_context
        if np.any(over):
            logger.info("clipped %d of %d prompts to fit a %d-token context",
                        int(over.sum()), times.size, max_context)
        prompt = np.where(over, max_context - output, prompt)
    return Workload.from_arrays(arrival=times, model=model, prompt_tokens=prompt,
                                output_tokens=output, slo=slo)


def clip_to_context(workload: Workload, max_context: int) -> tuple[Workload, int]:
    """Fit every request of ``workload`` into a ``max_context``-token window.

    Outputs are capped at half the window and prompts clipped so ``prompt + output`` fits,
    as :func:`llm_workload` does; arrivals and order are unchanged.

    Parameters
    ----------
    workload : Workload
        Requests with ``prompt_tokens`` and ``output_tokens``.
    max_context : int
        The model's context window, tokens (>= 2).

    Returns
    -------
    tuple of (Workload, int)
        The fitted requests and how many were changed.

    Raises
    ------
    WorkloadError
        No token columns, or ``max_context < 2``.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 1.0], model="m", prompt_tokens=[10, 3000],
    ...                          output_tokens=[5, 100])
    >>> out, changed = clip_to_context(w, 2048)
    >>> out.prompt_tokens.tolist(), changed
    ([10, 1948], 1)
    """
    if workload.prompt_tokens is None or workload.output_tokens is None:
        raise WorkloadError("the workload needs prompt_tokens and output_tokens columns")
    if max_context < 2:
        raise WorkloadError(f"max_context must be >= 2, got {max_context!r}")
    prompt = np.asarray(workload.prompt_tokens, dtype=np.int64)
    output = np.minimum(np.asarray(workload.output_tokens, dtype=np.int64), max_context // 2)
    new_prompt = np.minimum(prompt, max_context - output)
    changed = int(np.sum((new_prompt != prompt) | (output != workload.output_tokens)))
    if changed:
        logger.info("clipped %d of %d requests to fit a %d-token context", changed,
                    len(workload), max_context)
    out = Workload.from_arrays(arrival=workload.arrival, model=workload.model_names[0]
                               if len(workload.model_names) == 1 else
                               [workload.model_names[c] for c in workload.model_codes],
                               prompt_tokens=new_prompt, output_tokens=output, slo=workload.slo)
    return out, changed
