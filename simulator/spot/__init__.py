"""Event-driven simulation of LLM serving on a spot fleet whose nodes come and go
(SpotServe): static batches, the policy protocol, options and results.
"""
