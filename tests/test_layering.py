"""The import layering is one-way at module level (see ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workloads", "alpaserve", "simulator", "placement")
APP_MODULES = ("alpaserve.cli", "alpaserve.runtime", "alpaserve.sweep", "alpaserve.__main__")
LAZY_ONLY = ("jax", "jaxlib", "ray", "pandas", "pyarrow", "highspy")

# Layer of each part, and which layers it may import at module level.
ALLOWED = {
    "workloads": {"workloads"},
    "core": {"workloads", "core"},
    "simulator": {"workloads", "core", "simulator"},
    "placement": {"workloads", "core", "simulator", "placement"},
    "app": {"workloads", "core", "simulator", "placement", "app"},
}


def layer_of(module: str) -> str | None:
    top = module.split(".")[0]
    if top == "alpaserve":
        return "app" if module.startswith(APP_MODULES) else "core"
    return top if top in PACKAGES else None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_level_imports(path: Path) -> list[tuple[int, str]]:
    """Imports executed when the module loads (top level, including if/try blocks)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.extend((node.lineno, a.name) for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((node.lineno, node.module))
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                continue  # never executed: names for type checkers only
            elif isinstance(node, ast.If | ast.Try | ast.With):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, field, []):
                        visit(child.body if isinstance(child, ast.ExceptHandler) else [child])

    visit(tree.body)
    return found


def source_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_every_package_has_sources() -> None:
    for pkg in PACKAGES:
        assert (ROOT / pkg / "__init__.py").is_file(), pkg


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_back_edges(path: Path) -> None:
    here = layer_of(module_name(path))
    assert here is not None
    for line, imported in module_level_imports(path):
        there = layer_of(imported)
        if there is not None:
            assert there in ALLOWED[here], (
                f"{path.relative_to(ROOT)}:{line} ({here}) imports {imported} ({there})")
        assert imported.split(".")[0] not in LAZY_ONLY, (
            f"{path.relative_to(ROOT)}:{line} imports optional {imported} at module level")


def test_layer_rules_catch_a_back_edge(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nif True:\n    from placement import plan\n")
    imports = module_level_imports(bad)
    assert (3, "placement") in imports
    assert layer_of("placement") not in ALLOWED["simulator"]
    assert layer_of("alpaserve.cli.demo_cmd") == "app"
    assert layer_of("alpaserve.cost.model") == "core"


def test_import_alpaserve_is_light() -> None:
    code = ("import sys, alpaserve; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('simulator', 'placement', 'jax', 'ray', 'pandas', 'matplotlib') "
            "or m.startswith(('alpaserve.cli', 'alpaserve.runtime'))); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_lazy_entry_points_resolve_and_are_exported() -> None:
    # in a fresh interpreter: every lazy name loads from its module, the LLM path included
    code = ("import alpaserve, importlib; "
            "bad = [n for n, m in alpaserve._LAZY.items() "
            "if getattr(alpaserve, n) is not getattr(importlib.import_module(m), n) "
            "or n not in alpaserve.__all__ or n not in dir(alpaserve)]; "
            "from alpaserve import LLMDeployment, LLMPlanProblem, plan_llm, simulate_llm; "
            "print(bad, simulate_llm.__module__, plan_llm.__module__, "
            "LLMDeployment.__module__, LLMPlanProblem.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.split() == ["[]", "simulator.llm.simulate", "placement.llm.search",
                                  "simulator.llm.config", "placement.llm.problem"]
