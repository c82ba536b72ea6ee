"""The fast engine: numba-compiled kernels, their drivers, time-parallel runs and exact
order statistics. :mod:`simulator.reference` is the SimPy engine they are checked against.
"""
