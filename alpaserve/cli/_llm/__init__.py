"""Helpers of ``alpaserve llm``: flags, workloads, the plan and simulate commands, tables."""
