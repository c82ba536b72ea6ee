"""Readers of Microsoft Azure's public traces: Azure Functions 2019 and 2021 invocations, and
Azure LLM inference requests (2023 and 2024)."""

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

__all__ = [
    "AzureFunctions2019Spec",
    "AzureFunctions2021Spec",
    "AzureLLMSpec",
    "azure_functions_2019_paths",
    "parse_timestamp_ns",
    "read_azure_functions_2019",
    "read_azure_functions_2021",
    "read_azure_llm",
]
