"""Placements as the evaluator takes them, and what it returns.

A placement is a list of :class:`Replica` (model, group, stage latencies, optional time
window) or, sorted by (model, group), :class:`ReplicaArrays`; a :class:`Move` is a one-step
change of a base placement. :class:`EvalOutcome` and :class:`DetailedOutcome` are the
evaluator's results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from placement.incremental import RunTrace


@dataclass(frozen=True, kw_only=True)
class Replica:
    """Model ``model`` (an index) served by group ``group`` with these stage latencies.

    Parameters
    ----------
    model : int
        Index into the evaluator's model names.
    group : int
        Index into the evaluator's groups.
    latencies : tuple of float
        Stage latencies in seconds, one per stage of the group (already inflated).
    active_from, active_until : float
        The replica takes requests arriving in ``[active_from, active_until)`` seconds;
        default always.
    ready_at : float
        Seconds before which the replica cannot start work (a model load); default
        ``-inf``.

    Examples
    --------
    >>> from placement.evaluator import Evaluator, prepare_workload
    >>> from workloads.workload import Workload
    >>> w = Workload.from_arrays(arrival=[0.0, 1.0], model=["a", "a"])
    >>> ev = Evaluator(prepare_workload(w, ["a"], slo=0.5), group_stages=[1])
    >>> ev.evaluate([Replica(model=0, group=0, latencies=(0.1,), ready_at=0.5)]).good
    1
    """

    model: int
    group: int
    latencies: tuple[float, ...]
    active_from: float = -math.inf
    active_until: float = math.inf
    ready_at: float = -math.inf


@dataclass(frozen=True, kw_only=True)
class Move:
    """A one-step change of a base placement: drop base replica ``skip`` and/or add one.

    Parameters
    ----------
    skip : int
        Index of the base replica to drop, in sorted (model, group) order; -1 for none.
    add_model : int
        Model index of the replica to add; -1 for none.
    add_group : int
        Group index of the replica to add.
    add_latencies : tuple of float
        Its stage latencies in seconds, one per stage of ``add_group``.

    Examples
    --------
    See :meth:`placement.evaluator.Evaluator.evaluate_moves`.
    """

    skip: int = -1
    add_model: int = -1
    add_group: int = -1
    add_latencies: tuple[float, ...] = ()


@dataclass(frozen=True, kw_only=True, eq=False)
class ReplicaArrays:
    """Replicas as flat arrays sorted by (model, group); ``ptr`` is the per-model CSR index.

    Build one with :meth:`build` or :meth:`placement.evaluator.Evaluator.arrays`.

    Parameters
    ----------
    model, group : numpy.ndarray of int64, shape (R,)
        Per replica: its model and group index.
    latencies : numpy.ndarray of float64, shape (R, S)
        Per replica: stage latencies in seconds, zero-padded to the widest group.
    ptr : numpy.ndarray of int64, shape (M + 1,)
        Model ``m``'s replicas are ``ptr[m]:ptr[m + 1]``.
    active_from, active_until, ready_at : numpy.ndarray of float64, shape (R,)
        Per replica: as in :class:`Replica`, in seconds.

    Examples
    --------
    See :meth:`build`.
    """

    model: npt.NDArray[np.int64]
    group: npt.NDArray[np.int64]
    latencies: npt.NDArray[np.float64]
    ptr: npt.NDArray[np.int64]
    active_from: npt.NDArray[np.float64]
    active_until: npt.NDArray[np.float64]
    ready_at: npt.NDArray[np.float64]

    @classmethod
    def build(cls, *, model: npt.NDArray[np.int64], group: npt.NDArray[np.int64],
              latencies: npt.NDArray[np.float64], num_models: int,
              active_from: npt.NDArray[np.float64] | None = None,
              active_until: npt.NDArray[np.float64] | None = None,
              ready_at: npt.NDArray[np.float64] | None = None) -> ReplicaArrays:
        """From arrays already sorted by (model, group).

        Parameters
        ----------
        model, group : numpy.ndarray of int64, shape (R,)
            Per replica: its model and group index.
        latencies : numpy.ndarray of float64, shape (R, S)
            Per replica: stage latencies in seconds, zero-padded.
        num_models : int
            Models the ``ptr`` index covers.
        active_from, active_until, ready_at : numpy.ndarray of float64, optional
            Per replica, in seconds; default ``-inf``, ``inf`` and ``-inf``.

        Returns
        -------
        ReplicaArrays
            The arrays, contiguous, with ``ptr`` computed.

        Examples
        --------
        >>> ra = ReplicaArrays.build(model=np.array([0, 2]), group=np.array([0, 0]),
        ...                          latencies=np.ones((2, 1)), num_models=3)
        >>> ra.ptr.tolist(), ra.size
        ([0, 1, 1, 2], 2)
        """
        n = model.shape[0]
        ptr = np.zeros(num_models + 1, dtype=np.int64)
        np.cumsum(np.bincount(model, minlength=num_models), out=ptr[1:])
        return cls(model=np.ascontiguousarray(model, dtype=np.int64),
                   group=np.ascontiguousarray(group, dtype=np.int64),
                   latencies=np.ascontiguousarray(latencies, dtype=np.float64), ptr=ptr,
                   active_from=np.full(n, -math.inf) if active_from is None else active_from,
                   active_until=np.full(n, math.inf) if active_until is None else active_until,
                   ready_at=np.full(n, -math.inf) if ready_at is None else ready_at)

    @property
    def size(self) -> int:
        """Number of replicas."""
        return int(self.model.shape[0])


@dataclass(frozen=True, kw_only=True, eq=False)
class EvalOutcome:
    """Good requests overall, per model and per replica (in :class:`ReplicaArrays` order).

    Parameters
    ----------
    good : int
        Requests served within their SLO.
    good_per_model : numpy.ndarray of int64, shape (M,)
        Good requests per model.
    good_per_replica : numpy.ndarray of int64, shape (R,)
        Good requests per replica, in the order of ``arrays``.
    arrays : ReplicaArrays
        The placement evaluated.
    trace : RunTrace, optional
        What the run did request by request; a later evaluation of a similar placement
        re-simulates only what differs (see :mod:`placement.incremental`).

    Examples
    --------
    >>> from placement.evaluator import Evaluator, prepare_workload
    >>> from workloads.workload import Workload
    >>> w = Workload.from_arrays(arrival=[0.0, 0.05, 1.0], model=["a", "a", "b"])
    >>> ev = Evaluator(prepare_workload(w, ["a", "b"], slo=0.12), group_stages=[1])
    >>> out = ev.evaluate([Replica(model=m, group=0, latencies=(0.1,)) for m in (0, 1)])
    >>> out.good, out.good_per_model.tolist(), out.good_per_replica.tolist()
    (2, [1, 1], [1, 1])
    """

    good: int
    good_per_model: npt.NDArray[np.int64]
    good_per_replica: npt.NDArray[np.int64]
    arrays: ReplicaArrays
    trace: RunTrace | None = None


@dataclass(frozen=True, kw_only=True, eq=False)
class DetailedOutcome:
    """Per-request status (0 served, 1 dropped, 2 unserved), start, finish and group.

    Parameters
    ----------
    status : numpy.ndarray of int8, shape (n,)
        0 served, 1 dropped, 2 unserved.
    start, finish : numpy.ndarray of float64, shape (n,)
        Stage-0 start and finish in seconds (finish includes the overhead); NaN unless
        served.
    group : numpy.ndarray of int32, shape (n,)
        The group dispatched to; -1 when unserved.
    good : int
        Requests served within their SLO.

    Examples
    --------
    See :meth:`placement.evaluator.Evaluator.detailed`.
    """

    status: npt.NDArray[np.int8]
    start: npt.NDArray[np.float64]
    finish: npt.NDArray[np.float64]
    group: npt.NDArray[np.int32]
    good: int
