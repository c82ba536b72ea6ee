"""Token-level serving of many LLMs: model shapes, KV-cache sizing and iteration costs.

An LLM server runs *iterations*: each one pushes a batch of tokens (prompt chunks being
prefilled and one token per decoding sequence) through every layer. :mod:`.iteration` holds
the cost of one iteration in a form both simulation engines evaluate identically; the
builders in this package fill it from the analytic roofline model or from measured operator
times.
"""
