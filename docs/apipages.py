"""Write the API reference's pages: one per package, listing its public modules.

Run by ``conf.py`` on every build, so a module added, moved or renamed is documented without
editing the pages; the pages (``docs/api/``) are build output and not kept in git.
"""

from __future__ import annotations

from pathlib import Path

PACKAGES = ("workloads", "alpaserve", "simulator", "placement")
# The application shell above the placer (see ARCHITECTURE.md); the rest of alpaserve is core.
APP = ("alpaserve.cli", "alpaserve.runtime", "alpaserve.sweep")
LAYERS = (("Workloads", "workloads"), ("Core", "core"), ("Simulator", "simulator"),
          ("Placement", "placement"), ("Application", "app"))


def public_packages(root: Path) -> list[str]:
    """Dotted names of the public packages (folders with ``__init__.py``) of the project."""
    names = []
    for top in PACKAGES:
        for init in sorted((root / top).rglob("__init__.py")):
            parts = init.parent.relative_to(root).parts
            if not any(p.startswith("_") for p in parts):
                names.append(".".join(parts))
    return names


def public_modules(root: Path, package: str) -> list[str]:
    """Dotted names of a package's public modules (not its subpackages)."""
    folder = root.joinpath(*package.split("."))
    return [f"{package}.{p.stem}" for p in sorted(folder.glob("*.py"))
            if not p.stem.startswith("_")]


def layer_of(package: str) -> str:
    """The layer a package belongs to: a key of :data:`LAYERS`."""
    if package.startswith(APP):
        return "app"
    top = package.split(".")[0]
    return "core" if top == "alpaserve" else top


def _title(text: str, underline: str) -> list[str]:
    return [f"``{text}``", underline * (len(text) + 4), ""]


def package_page(root: Path, package: str) -> str:
    """The page of one package: its own docstring and members, then each module."""
    # ignore-module-all: a package's __all__ lists re-exports, documented in their modules.
    lines = [*_title(package, "="), f".. automodule:: {package}", "   :ignore-module-all:", ""]
    for module in public_modules(root, package):
        lines += [*_title(module, "-"), f".. automodule:: {module}", ""]
    return "\n".join(lines)


def toc_page(packages: list[str]) -> str:
    """One toctree per layer, bottom layer first (included by ``index.rst``)."""
    lines = []
    for caption, layer in LAYERS:
        members = [p for p in packages if layer_of(p) == layer]
        if members:
            lines += [".. toctree::", "   :maxdepth: 1", f"   :caption: {caption}", ""]
            lines += [f"   api/{p}" for p in members] + [""]
    return "\n".join(lines)


def write_pages(root: Path, out: Path) -> list[str]:
    """Write ``out/<package>.rst`` for every package and ``out/toc.rst``; drop stale pages.

    Returns the packages written. A page whose text is unchanged is not rewritten, so
    Sphinx's incremental builds stay incremental.
    """
    out.mkdir(parents=True, exist_ok=True)
    packages = public_packages(root)
    pages = {f"{p}.rst": package_page(root, p) for p in packages}
    pages["toc.rst"] = toc_page(packages)
    for stale in set(f.name for f in out.glob("*.rst")) - set(pages):
        (out / stale).unlink()
    for name, text in pages.items():
        path = out / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return packages
