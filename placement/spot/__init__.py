"""SpotServe's re-parallelization policy and its baselines, and the driver that runs them
over an availability trace.
"""
