"""alpaserve: plan and simulate model-parallel serving of deep-learning models.

``import alpaserve`` loads only the core layer (specs, cost model, profiles, parallel
configs). The main entry points of the other layers are importable from here too
(``from alpaserve import plan, simulate, MixSpec``), and so are those of the token-level
path for many LLMs (``from alpaserve import LLMPlanProblem, plan_llm, simulate_llm``); they
load on first access, so a plain ``import alpaserve`` never loads the simulator or the
placer.

Examples
--------
>>> import alpaserve
>>> from alpaserve import MixSpec, plan, simulate
>>> simulate.__module__
'simulator.simulate'
>>> from alpaserve import LLMDeployment, plan_llm, simulate_llm
>>> simulate_llm.__module__, plan_llm.__module__
('simulator.llm.simulate', 'placement.llm.search')
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

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
from alpaserve.group_spec import Group
from alpaserve.model_presets import model_preset
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig, StageConfig
from alpaserve.placement_spec import Placement
from alpaserve.plan_file import PlanFile, load_plan_file
from alpaserve.profiles import ProfileDB, ProfileEntry

if TYPE_CHECKING:
    from alpaserve.cost.model import analytic_profiles
    from alpaserve.llm.plan_file import LLMPlanFile, load_llm_plan_file
    from alpaserve.llm.spec import LLMSpec, llm_preset
    from placement import PlanResult, SearchOptions, plan
    from placement.llm import LLMPlan, LLMPlanProblem, plan_llm
    from simulator import (
        PreparedWorkload,
        SimResult,
        SimulationOptions,
        attainment,
        attainment_many,
        prepare,
        simulate,
    )
    from simulator.llm.config import EngineGroup, LLMDeployment, SchedulerConfig, ServedModel
    from simulator.llm.metrics import LLMMetrics, LLMSummary
    from simulator.llm.result import LLMSimResult
    from simulator.llm.simulate import simulate_llm
    from workloads import GammaProcess, MixSpec, Workload, generate_mix, load_workload

# Entry points of the layers above and beside the core, loaded on first access.
_LAZY = {
    "analytic_profiles": "alpaserve.cost.model",
    "plan": "placement",
    "PlanResult": "placement",
    "SearchOptions": "placement",
    "simulate": "simulator",
    "attainment": "simulator",
    "attainment_many": "simulator",
    "prepare": "simulator",
    "PreparedWorkload": "simulator",
    "SimResult": "simulator",
    "SimulationOptions": "simulator",
    "Workload": "workloads",
    "MixSpec": "workloads",
    "GammaProcess": "workloads",
    "generate_mix": "workloads",
    "load_workload": "workloads",
    # many LLMs on one cluster (token level)
    "LLMSpec": "alpaserve.llm.spec",
    "llm_preset": "alpaserve.llm.spec",
    "LLMPlanFile": "alpaserve.llm.plan_file",
    "load_llm_plan_file": "alpaserve.llm.plan_file",
    "SchedulerConfig": "simulator.llm.config",
    "ServedModel": "simulator.llm.config",
    "EngineGroup": "simulator.llm.config",
    "LLMDeployment": "simulator.llm.config",
    "simulate_llm": "simulator.llm.simulate",
    "LLMSimResult": "simulator.llm.result",
    "LLMSummary": "simulator.llm.metrics",
    "LLMMetrics": "simulator.llm.metrics",
    "LLMPlanProblem": "placement.llm",
    "LLMPlan": "placement.llm",
    "plan_llm": "placement.llm",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'alpaserve' has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


try:
    __version__ = version("alpaserve")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [  # noqa: RUF022 - core names first, then the lazily loaded entry points
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
    "PlanFile",
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
    "load_plan_file",
    "model_preset",
    "GammaProcess",
    "MixSpec",
    "PlanResult",
    "PreparedWorkload",
    "SearchOptions",
    "SimResult",
    "SimulationOptions",
    "Workload",
    "analytic_profiles",
    "attainment",
    "attainment_many",
    "generate_mix",
    "load_workload",
    "plan",
    "prepare",
    "simulate",
    "EngineGroup",
    "LLMDeployment",
    "LLMMetrics",
    "LLMPlan",
    "LLMPlanFile",
    "LLMPlanProblem",
    "LLMSimResult",
    "LLMSpec",
    "LLMSummary",
    "SchedulerConfig",
    "ServedModel",
    "llm_preset",
    "load_llm_plan_file",
    "plan_llm",
    "simulate_llm",
]
