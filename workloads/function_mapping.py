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

Separate from :mod:`workloads.mapping` (which maps every request of a workload, and
re-exports these names): the Azure Functions readers need only this ranking of functions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from workloads.errors import WorkloadError

# The name of the module this was split from, so that logging set up for it still applies.
logger = logging.getLogger("workloads.mapping")

__all__ = ["FunctionMapping", "MappingPolicy", "MappingResult", "map_functions"]

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
