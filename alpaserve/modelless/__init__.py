"""INFaaS's core: model variants, the variant registry, model-less queries and load shapes.

The simulation of model-less serving is in :mod:`simulator.modelless`; the selection and
autoscaling policies are in :mod:`placement.modelless`.
"""
