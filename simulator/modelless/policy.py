"""The seams between the model-less simulator and its policies: queries, decisions, actions.

A :class:`SelectionPolicy` answers each :class:`Query` with a :data:`Decision`
(:class:`Route`, :class:`Load` or :class:`Drop`); an :class:`AutoscalingPolicy` answers every
monitoring interval with a list of :data:`Action`. Both see the cluster through
:class:`~simulator.modelless.cluster.ClusterView` (implemented in ``placement/modelless/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from simulator.modelless.cluster import ClusterView


@dataclass(frozen=True, kw_only=True)
class Query:
    """What a selection policy knows about one query.

    Parameters
    ----------
    index : int
        Position of the query in arrival order.
    task : str
        Task it asks for.
    arrival : float
        Arrival time, seconds.
    slo : float
        Latency SLO, seconds.
    min_accuracy : float
        Accuracy floor, top-1 percent.
    """

    index: int
    task: str
    arrival: float
    slo: float
    min_accuracy: float


# ---------------------------------------------------------------------- decisions
@dataclass(frozen=True, kw_only=True)
class Route:
    """Queue the query on an existing replica. ``fallback`` marks INFaaS's rule 3 (nothing
    qualified): the query counts as a violation whatever its outcome.

    Parameters
    ----------
    replica : int
        Id of a live, accepting replica of the query's task.
    fallback : bool
        Count the query as a violation (a known miss).
    """

    replica: int
    fallback: bool = False


@dataclass(frozen=True, kw_only=True)
class Load:
    """Load ``variant`` (on ``worker``, or on a new worker of its hardware when ``None``)
    and queue the query on the new replica; the query waits for the load.

    Parameters
    ----------
    variant : str
        Name of a variant of the query's task.
    worker : int or None
        A live worker of the variant's hardware with room; None starts a new worker.
    fallback : bool
        Count the query as a violation (a known miss).
    reason : str
        Why, recorded in the scaling events.
    """

    variant: str
    worker: int | None = None
    fallback: bool = False
    reason: str = "select"


@dataclass(frozen=True, kw_only=True)
class Drop:
    """Refuse the query (counted as dropped).

    Parameters
    ----------
    reason : str
        Why, recorded in the scaling events.
    """

    reason: str


Decision = Route | Load | Drop


@dataclass(frozen=True, kw_only=True)
class AddWorker:
    """Start a worker of ``hardware`` (billed from now).

    Parameters
    ----------
    hardware : str
        A hardware type of the registry.
    reason : str
        Why, recorded in the scaling events.
    """
    hardware: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class RemoveWorker:
    """Drain and stop a worker: its replicas take no new queries and it stops when idle.

    Parameters
    ----------
    worker : int
        Id of a live worker.
    reason : str
        Why, recorded in the scaling events.
    """

    worker: int
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class AddReplica:
    """Load ``variant`` of ``task`` on ``worker``.

    Parameters
    ----------
    task : str
        The task.
    variant : str
        A variant of the task.
    worker : int or None
        A live worker of the variant's hardware with room; None starts a new worker.
    reason : str
        Why, recorded in the scaling events.
    """
    task: str
    variant: str
    worker: int | None = None
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class RemoveReplica:
    """Drain a replica: it takes no new queries and unloads once its queue is empty.

    Parameters
    ----------
    replica : int
        Id of a live replica.
    reason : str
        Why, recorded in the scaling events.
    """

    replica: int
    reason: str = ""


Action = AddWorker | RemoveWorker | AddReplica | RemoveReplica


class SelectionPolicy(Protocol):
    """Chooses, per query, where it runs."""

    def select(self, query: Query, cluster: ClusterView) -> Decision:
        """Decide where ``query`` runs.

        Parameters
        ----------
        query : Query
            The query arriving now (``cluster.now``).
        cluster : ClusterView
            The cluster, read-only.

        Returns
        -------
        Decision
            A :class:`Route`, :class:`Load` or :class:`Drop`.
        """
        ...


class AutoscalingPolicy(Protocol):
    """Adjusts replicas and workers every monitoring interval."""

    def autoscale(self, cluster: ClusterView) -> Sequence[Action]:
        """Adjust the cluster; called every ``monitor_interval`` seconds from time 0.

        Parameters
        ----------
        cluster : ClusterView
            The cluster, read-only.

        Returns
        -------
        sequence of Action
            Applied in order; empty to change nothing.
        """
        ...
