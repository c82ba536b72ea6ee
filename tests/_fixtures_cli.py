"""Helpers shared by the command-line chain tests (``tests/test_cli_chains.py``,
``tests/test_cli_readme.py``)."""

from __future__ import annotations

import json


def strict_loads(text: str) -> object:
    """JSON that a strict parser accepts (``NaN``/``Infinity`` are rejected)."""
    def reject(token: str) -> None:
        raise ValueError(f"not JSON: {token}")
    return json.loads(text, parse_constant=reject)
