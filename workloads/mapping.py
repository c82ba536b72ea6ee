"""Map trace functions (Azure Functions apps/functions) onto a fixed set of models.

Functions are ranked by invocation count, most popular first (ties keep their order of first
appearance). Functions with no invocations are dropped, and so are those beyond the top ``K``
when ``top_k`` is set; both are counted in the result and logged, never dropped silently.

Policies, for the kept functions of rank ``r = 0, 1, …`` (``K`` of them) onto ``N`` models:

``round_robin``
    ``r mod N``: spreads popular functions over all models, balancing their load.
``popularity``
    ``floor(r N / K)``: contiguous blocks of ranks, so model 0 gets the most popular
    functions and the skew of the trace is kept across models.

:func:`map_requests` maps a whole workload (every request) onto models, for traces of one
request stream (Azure LLM) as well as of many functions. Its policies (``StreamMapping``):

``auto`` (default)
    the trace's own names when all of them are target models; otherwise ``by-function``
    when the trace has several functions, and ``round-robin`` for a single stream.
``by-function`` / ``popularity``
    :func:`map_functions` with ``round_robin`` / ``popularity``: whole functions move.
``round-robin``
    request ``i`` (in arrival order) to model ``i mod N``: a single stream spread evenly.
``power-law``
    each request independently to model ``k`` with probability proportional to
    ``(k + 1) ** -alpha``, drawn from ``seed``.
``prompt-buckets``
    by prompt length: the requests are cut at the ``k/N`` quantiles of ``prompt_tokens``,
    so model 0 serves the shortest prompts and model ``N-1`` the longest.
``explicit``
    ``explicit`` maps each trace function (model name) to a target model; a function
    missing from it is an error that names it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from workloads._rng import as_generator
from workloads.errors import WorkloadError
from workloads.workload import OPTIONAL_COLUMNS, Workload

logger = logging.getLogger(__name__)

__all__ = ["STREAM_POLICIES", "FunctionMapping", "MappingPolicy", "MappingResult",
           "RequestMapping", "StreamMapping", "map_functions", "map_requests"]

MappingPolicy = Literal["round_robin", "popularity"]


@dataclass(frozen=True, kw_only=True)
class FunctionMapping:
    """Map functions onto ``num_models`` models named ``model_names`` (or ``{prefix}0..``).

    Parameters
    ----------
    num_models : int
        Number of models; positive.
    policy : {"round_robin", "popularity"}, default "round_robin"
        ``round_robin`` deals the functions, most popular first, to the models in turn;
        ``popularity`` gives each model a contiguous block of the popularity ranking.
    top_k : int, optional
        Keep only the ``top_k`` most invoked functions (positive); None keeps all.
    model_names : tuple of str, optional
        ``num_models`` distinct names; default ``prefix`` followed by the model code.
    prefix : str, default "model"
        Name prefix when ``model_names`` is not given.

    Raises
    ------
    WorkloadError
        If ``num_models`` or ``top_k`` is not a positive int, ``policy`` is unknown, or
        ``model_names`` are not ``num_models`` distinct names.

    Examples
    --------
    >>> FunctionMapping(num_models=2, prefix="bert").names()
    ('bert0', 'bert1')
    """

    num_models: int
    policy: MappingPolicy = "round_robin"
    top_k: int | None = None
    model_names: tuple[str, ...] | None = None
    prefix: str = "model"

    def __post_init__(self) -> None:
        if (isinstance(self.num_models, bool) or not isinstance(self.num_models, int)
                or self.num_models < 1):
            raise WorkloadError(f"num_models must be a positive int, got {self.num_models!r}")
        if self.policy not in ("round_robin", "popularity"):
            raise WorkloadError(
                f"policy must be 'round_robin' or 'popularity', got {self.policy!r}")
        if self.top_k is not None and (isinstance(self.top_k, bool)
                                       or not isinstance(self.top_k, int) or self.top_k < 1):
            raise WorkloadError(f"top_k must be a positive int or None, got {self.top_k!r}")
        if self.model_names is not None:
            names = tuple(self.model_names)
            if len(names) != self.num_models or len(set(names)) != len(names):
                raise WorkloadError(f"model_names must be {self.num_models} distinct names, "
                                    f"got {names!r}")
            object.__setattr__(self, "model_names", names)

    def names(self) -> tuple[str, ...]:
        """The model names, in code order.

        Returns
        -------
        tuple of str
            ``model_names``, or ``prefix + str(i)`` for ``i`` in ``range(num_models)``.

        Examples
        --------
        >>> FunctionMapping(num_models=2, model_names=("a", "b")).names()
        ('a', 'b')
        """
        if self.model_names is not None:
            return self.model_names
        return tuple(f"{self.prefix}{i}" for i in range(self.num_models))


@dataclass(frozen=True, kw_only=True)
class MappingResult:
    """Which model each kept function maps to, and what was dropped.

    ``assignment`` maps each kept function to a model code (index into ``model_names``);
    ``ranked`` lists the kept functions, most popular first.

    Parameters
    ----------
    assignment : dict of str to int
        Model code of each kept function.
    ranked : tuple of str
        The kept functions, most invoked first (ties in input order).
    model_names : tuple of str
        Model names, indexed by code.
    functions_total : int
        Functions in the input, kept or not.
    empty_dropped : int
        Functions dropped because they were never invoked.
    beyond_top_k : int
        Invoked functions dropped by ``top_k``.

    Examples
    --------
    >>> r = map_functions({"f": 3, "g": 0}, FunctionMapping(num_models=1))
    >>> r.functions_total, r.empty_dropped, r.beyond_top_k
    (2, 1, 0)
    """

    assignment: dict[str, int]
    ranked: tuple[str, ...]
    model_names: tuple[str, ...]
    functions_total: int
    empty_dropped: int
    beyond_top_k: int

    @property
    def models_without_functions(self) -> int:
        """Models that received no function (more models than kept functions)."""
        return len(self.model_names) - len(set(self.assignment.values()))


def map_functions(counts: Mapping[str, int], spec: FunctionMapping) -> MappingResult:
    """Rank functions by ``counts`` and assign the kept ones to models.

    Functions with no invocation are dropped and counted; a model left without a function
    is logged as a warning.

    Parameters
    ----------
    counts : Mapping[str, int]
        Invocation count per function; non-negative.
    spec : FunctionMapping
        Number of models, policy and ``top_k``.

    Returns
    -------
    MappingResult
        The assignment and the counts of what was dropped.

    Raises
    ------
    WorkloadError
        If a count is negative.

    Examples
    --------
    >>> counts = {"f": 5, "g": 0, "h": 9, "k": 1}
    >>> r = map_functions(counts, FunctionMapping(num_models=2))
    >>> r.ranked, r.assignment, r.empty_dropped
    (('h', 'f', 'k'), {'h': 0, 'f': 1, 'k': 0}, 1)
    >>> map_functions(counts, FunctionMapping(num_models=2, policy="popularity",
    ...                                       top_k=2)).assignment
    {'h': 0, 'f': 1}
    """
    negative = [f for f, c in counts.items() if c < 0]
    if negative:
        raise WorkloadError(f"functions {negative[:5]} have negative invocation counts")
    order = sorted(counts, key=lambda f: -counts[f])  # stable: ties keep insertion order
    nonempty = [f for f in order if counts[f] > 0]
    empty = len(order) - len(nonempty)
    kept = nonempty if spec.top_k is None else nonempty[: spec.top_k]
    beyond = len(nonempty) - len(kept)
    n = spec.num_models
    if spec.policy == "round_robin":
        assignment = {f: r % n for r, f in enumerate(kept)}
    else:
        assignment = {f: r * n // len(kept) for r, f in enumerate(kept)}
    result = MappingResult(assignment=assignment, ranked=tuple(kept), model_names=spec.names(),
                           functions_total=len(order), empty_dropped=empty, beyond_top_k=beyond)
    logger.info("mapped %d of %d functions onto %d models (%s); dropped %d empty, "
                "%d beyond top-%s", len(kept), len(order), n, spec.policy, empty, beyond,
                spec.top_k)
    if result.models_without_functions:
        logger.warning("%d of %d models received no function",
                       result.models_without_functions, n)
    return result


StreamPolicy = Literal["auto", "by-function", "popularity", "round-robin", "power-law",
                       "prompt-buckets", "explicit"]
STREAM_POLICIES: tuple[str, ...] = ("auto", "by-function", "popularity", "round-robin",
                                    "power-law", "prompt-buckets", "explicit")


@dataclass(frozen=True, kw_only=True)
class StreamMapping:
    """How :func:`map_requests` sends a trace's requests to ``model_names``.

    ``alpha`` is the power-law exponent (``power-law``), ``seed`` its random draw and
    ``explicit`` the function → model table (``explicit``). See the module docstring.

    Parameters
    ----------
    model_names : tuple of str
        The plan's models (distinct, at least one).
    policy : str, default "auto"
        One of ``"auto"``, ``"by-function"``, ``"popularity"``, ``"round-robin"``,
        ``"power-law"``, ``"prompt-buckets"``, ``"explicit"``: how requests are dealt out.
        ``"auto"`` keeps the trace's own names when they are the models, else deals a single
        stream round-robin.
    alpha : float, default 1.0
        The power-law exponent (``>= 0``) of ``"power-law"``.
    seed : int, default 0
        Seed of the power-law draw.
    explicit : mapping of str to str, optional
        Function → model table; required with (and only with) ``"explicit"``.

    Raises
    ------
    WorkloadError
        When the names repeat, the policy is unknown, ``alpha`` is negative or not finite, or
        the table names unknown models.

    Examples
    --------
    >>> StreamMapping(model_names=("a", "b"), policy="power-law", alpha=1.0).policy
    'power-law'
    """

    model_names: tuple[str, ...]
    policy: StreamPolicy = "auto"
    alpha: float = 1.0
    seed: int = 0
    explicit: Mapping[str, str] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        names = tuple(self.model_names)
        if not names or len(set(names)) != len(names):
            raise WorkloadError(f"model_names must be distinct names, at least one, got {names!r}")
        object.__setattr__(self, "model_names", names)
        if self.policy not in STREAM_POLICIES:
            raise WorkloadError(f"mapping policy must be one of {list(STREAM_POLICIES)}, got "
                                f"{self.policy!r}")
        if not (isinstance(self.alpha, int | float) and math.isfinite(self.alpha)
                and self.alpha >= 0):
            raise WorkloadError(f"power-law alpha must be a finite number >= 0, got "
                                f"{self.alpha!r}")
        if (self.policy == "explicit") != (self.explicit is not None):
            raise WorkloadError("an explicit mapping table goes with policy 'explicit' (and "
                                "only with it)")
        if self.explicit is not None:
            unknown = sorted({m for m in self.explicit.values() if m not in names})
            if unknown:
                raise WorkloadError(f"the mapping table names models {unknown[:5]} that are "
                                    f"not among {list(names)}")


@dataclass(frozen=True, kw_only=True)
class RequestMapping:
    """A workload mapped onto models, and how: the policy used (``auto`` resolved, or
    ``identity`` when the trace's names were kept) and the requests each model received
    (``requests_per_model``; models with none included).

    Parameters
    ----------
    workload : Workload
        The mapped workload: every request names one of the plan's models.
    policy : str
        The policy used (``"auto"`` resolved; ``"identity"`` when the names were kept).
    requests_per_model : dict of str to int
        Requests each model received, zeros included.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 1.0, 2.0], model="llm")
    >>> map_requests(w, StreamMapping(model_names=("a", "b"))).to_dict()
    {'policy': 'round-robin', 'requests_per_model': {'a': 2, 'b': 1}}
    """

    workload: Workload
    policy: str
    requests_per_model: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """Plain fields for reports.

        Returns
        -------
        dict
            ``policy`` and ``requests_per_model``.
        """
        return {"policy": self.policy, "requests_per_model": dict(self.requests_per_model)}


def _resolve(workload: Workload, spec: StreamMapping) -> str:
    if spec.policy != "auto":
        return spec.policy
    present = [n for n, c in workload.counts_by_model().items() if c > 0]
    if set(present) <= set(spec.model_names):
        return "identity"
    return "by-function" if len(present) > 1 else "round-robin"


def _codes(workload: Workload, spec: StreamMapping, policy: str) -> np.ndarray:
    n_req, n_models = len(workload), len(spec.model_names)
    index = {name: k for k, name in enumerate(spec.model_names)}
    if policy == "identity":
        table = np.array([index.get(m, -1) for m in workload.model_names], dtype=np.int64)
        return table[workload.model_codes]
    if policy in ("by-function", "popularity"):
        fm = FunctionMapping(num_models=n_models, model_names=spec.model_names,
                             policy="round_robin" if policy == "by-function" else "popularity")
        result = map_functions(workload.counts_by_model(), fm)
        # functions without requests are dropped by map_functions and have none to remap
        table = np.array([result.assignment.get(m, 0) for m in workload.model_names],
                         dtype=np.int64)
        return table[workload.model_codes]
    if policy == "explicit":
        explicit = spec.explicit or {}  # not None: checked in StreamMapping
        used = {workload.model_names[c] for c in np.unique(workload.model_codes)}
        missing = sorted(used - set(explicit))
        if missing:
            raise WorkloadError(f"the mapping table has no model for trace functions "
                                f"{missing[:5]}" + (f" (+{len(missing) - 5})"
                                                    if len(missing) > 5 else ""))
        table = np.array([index[explicit[m]] if m in explicit else -1
                          for m in workload.model_names], dtype=np.int64)
        return table[workload.model_codes]
    if policy == "round-robin":
        return np.arange(n_req, dtype=np.int64) % n_models
    if policy == "power-law":
        weights = (np.arange(n_models) + 1.0) ** -float(spec.alpha)
        return as_generator(spec.seed).choice(n_models, size=n_req, p=weights / weights.sum())
    # prompt-buckets
    if workload.prompt_tokens is None:
        raise WorkloadError("mapping by prompt-length buckets needs a trace with prompt "
                            "lengths (e.g. Azure LLM's ContextTokens)")
    if n_req == 0:
        return np.zeros(0, dtype=np.int64)
    cuts = np.quantile(workload.prompt_tokens, np.arange(1, n_models) / n_models)
    return np.searchsorted(cuts, workload.prompt_tokens, side="left").astype(np.int64)


def map_requests(workload: Workload, spec: StreamMapping) -> RequestMapping:
    """Send every request of ``workload`` to one of ``spec.model_names``.

    Arrival times and the optional columns (SLOs, token counts) are kept; only the model of
    each request changes. No request is dropped.

    Parameters
    ----------
    workload
        The trace, read by one of the readers in :mod:`workloads.traces`.
    spec
        The target models and the policy (module docstring); ``spec.seed`` seeds the
        ``power-law`` draw.

    Returns
    -------
    RequestMapping
        The mapped workload, the policy used and the requests per model.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 1.0, 2.0, 3.0], model="llm",
    ...                          prompt_tokens=[900, 10, 50, 400])
    >>> r = map_requests(w, StreamMapping(model_names=("a", "b")))
    >>> r.policy, r.workload.models_of().tolist()
    ('round-robin', ['a', 'b', 'a', 'b'])
    >>> map_requests(w, StreamMapping(model_names=("short", "long"), policy="prompt-buckets")
    ...              ).workload.models_of().tolist()
    ['long', 'short', 'short', 'long']
    """
    policy = _resolve(workload, spec)
    codes = _codes(workload, spec, policy)
    mapped = Workload.from_arrays(
        arrival=workload.arrival, model=codes.astype(np.int64), model_names=spec.model_names,
        **{c: getattr(workload, c) for c in OPTIONAL_COLUMNS if getattr(workload, c) is not None})
    counts = np.bincount(codes, minlength=len(spec.model_names)) if len(codes) \
        else np.zeros(len(spec.model_names), dtype=np.int64)
    per_model = {name: int(c) for name, c in zip(spec.model_names, counts, strict=True)}
    empty = [n for n, c in per_model.items() if c == 0]
    if empty:
        logger.warning("mapping %s left %d of %d models without requests: %s", policy,
                       len(empty), len(per_model), empty[:5])
    return RequestMapping(workload=mapped, policy=policy, requests_per_model=per_model)
