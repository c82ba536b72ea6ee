"""Event-driven simulation of model-less serving (INFaaS): the cluster of workers and
variant replicas, the selection and autoscaling protocols, options and metrics.
"""
