"""Batch runs: resumable parameter sweeps over a process pool or Ray, and the
plan-per-case runner. Application code: it sits above :mod:`placement`.
"""
