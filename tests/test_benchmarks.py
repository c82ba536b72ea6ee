"""The scripts in benchmarks/: every name they import from this project exists.

Benchmarks are not run in the tests (they need ../shared/data or minutes of real time), so
a moved function would only show when someone runs one; this reads each script's imports,
including those inside functions, and resolves them.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "benchmarks").glob("*.py"))
OURS = ("alpaserve", "simulator", "placement", "workloads")


def project_imports(path: Path) -> list[tuple[str, str]]:
    """``(module, name)`` for every ``from <ours> import name`` in the script."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] in OURS:
            found += [(node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names if a.name.split(".")[0] in OURS]
    return found


def test_there_are_benchmarks() -> None:
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_a_benchmarks_imports_resolve(script: Path) -> None:
    missing = []
    for module, name in project_imports(script):
        mod = importlib.import_module(module)
        if name and not hasattr(mod, name):
            try:  # a submodule imported by name
                importlib.import_module(f"{module}.{name}")
            except ModuleNotFoundError:
                missing.append(f"{module}.{name}")
    assert not missing, f"{script.name} imports names that do not exist: {missing}"
