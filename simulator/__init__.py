"""Discrete-event serving simulator (see ``simulator/semantics.py`` once it lands)."""
