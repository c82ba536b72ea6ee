"""SpotServe's core: the parallel-configuration space and optimizer, deployments on a
changing fleet, instance hardware and prices, and the Kuhn-Munkres migration plan.

The simulation of a spot fleet is in :mod:`simulator.spot`; the policies that decide
re-parallelization are in :mod:`placement.spot`.
"""
