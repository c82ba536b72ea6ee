"""Multi-model mixes: one arrival process per model, merged into one :class:`Workload`.

Rates are split across models by explicit shares or by a power law (Zipf exponent ``α``:
the model of popularity rank ``r`` (1-based) gets a share proportional to ``r**-α``), and each
model may have its own CV. Each model draws from its own child generator of ``seed``, so
adding a model does not change the arrivals of the others.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workloads._renewal import check_start_mode
from workloads._rng import SeedLike, spawn
from workloads.arrivals import ArrivalProcess, GammaProcess, StartMode
from workloads.errors import WorkloadError
from workloads.workload import Workload

FloatArray = npt.NDArray[np.float64]

__all__ = ["MixSpec", "generate_mix", "mix_processes", "power_law_shares",
           "workload_from_process"]


def power_law_shares(n: int, alpha: float) -> FloatArray:
    """Shares ``∝ rank**-alpha`` of ``n`` models, summing to 1 (``alpha = 0``: equal).

    Parameters
    ----------
    n : int
        Number of models; positive.
    alpha : float
        Zipf exponent; finite and non-negative.

    Returns
    -------
    numpy.ndarray
        ``n`` float64 shares, largest first.

    Raises
    ------
    WorkloadError
        If ``n`` is not a positive int or ``alpha`` is negative or not finite.

    Examples
    --------
    >>> power_law_shares(3, 1.0).round(4).tolist()
    [0.5455, 0.2727, 0.1818]
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise WorkloadError(f"number of models must be a positive int, got {n!r}")
    if not (math.isfinite(alpha) and alpha >= 0):
        raise WorkloadError(f"Zipf exponent alpha must be finite and >= 0, got {alpha!r}")
    weights = np.arange(1, n + 1, dtype=np.float64) ** -float(alpha)
    return weights / weights.sum()


@dataclass(frozen=True, kw_only=True)
class MixSpec:
    """Gamma arrivals for several models sharing ``total_rate`` requests per second.

    Give at most one of ``shares`` (non-negative, normalised here) and ``zipf_alpha``;
    with neither, the rate is split equally. ``cv`` is one CV for all models or one per
    model. ``slo`` (seconds), when given, fills the ``slo`` column: one value or one per model.
    ``start_mode`` is each process's first gap: ``"stationary"`` (default, a residual life,
    so every window holds ``total_rate`` × its length on average) or ``"ordinary"``
    (AlpaServe's generator: about ``(cv**2 - 1) / 2`` extra requests per model; see
    :mod:`workloads.arrivals`).

    Parameters
    ----------
    model_names : tuple of str
        The models; non-empty and distinct.
    total_rate : float
        Requests per second over all models; positive and finite.
    shares : tuple of float, optional
        One non-negative share per model with a positive sum; normalised here.
    zipf_alpha : float, optional
        Zipf exponent of the shares by model order (see :func:`power_law_shares`).
    cv : float or tuple of float, default 1.0
        Inter-arrival CV, one for all models or one per model; finite, non-negative.
    slo : float or tuple of float, optional
        Latency objective in seconds, one for all or one per model; positive.
    start_mode : {"stationary", "ordinary"}, default "stationary"
        The first gap of every model's process (see :class:`~workloads.arrivals.GammaProcess`):
        stationary, or AlpaServe's ordinary start.

    Raises
    ------
    WorkloadError
        If the names are empty or repeated, the rate is not positive, both ``shares`` and
        ``zipf_alpha`` are given, or a per-model tuple has the wrong length or a bad value.

    Examples
    --------
    >>> spec = MixSpec.zipf(3, total_rate=11.0, alpha=1.0, cv=[1.0, 2.0, 4.0])
    >>> spec.model_names, spec.rates().round(3).tolist()
    (('model0', 'model1', 'model2'), [6.0, 3.0, 2.0])
    >>> w = generate_mix(spec, duration=10.0, seed=0)
    >>> w.model_names, bool((w.arrival < 10.0).all())
    (('model0', 'model1', 'model2'), True)
    """

    model_names: tuple[str, ...]
    total_rate: float
    shares: tuple[float, ...] | None = None
    zipf_alpha: float | None = None
    cv: float | tuple[float, ...] = 1.0
    slo: float | tuple[float, ...] | None = None
    start_mode: StartMode = "stationary"

    def __post_init__(self) -> None:
        check_start_mode(self.start_mode)
        names = tuple(self.model_names)
        object.__setattr__(self, "model_names", names)
        n = len(names)
        if n == 0 or len(set(names)) != n:
            raise WorkloadError(f"model_names must be non-empty and distinct, got {names!r}")
        if not (math.isfinite(self.total_rate) and self.total_rate > 0):
            raise WorkloadError(f"total_rate must be positive and finite, got {self.total_rate!r}")
        if self.shares is not None and self.zipf_alpha is not None:
            raise WorkloadError("give shares or zipf_alpha, not both")
        if self.shares is not None:
            shares = tuple(float(s) for s in self.shares)
            if len(shares) != n:
                raise WorkloadError(f"{len(shares)} shares for {n} models")
            if not all(math.isfinite(s) and s >= 0 for s in shares) or sum(shares) <= 0:
                raise WorkloadError(f"shares must be >= 0, finite, with a positive sum: {shares}")
            object.__setattr__(self, "shares", shares)
        if self.zipf_alpha is not None:
            power_law_shares(n, self.zipf_alpha)  # validates alpha
        for name in ("cv", "slo"):
            value = getattr(self, name)
            if value is None or isinstance(value, int | float):
                continue
            values = tuple(float(v) for v in value)
            if len(values) != n:
                raise WorkloadError(f"{len(values)} values of {name} for {n} models")
            object.__setattr__(self, name, values)
        for cv in self._per_model(self.cv):
            if not (math.isfinite(cv) and cv >= 0):
                raise WorkloadError(f"cv must be finite and >= 0, got {cv!r}")
        if self.slo is not None and not all(s > 0 for s in self._per_model(self.slo)):
            raise WorkloadError(f"slo must be positive, got {self.slo!r}")

    @classmethod
    def zipf(cls, n_models: int, *, total_rate: float, alpha: float,
             cv: float | Sequence[float] = 1.0, slo: float | Sequence[float] | None = None,
             prefix: str = "model") -> MixSpec:
        """``n_models`` models named ``{prefix}0..`` with power-law shares.

        Parameters
        ----------
        n_models : int
            Number of models; positive.
        total_rate : float
            Requests per second over all models.
        alpha : float
            Zipf exponent of the shares (0: equal shares).
        cv : float or sequence of float, default 1.0
            Inter-arrival CV, one for all models or one per model.
        slo : float or sequence of float, optional
            Latency objective in seconds, one for all or one per model.
        prefix : str, default "model"
            Model name prefix.

        Returns
        -------
        MixSpec
            The validated spec.

        Raises
        ------
        WorkloadError
            If ``n_models`` is not a positive int, or a value is rejected by
            :class:`MixSpec`.

        Examples
        --------
        >>> MixSpec.zipf(2, total_rate=3.0, alpha=1.0).rates().tolist()
        [2.0, 1.0]
        """
        if isinstance(n_models, bool) or not isinstance(n_models, int) or n_models < 1:
            raise WorkloadError(f"n_models must be a positive int, got {n_models!r}")
        return cls(model_names=tuple(f"{prefix}{i}" for i in range(n_models)),
                   total_rate=total_rate, zipf_alpha=alpha,
                   cv=cv if isinstance(cv, int | float) else tuple(cv),
                   slo=slo if slo is None or isinstance(slo, int | float) else tuple(slo))

    def _per_model(self, value: float | tuple[float, ...]) -> list[float]:
        if isinstance(value, int | float):
            return [float(value)] * len(self.model_names)
        return list(value)

    def rates(self) -> FloatArray:
        """Arrival rate of each model.

        Returns
        -------
        numpy.ndarray
            Requests per second per model, in ``model_names`` order; they sum to
            ``total_rate``.

        Examples
        --------
        >>> MixSpec(model_names=("a", "b"), total_rate=10.0, shares=(3, 1)).rates().tolist()
        [7.5, 2.5]
        """
        n = len(self.model_names)
        if self.shares is not None:
            shares = np.asarray(self.shares, dtype=np.float64)
            shares = shares / shares.sum()
        elif self.zipf_alpha is not None:
            shares = power_law_shares(n, self.zipf_alpha)
        else:
            shares = np.full(n, 1.0 / n)
        return self.total_rate * shares

    def processes(self) -> dict[str, GammaProcess]:
        """The Gamma process of each model with a positive rate.

        Returns
        -------
        dict of str to GammaProcess
            One process per model whose share is positive, in ``model_names`` order.

        Examples
        --------
        >>> MixSpec(model_names=("a", "b"), total_rate=4.0, shares=(1, 0), cv=2.0).processes()
        {'a': GammaProcess(rate=4.0, cv=2.0, start_mode='stationary')}
        """
        return {name: GammaProcess(rate=float(rate), cv=cv, start_mode=self.start_mode)
                for name, rate, cv in zip(self.model_names, self.rates(),
                                          self._per_model(self.cv), strict=True)
                if rate > 0}


def mix_processes(processes: Mapping[str, ArrivalProcess], *, seed: SeedLike,
                  duration: float, start: float = 0.0,
                  slo: float | Mapping[str, float] | None = None,
                  model_names: Sequence[str] | None = None) -> Workload:
    """Merge one arrival process per model over ``[start, start + duration)``.

    ``model_names`` (default: the keys of ``processes``) fixes the name order and may list
    models that get no process.

    Parameters
    ----------
    processes : Mapping[str, ArrivalProcess]
        The arrival process of each model.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness; each model gets its own independent stream.
    duration : float
        Length of the span in seconds.
    start : float, default 0.0
        Start of the span in seconds.
    slo : float or Mapping[str, float], optional
        Latency objective in seconds, one for all models or one per model.
    model_names : sequence of str, optional
        Name order of the workload's models; must include every key of ``processes``.

    Returns
    -------
    Workload
        The merged requests, sorted by arrival time.

    Raises
    ------
    WorkloadError
        If a process's model is missing from ``model_names``.

    Examples
    --------
    >>> from workloads.arrivals import DeterministicProcess
    >>> w = mix_processes({"a": DeterministicProcess(rate=1.0, start_mode="ordinary"),
    ...                    "b": DeterministicProcess(rate=2.0, start_mode="ordinary")},
    ...                   duration=2.0, seed=0)
    >>> w.counts_by_model()
    {'a': 1, 'b': 3}
    """
    names = tuple(model_names) if model_names is not None else tuple(processes)
    unknown = [m for m in processes if m not in names]
    if unknown:
        raise WorkloadError(f"processes for models {unknown} not in model_names {list(names)}")
    rngs = spawn(seed, len(names))
    arrivals: list[FloatArray] = []
    codes: list[npt.NDArray[np.int32]] = []
    for code, (name, rng) in enumerate(zip(names, rngs, strict=True)):
        if name not in processes:
            continue
        t = processes[name].generate(duration=duration, start=start, seed=rng)
        arrivals.append(t)
        codes.append(np.full(t.size, code, dtype=np.int32))
    arrival = np.concatenate(arrivals) if arrivals else np.empty(0)
    code_arr = np.concatenate(codes) if codes else np.empty(0, np.int32)
    out = Workload.from_arrays(arrival=arrival, model=code_arr, model_names=names)
    return out if slo is None else out.with_slo(slo if isinstance(slo, int | float)
                                                else dict(slo))


def generate_mix(spec: MixSpec, *, duration: float, seed: SeedLike,
                 start: float = 0.0) -> Workload:
    """Arrivals of every model of ``spec`` over ``[start, start + duration)``.

    Parameters
    ----------
    spec : MixSpec
        Models, rates, CVs and SLOs.
    duration : float
        Length of the span in seconds.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness; each model gets its own independent stream.
    start : float, default 0.0
        Start of the span in seconds.

    Returns
    -------
    Workload
        The requests of all models; models with a zero share get none but keep their name.

    Examples
    --------
    >>> w = generate_mix(MixSpec(model_names=("a", "b"), total_rate=100.0), duration=10.0,
    ...                  seed=0)
    >>> w.model_names, 800 < len(w) < 1200
    (('a', 'b'), True)
    """
    slo: float | dict[str, float] | None
    if spec.slo is None or isinstance(spec.slo, int | float):
        slo = spec.slo
    else:
        slo = dict(zip(spec.model_names, spec.slo, strict=True))
    return mix_processes(spec.processes(), seed=seed, duration=duration, start=start, slo=slo,
                         model_names=spec.model_names)


def workload_from_process(process: ArrivalProcess, *, model: str, seed: SeedLike,
                          n: int | None = None, duration: float | None = None,
                          start: float = 0.0, slo: float | None = None) -> Workload:
    """A one-model workload from an arrival process, by count or by duration.

    Parameters
    ----------
    process : ArrivalProcess
        The arrival process.
    model : str
        The model every request targets.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness.
    n : int, optional
        Number of requests; give exactly one of ``n`` and ``duration``.
    duration : float, optional
        Span in seconds to fill.
    start : float, default 0.0
        Start time in seconds.
    slo : float, optional
        Latency objective in seconds for every request.

    Returns
    -------
    Workload
        The requests, sorted by arrival time.

    Examples
    --------
    >>> from workloads.arrivals import poisson
    >>> len(workload_from_process(poisson(5.0), model="m", n=7, seed=0))
    7
    """
    t = process.generate(seed=seed, n=n, duration=duration, start=start)
    return Workload.from_arrays(arrival=t, model=model, slo=slo)
