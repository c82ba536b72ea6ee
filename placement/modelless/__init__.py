"""INFaaS's per-query variant selection and autoscaling policies, their configuration, and
the experiment driver that compares them with fixed variants.
"""
