"""Map a workload's requests onto a fixed set of models.

Ranking whole functions by invocations and dealing them out (:func:`map_functions`) lives in
:mod:`workloads.function_mapping`; its names are re-exported here.

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
from workloads.function_mapping import FunctionMapping, MappingPolicy, MappingResult, map_functions
from workloads.workload import OPTIONAL_COLUMNS, Workload

logger = logging.getLogger(__name__)

__all__ = ["STREAM_POLICIES", "FunctionMapping", "MappingPolicy", "MappingResult",
           "RequestMapping", "StreamMapping", "map_functions", "map_requests"]

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
