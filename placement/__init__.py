"""Placement algorithms and the ``plan()`` API."""
