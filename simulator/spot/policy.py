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

from alpaserve.spot.deployment import Deployment, DeviceKey


@dataclass(frozen=True, kw_only=True)
class PolicyContext:
    """What a policy sees when asked to decide.

    ``usable`` are the devices alive and not announced to leave; ``leaving`` maps devices
    under notice to their removal time; ``deadline`` is the earliest removal among the
    current deployment's devices (``None`` if none of them leaves). ``kv_tokens[i]`` is the
    context cached by current replica ``i``'s in-flight batch.
    """

    now: float
    reasons: frozenset[str]
    usable: tuple[DeviceKey, ...]
    leaving: Mapping[DeviceKey, float] = field(default_factory=lambda: MappingProxyType({}))
    current: Deployment | None = None
    kv_tokens: tuple[int, ...] = ()
    arrival_rate: float = 0.0

    @property
    def deadline(self) -> float | None:
        if self.current is None:
            return None
        times = [self.leaving[d] for d in self.current.devices if d in self.leaving]
        return min(times) if times else None


@dataclass(frozen=True, kw_only=True)
class Reconfiguration:
    """A policy's answer; see the module docstring for its semantics.

    ``moved_bytes`` and ``transfer_time`` are reported in the run's metrics.
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
        """The reconfiguration to apply now, or ``None`` to keep the current deployment."""
        ...
