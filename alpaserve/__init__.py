"""alpaserve: plan and simulate model-parallel serving of deep-learning models.

``import alpaserve`` loads only the core layer (specs, cost model, profiles, parallel
configs). The simulator and the placement search live in the top-level ``simulator`` and
``placement`` packages and are imported on demand.
"""

from importlib.metadata import PackageNotFoundError, version

from alpaserve.cluster_spec import ClusterSpec, Mesh, homogeneous_cluster
from alpaserve.device_spec import DeviceSpec, device_preset
from alpaserve.errors import (
    AlpaServeError,
    ExecutionError,
    InfeasibleError,
    PlacementError,
    ProfileError,
    SimulationError,
    SolverError,
    SpecError,
    TraceFormatError,
    WorkloadError,
)
from alpaserve.model_spec import ModelSpec, model_preset
from alpaserve.parallel_config import ParallelConfig, StageConfig
from alpaserve.placement_spec import Group, Placement
from alpaserve.profiles import ProfileDB, ProfileEntry

try:
    __version__ = version("alpaserve")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "AlpaServeError",
    "ClusterSpec",
    "DeviceSpec",
    "ExecutionError",
    "Group",
    "InfeasibleError",
    "Mesh",
    "ModelSpec",
    "ParallelConfig",
    "Placement",
    "PlacementError",
    "ProfileDB",
    "ProfileEntry",
    "ProfileError",
    "SimulationError",
    "SolverError",
    "SpecError",
    "StageConfig",
    "TraceFormatError",
    "WorkloadError",
    "__version__",
    "device_preset",
    "homogeneous_cluster",
    "model_preset",
]
