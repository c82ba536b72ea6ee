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
from workloads.arrivals import MAX_ARRIVALS, GammaProcess, StartMode
from workloads.errors import WorkloadError
from workloads.workload import Workload

logger = logging.getLogger(__name__)


def gamma_arrivals(*, rate: float, cv: float, start: float, end: float,
                   rng: np.random.Generator,
                   start_mode: StartMode = "stationary") -> npt.NDArray[np.float64]:
    """Arrival times in ``[start, end)`` of a renewal process with Gamma inter-arrivals.

    The mean inter-arrival is ``1 / rate`` and its coefficient of variation ``cv``
    (``cv = 1`` is Poisson). With ``start_mode="stationary"`` (default) the first gap is a
    residual life, so the expected count is ``rate * (end - start)``; ``"ordinary"``
    starts with an ordinary gap (see :mod:`workloads.arrivals`). More than
    :data:`workloads.arrivals.MAX_ARRIVALS` arrivals raise :class:`WorkloadError`.

    Parameters
    ----------
    rate, cv
        Mean arrivals per second and the gaps' coefficient of variation.
    start, end
        The span of arrival times, in seconds.
    rng
        The random generator.
    start_mode
        ``"stationary"`` or ``"ordinary"``.

    Returns
    -------
    numpy.ndarray
        Sorted float64 arrival times.

    Examples
    --------
    >>> a = gamma_arrivals(rate=10.0, cv=2.0, start=0.0, end=1000.0,
    ...                    rng=np.random.default_rng(0))
    >>> 9000 < len(a) < 11000, bool(np.all(np.diff(a) >= 0))
    (True, True)
    """
    for name, value in (("rate", rate), ("cv", cv)):
        if not isinstance(value, int | float) or not value > 0 or not math.isfinite(value):
            raise WorkloadError(f"{name} must be a positive finite number, got {value!r}")
    check_start_mode(start_mode)
    if not (math.isfinite(start) and math.isfinite(end) and end > start):
        raise WorkloadError(f"end {end!r} must exceed start {start!r}, both finite")
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


def llm_workload(*, arrivals: npt.ArrayLike, rng: np.random.Generator, model: str,
                 token_pairs: Sequence[tuple[int, int]] | npt.ArrayLike,
                 max_context: int | None = None, slo: float | None = None) -> Workload:
    """A workload of ``model`` requests at ``arrivals`` with token counts drawn from
    ``token_pairs`` (rows of ``(prompt_tokens, output_tokens)``).

    Examples
    --------
    >>> w = llm_workload(arrivals=[0.0, 1.0], rng=np.random.default_rng(0), model="gpt",
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
    idx = rng.integers(0, pairs.shape[0], size=times.size)
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
