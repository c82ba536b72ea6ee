"""The library's exception hierarchy.

::

    AlpaServeError
    ├── WorkloadError (also ValueError)
    │   └── TraceFormatError
    ├── SpecError (also ValueError)       invalid model/device/cluster/config/placement spec
    ├── InfeasibleError                   nothing fits: memory, SLO or device count
    ├── ProfileError (also KeyError)      a profile entry that is missing or malformed
    ├── SolverError                       an ILP that failed or stopped short of optimal
    ├── SimulationError (also ValueError) inputs the simulator cannot run
    ├── PlacementError                    a placement search that cannot proceed
    └── ExecutionError                    a placement that fails to run on real devices

Every message names the offending value.
"""

from __future__ import annotations

from workloads.errors import AlpaServeError, TraceFormatError, WorkloadError

__all__ = [
    "AlpaServeError",
    "ExecutionError",
    "InfeasibleError",
    "PlacementError",
    "ProfileError",
    "SimulationError",
    "SolverError",
    "SpecError",
    "TraceFormatError",
    "WorkloadError",
]


class SpecError(AlpaServeError, ValueError):
    """A model, device, cluster, parallel-config or placement spec that is invalid."""


class InfeasibleError(AlpaServeError):
    """A request that no configuration can satisfy (memory, SLO, device count)."""


class ProfileError(AlpaServeError, KeyError):
    """A profile entry that is missing or malformed."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class SolverError(AlpaServeError):
    """An optimisation solve that failed, or stopped before proving optimality."""


class SimulationError(AlpaServeError, ValueError):
    """Simulator inputs that cannot be run (unknown model, bad SLO, bad options)."""


class PlacementError(AlpaServeError):
    """A placement search that cannot proceed."""


class ExecutionError(AlpaServeError):
    """A placement that fails to build or run on real devices (the runtime)."""
