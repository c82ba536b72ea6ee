"""Arrival processes, multi-model mixes and production-trace readers.

The bottom layer of the library: it imports nothing else from the project.
"""

from workloads.errors import AlpaServeError, TraceFormatError, WorkloadError
from workloads.workload import Workload

__all__ = ["AlpaServeError", "TraceFormatError", "Workload", "WorkloadError"]
