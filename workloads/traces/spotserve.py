"""Readers of the SpotServe artifact's request inputs, and LLM request files of any kind.

* Request streams (``query/*.txt``): CSV rows ``index, arrival, prompt_tokens, extra`` with no
  header. The shipped files give the arrival in **seconds** (the 0.35 req/s stream has a mean
  gap of 2.86 s), although the data README calls the column ``arrival_ms``; ``time_unit``
  selects. The fourth column (a counter the artifact's generator wrote) is not used. The
  files carry no output length: every request gets ``output_tokens`` (the paper: 128).
* Rate schedules (``query/arrival-rates.csv``): one line of comma-separated arrival rates
  (requests/s), one per ``interval`` seconds (per minute in the artifact).
* :func:`read_llm_requests` reads either a request stream or an Azure LLM trace
  (``TIMESTAMP,ContextTokens,GeneratedTokens``, real token counts), sniffed from the first
  line, with ``format`` to force one.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from workloads.errors import TraceFormatError, WorkloadError
from workloads.traces._common import PathLike, open_text
from workloads.workload import Workload

RequestFormat = Literal["spotserve", "azure-llm"]
TimeUnit = Literal["s", "ms"]

__all__ = ["RateSchedule", "read_llm_requests", "read_rate_schedule", "read_spotserve_queries",
           "sniff_request_format"]


def read_spotserve_queries(path: PathLike, *, model: str = "llm", output_tokens: int = 128,
                           time_unit: TimeUnit = "s") -> Workload:
    """Read a SpotServe request stream (``query/*.txt``).

    Parameters
    ----------
    path : str or PathLike
        The file: rows ``index, arrival, prompt_tokens[, ...]``, no header.
    model : str
        Model name of every request.
    output_tokens : int
        Tokens every request generates (the files do not say; the paper uses 128).
    time_unit : {"s", "ms"}
        Unit of the arrival column: seconds in the shipped files.

    Returns
    -------
    Workload
        Arrivals in seconds (as in the file, not rebased), prompt and output token counts.

    Raises
    ------
    TraceFormatError
        A row with fewer than three fields, a non-numeric or negative value, or arrivals
        that go back in time (naming the file and line).
    WorkloadError
        ``output_tokens`` below 1, an unknown ``time_unit`` or an empty file.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "query.txt")
    ...     _ = open(p, "w").write("0,2.5,512,0\\n1,5.0,256,2966\\n")
    ...     w = read_spotserve_queries(p)
    >>> w.arrival.tolist(), w.prompt_tokens.tolist(), w.output_tokens.tolist()
    ([2.5, 5.0], [512, 256], [128, 128])
    """
    if isinstance(output_tokens, bool) or not isinstance(output_tokens, int) \
            or output_tokens < 1:
        raise WorkloadError(f"output_tokens must be an int >= 1, got {output_tokens!r}")
    if time_unit not in ("s", "ms"):
        raise WorkloadError(f"time_unit must be 's' or 'ms', got {time_unit!r}")
    scale = 1.0 if time_unit == "s" else 1e-3
    name = str(path)
    times: list[float] = []
    prompts: list[int] = []
    with open_text(path) as fh:
        for line, row in enumerate(csv.reader(fh), start=1):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) < 3:
                raise TraceFormatError(f"expected index, arrival, prompt_tokens, got "
                                       f"{len(row)} field(s)", path=name, line=line)
            t = _number(row[1], name, line, "arrival") * scale
            p = _number(row[2], name, line, "prompt_tokens")
            if p < 1 or p != int(p):
                raise TraceFormatError(f"prompt_tokens must be an int >= 1, got {row[2]!r}",
                                       path=name, line=line, column="prompt_tokens")
            if times and t < times[-1]:
                raise TraceFormatError(f"arrival {row[1]!r} goes back in time", path=name,
                                       line=line, column="arrival")
            times.append(t)
            prompts.append(int(p))
    if not times:
        raise WorkloadError(f"request stream {name!r} has no rows")
    return Workload.from_arrays(arrival=times, model=model, prompt_tokens=prompts,
                                output_tokens=np.full(len(times), output_tokens))


def _number(text: str, path: str, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise TraceFormatError(f"{column} must be a number, got {text.strip()!r}", path=path,
                               line=line, column=column) from None
    if not math.isfinite(value) or value < 0:
        raise TraceFormatError(f"{column} must be finite and >= 0, got {text.strip()!r}",
                               path=path, line=line, column=column)
    return value


@dataclass(frozen=True, kw_only=True)
class RateSchedule:
    """Piecewise-constant arrival rates: ``rates[k]`` requests/s over
    ``[start + k * interval, start + (k + 1) * interval)``.

    Parameters
    ----------
    rates : tuple of float
        Requests per second in each interval, each >= 0, at least one > 0.
    interval : float
        Seconds per entry (60: per minute).
    start : float
        Seconds at which the first interval begins.

    Examples
    --------
    >>> s = RateSchedule(rates=(0.5, 1.0), interval=60.0)
    >>> s.end, s.expected_requests, s.rate_at(61.0)
    (120.0, 90.0, 1.0)
    """

    rates: tuple[float, ...]
    interval: float = 60.0
    start: float = 0.0

    def __post_init__(self) -> None:
        rates = tuple(float(r) for r in self.rates)
        object.__setattr__(self, "rates", rates)
        if not rates or not all(math.isfinite(r) and r >= 0 for r in rates) or max(rates) <= 0:
            raise WorkloadError(f"a rate schedule needs finite rates >= 0, one of them > 0; "
                                f"got {self.rates!r}")
        if not (math.isfinite(self.interval) and self.interval > 0):
            raise WorkloadError(f"interval must be a positive number of seconds, got "
                                f"{self.interval!r}")
        if not (math.isfinite(self.start) and self.start >= 0):
            raise WorkloadError(f"start must be >= 0 seconds, got {self.start!r}")

    @property
    def end(self) -> float:
        """Seconds at which the last interval ends."""
        return self.start + len(self.rates) * self.interval

    @property
    def expected_requests(self) -> float:
        """Mean number of requests over the whole schedule."""
        return float(sum(self.rates) * self.interval)

    def rate_at(self, time: float) -> float:
        """The rate in force at ``time``.

        Parameters
        ----------
        time : float
            Seconds.

        Returns
        -------
        float
            Requests/s; 0 outside ``[start, end)``.
        """
        k = math.floor((time - self.start) / self.interval)
        return self.rates[k] if 0 <= k < len(self.rates) else 0.0

    def arrivals(self, *, cv: float, seed: int | np.random.Generator
                 ) -> npt.NDArray[np.float64]:
        """Arrival times following the schedule, by time-changing one renewal process.

        A Gamma renewal process of unit rate and inter-arrival CV ``cv`` runs in
        "operational time" (the cumulative expected count), so each interval gets ``rate ×
        interval`` requests on average and the burstiness is the same throughout.

        Parameters
        ----------
        cv : float
            Inter-arrival coefficient of variation (> 0; 1 is Poisson).
        seed : int or numpy.random.Generator
            Random state.

        Returns
        -------
        numpy.ndarray of float
            Sorted arrival times in ``[start, end)``, seconds.

        Examples
        --------
        >>> s = RateSchedule(rates=(1.0, 4.0), interval=600.0)
        >>> a = s.arrivals(cv=1.0, seed=0)
        >>> 450 < int((a < 600).sum()) < 750, 2100 < int((a >= 600).sum()) < 2700
        (True, True)
        """
        from workloads._rng import as_generator
        from workloads.llm_requests import gamma_arrivals

        total = self.expected_requests
        unit = gamma_arrivals(rate=1.0, cv=cv, start=0.0, end=total, seed=as_generator(seed))
        cum = np.concatenate([[0.0], np.cumsum(np.asarray(self.rates) * self.interval)])
        edges = self.start + np.arange(len(self.rates) + 1) * self.interval
        return np.asarray(np.interp(unit, cum, edges), dtype=np.float64)


def read_rate_schedule(path: PathLike, *, interval: float = 60.0,
                       start: float = 0.0) -> RateSchedule:
    """Read per-interval arrival rates (``query/arrival-rates.csv``).

    Parameters
    ----------
    path : str or PathLike
        Comma- and/or newline-separated rates in requests/s; blank fields are not allowed.
    interval : float
        Seconds per rate (60: the artifact's per-minute rates).
    start : float
        Seconds at which the first rate applies.

    Returns
    -------
    RateSchedule
        The schedule.

    Raises
    ------
    TraceFormatError
        A field that is not a finite number >= 0 (naming the file and line).
    WorkloadError
        No rate above 0, or a bad ``interval``.
    """
    name = str(path)
    rates: list[float] = []
    with open_text(path) as fh:
        for line, row in enumerate(csv.reader(fh), start=1):
            cells = [c.strip() for c in row]
            while cells and not cells[-1]:
                cells.pop()  # a trailing comma or a blank line
            if "" in cells:
                raise TraceFormatError("blank rate field", path=name, line=line, column="rate")
            rates += [_number(c, name, line, "rate") for c in cells]
    return RateSchedule(rates=tuple(rates), interval=interval, start=start)


def sniff_request_format(path: PathLike) -> RequestFormat:
    """The form of a request file, from its first non-blank line.

    Parameters
    ----------
    path : str or PathLike
        The file.

    Returns
    -------
    str
        ``"azure-llm"`` when that line is a header naming ``TIMESTAMP``, else ``"spotserve"``.

    Raises
    ------
    TraceFormatError
        The file is empty.
    """
    with open_text(path) as fh:
        for text in fh:
            if text.strip():
                return "azure-llm" if "TIMESTAMP" in text.upper() else "spotserve"
    raise TraceFormatError("request file is empty", path=str(path))


def read_llm_requests(path: PathLike, *, format: RequestFormat | None = None,
                      model: str = "llm", output_tokens: int = 128) -> Workload:
    """Read LLM requests with token counts from a SpotServe stream or an Azure LLM trace.

    Parameters
    ----------
    path : str or PathLike
        The file.
    format : {"spotserve", "azure-llm"}, optional
        Force a form; sniffed from the content by default (:func:`sniff_request_format`).
    model : str
        Model name of every request.
    output_tokens : int
        Output length of SpotServe streams (which do not give one); Azure traces carry
        their own.

    Returns
    -------
    Workload
        Requests with ``prompt_tokens`` and ``output_tokens``. Azure arrivals are relative
        to the trace's first request; SpotServe arrivals are as in the file.

    Raises
    ------
    TraceFormatError
        A malformed file or an unknown ``format``.
    """
    fmt = sniff_request_format(path) if format is None else format
    if fmt == "spotserve":
        return read_spotserve_queries(path, model=model, output_tokens=output_tokens)
    if fmt == "azure-llm":
        from workloads.traces.azure.llm import AzureLLMSpec, read_azure_llm

        return read_azure_llm(path, AzureLLMSpec(model=model)).workload
    raise TraceFormatError(f"request format must be 'spotserve' or 'azure-llm', got "
                           f"{format!r}", path=str(path))
