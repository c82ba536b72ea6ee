"""Arrival processes, multi-model mixes and production-trace readers.

The bottom layer of the library: it imports nothing else from the project.
"""

from workloads._rng import SeedLike, as_generator, spawn
from workloads.arrivals import (
    ArrivalProcess,
    DeterministicProcess,
    GammaProcess,
    ParetoProcess,
    UniformProcess,
    poisson,
)
from workloads.errors import AlpaServeError, TraceFormatError, WorkloadError
from workloads.function_mapping import (
    FunctionMapping,
    MappingPolicy,
    MappingResult,
    map_functions,
)
from workloads.mixes import (
    MixSpec,
    generate_mix,
    mix_processes,
    power_law_shares,
    workload_from_process,
)
from workloads.mmpp import MMPPProcess
from workloads.rescale import RescaleResult, RescaleSpec, rescale, scale_time
from workloads.stats import (
    ModelSummary,
    WindowStats,
    WorkloadSummary,
    interarrival_cv,
    summarize,
    window_stats,
    window_stats_by_model,
)
from workloads.storage import StorageFormat, load_workload, pyarrow_available, save_workload
from workloads.traces import (
    AzureFunctions2019Spec,
    AzureFunctions2021Spec,
    AzureLLMSpec,
    GenericCsvSpec,
    TraceReadResult,
    azure_functions_2019_paths,
    read_azure_functions_2019,
    read_azure_functions_2021,
    read_azure_llm,
    read_generic_csv,
    write_generic_csv,
)
from workloads.workload import Workload

__all__ = [
    "AlpaServeError",
    "ArrivalProcess",
    "AzureFunctions2019Spec",
    "AzureFunctions2021Spec",
    "AzureLLMSpec",
    "DeterministicProcess",
    "FunctionMapping",
    "GammaProcess",
    "GenericCsvSpec",
    "MMPPProcess",
    "MappingPolicy",
    "MappingResult",
    "MixSpec",
    "ModelSummary",
    "ParetoProcess",
    "RescaleResult",
    "RescaleSpec",
    "SeedLike",
    "StorageFormat",
    "TraceFormatError",
    "TraceReadResult",
    "UniformProcess",
    "WindowStats",
    "Workload",
    "WorkloadError",
    "WorkloadSummary",
    "as_generator",
    "azure_functions_2019_paths",
    "generate_mix",
    "interarrival_cv",
    "load_workload",
    "map_functions",
    "mix_processes",
    "poisson",
    "power_law_shares",
    "pyarrow_available",
    "read_azure_functions_2019",
    "read_azure_functions_2021",
    "read_azure_llm",
    "read_generic_csv",
    "rescale",
    "save_workload",
    "scale_time",
    "spawn",
    "summarize",
    "window_stats",
    "window_stats_by_model",
    "workload_from_process",
    "write_generic_csv",
]
