"""Streaming readers for production traces: Azure Functions 2019 and 2021, Azure LLM
inference 2023/2024 and a generic request CSV.

Every reader returns a :class:`TraceReadResult`: the workload plus the counts of what was
skipped or dropped. A malformed row raises :class:`~workloads.errors.TraceFormatError` naming
the file, line and column, unless ``on_error="skip"`` was asked for.
"""

from workloads.traces._common import OnError, TraceReadResult
from workloads.traces.azure.functions_2019 import (
    AzureFunctions2019Spec,
    azure_functions_2019_paths,
    read_azure_functions_2019,
)
from workloads.traces.azure.functions_2021 import (
    AzureFunctions2021Spec,
    read_azure_functions_2021,
)
from workloads.traces.azure.llm import AzureLLMSpec, parse_timestamp_ns, read_azure_llm
from workloads.traces.generic_csv import GenericCsvSpec, read_generic_csv, write_generic_csv

__all__ = [
    "AzureFunctions2019Spec",
    "AzureFunctions2021Spec",
    "AzureLLMSpec",
    "GenericCsvSpec",
    "OnError",
    "TraceReadResult",
    "azure_functions_2019_paths",
    "parse_timestamp_ns",
    "read_azure_functions_2019",
    "read_azure_functions_2021",
    "read_azure_llm",
    "read_generic_csv",
    "write_generic_csv",
]
