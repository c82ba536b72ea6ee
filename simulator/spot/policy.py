"""The seam between the spot simulator and the policies that reconfigure it.

The simulator calls ``policy.decide(context)`` whenever the fleet or the arrival rate
changes, and applies the :class:`Reconfiguration` it returns. Policies live in a higher
layer (``placement.spot.policies``); the simulator only knows this protocol.

Semantics of a reconfiguration applied at ``context.now``:

* replicas listed in ``kept`` as ``(old, new)`` keep serving without interruption;
* every other old replica serves normally until ``stop_at``, when its in-flight batch is
  cut: requests that finished by then are done; the rest commit the tokens decoded so far.
  Old replica ``i``'s batch then resumes with its KV cache on new replica ``carry[i]`` when
  that replica is ready; a batch not carried goes back to the front of the queue, keeping
  its committed tokens (its KV cache is recomputed by a prefill over prompt + committed)
  when ``keep_progress``, else restarting from scratch;
* new replica ``j`` serves from ``ready_at[j]`` (kept replicas: ignored).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from alpaserve.errors import SimulationError
from alpaserve.spot.deployment import Deployment, DeviceKey


@dataclass(frozen=True, kw_only=True)
class PolicyContext:
    """What a policy sees when asked to decide.

    Parameters
    ----------
    now : float
        Seconds.
    reasons : frozenset of str
        Why the simulator asks: ``add``, ``notice``, ``remove``, ``rate``, ``queue``,
        ``target``.
    usable : tuple of DeviceKey
        Devices alive and not announced to leave.
    leaving : mapping of DeviceKey to float
        Devices under notice, to their removal time (s).
    current : Deployment, optional
        The deployment serving now.
    kv_tokens : tuple of int
        ``kv_tokens[i]``: context tokens cached by current replica ``i``'s in-flight batch.
    arrival_rate : float
        Requests/s measured over the simulator's rate window.
    throughput_target : float, optional
        Requests/s the optimizer must reach: the trace's or the options' ``required_tpt``,
        else the measured rate with headroom, plus what drains the queue in time. ``None``:
        use ``arrival_rate``.
    queued : int
        Requests waiting in the queue.
    """

    now: float
    reasons: frozenset[str]
    usable: tuple[DeviceKey, ...]
    leaving: Mapping[DeviceKey, float] = field(default_factory=lambda: MappingProxyType({}))
    current: Deployment | None = None
    kv_tokens: tuple[int, ...] = ()
    arrival_rate: float = 0.0
    throughput_target: float | None = None
    queued: int = 0

    @property
    def target(self) -> float:
        """The throughput (requests/s) to plan for: ``throughput_target``, else
        ``arrival_rate``."""
        return self.arrival_rate if self.throughput_target is None else self.throughput_target

    @property
    def deadline(self) -> float | None:
        """The earliest removal (s) among the current deployment's devices, or ``None``."""
        if self.current is None:
            return None
        times = [self.leaving[d] for d in self.current.devices if d in self.leaving]
        return min(times) if times else None


@dataclass(frozen=True, kw_only=True)
class Reconfiguration:
    """A policy's answer; see the module docstring for its semantics.

    Parameters
    ----------
    deployment : Deployment or None
        The new deployment (``None``: serve nothing).
    stop_at : float
        When the old replicas not kept stop, seconds.
    ready_at : tuple of float
        When each new replica starts serving, seconds (kept ones: ignored).
    kept : tuple of (int, int)
        ``(old, new)`` replicas that serve on without interruption.
    carry : tuple of int or None
        ``carry[i]``: the new replica resuming old replica ``i``'s batch with its KV cache.
    keep_progress : bool
        Whether batches not carried keep their committed tokens.
    moved_bytes : float
        Bytes moved, reported in the metrics.
    transfer_time : float
        Seconds of transfers, reported in the metrics.
    note : str
        Free text for the record.
    """

    deployment: Deployment | None
    stop_at: float
    ready_at: tuple[float, ...] = ()
    kept: tuple[tuple[int, int], ...] = ()
    carry: tuple[int | None, ...] = ()
    keep_progress: bool = False
    moved_bytes: float = 0.0
    transfer_time: float = 0.0
    note: str = ""


class SpotPolicy(Protocol):
    """Chooses the deployment of a changing fleet.

    ``stateful`` says whether requests keep their committed tokens when a device vanishes
    under them without a plan (the front end still knows the tokens it streamed).
    """

    @property
    def name(self) -> str: ...

    @property
    def stateful(self) -> bool: ...

    def decide(self, context: PolicyContext) -> Reconfiguration | None:
        """The reconfiguration to apply now.

        Parameters
        ----------
        context : PolicyContext
            The fleet, the deployment and the load now.

        Returns
        -------
        Reconfiguration or None
            ``None`` keeps the current deployment.
        """
        ...


def check_reconfiguration(d: Reconfiguration, ctx: PolicyContext, *, policy: str,
                          replicas: int) -> None:
    """Refuse a decision whose shape does not match the fleet it is applied to.

    Parameters
    ----------
    d : Reconfiguration
        The policy's decision.
    ctx : PolicyContext
        What the policy was shown (its usable devices).
    policy : str
        The policy's name, for the message.
    replicas : int
        Replicas serving before the decision.

    Returns
    -------
    None

    Raises
    ------
    SimulationError
        Carry entries for a different number of replicas, ready times for a different
        number of new replicas (unless all are kept), or devices that are not usable.
    """
    new = d.deployment
    n_new = new.config.data if new is not None else 0
    if len(d.carry) not in (0, replicas):
        raise SimulationError(f"policy {policy!r} gave {len(d.carry)} carry entries for "
                              f"{replicas} replicas")
    if len(d.ready_at) != n_new and len({j for _, j in d.kept}) != n_new:
        raise SimulationError(f"policy {policy!r} gave {len(d.ready_at)} ready times for "
                              f"{n_new} replicas")
    if new is not None:
        bad = set(new.devices) - set(ctx.usable)
        if bad:
            raise SimulationError(f"policy {policy!r} placed replicas on devices that are "
                                  f"not usable: {sorted(bad)[:4]}")
