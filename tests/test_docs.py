"""The API reference (``make docs``) and the project's metadata files.

The Sphinx build runs with warnings as errors, so a malformed NumPy docstring section
anywhere in the four packages fails it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workloads", "alpaserve", "simulator", "placement")

# Builds the reference in a fresh interpreter, then reports whether autodoc's imports pulled
# in a heavy optional dependency (they must be imported inside functions only; highspy is
# left out: pulp, a core dependency, imports it when installed).
_BUILD = """
import sys
from sphinx.cmd.build import build_main
rc = build_main(["-b", "html", "-W", "--keep-going", "-q", "-j", "1", "-d", sys.argv[3],
                 sys.argv[1], sys.argv[2]])
heavy = sorted(m for m in ("jax", "ray", "pandas", "pyarrow") if m in sys.modules)
print("HEAVY:" + ",".join(heavy))
sys.exit(rc)
"""


def _apipages() -> ModuleType:
    """``docs/apipages.py``, the generator of the reference's pages (not a package module)."""
    spec = importlib.util.spec_from_file_location("apipages", ROOT / "docs" / "apipages.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def public_modules() -> set[str]:
    """Dotted names of every public module and package of the four packages."""
    names = set()
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if not any(p.startswith("_") for p in parts):
                names.add(".".join(parts))
    return names


def test_pages_document_every_public_module_once(tmp_path: Path) -> None:
    apipages = _apipages()
    (tmp_path / "stale.rst").write_text("a page of a package that no longer exists")
    packages = apipages.write_pages(ROOT, tmp_path)
    assert not (tmp_path / "stale.rst").exists()
    text = "\n".join(p.read_text() for p in tmp_path.glob("*.rst"))
    documented = [line.split("::", 1)[1].strip() for line in text.splitlines()
                  if line.startswith(".. automodule::")]
    assert sorted(documented) == sorted(public_modules())
    toc = (tmp_path / "toc.rst").read_text()
    assert sorted(line.strip()[4:] for line in toc.splitlines()
                  if line.strip().startswith("api/")) == sorted(packages)
    assert set(packages) == {p for p in public_modules()
                             if (ROOT.joinpath(*p.split(".")) / "__init__.py").is_file()}


def test_pages_group_packages_by_layer() -> None:
    apipages = _apipages()
    layers = {p: apipages.layer_of(p) for p in ("workloads.traces", "alpaserve",
                                                 "alpaserve.cost", "alpaserve.sweep",
                                                 "alpaserve.cli", "simulator.engine",
                                                 "placement.spot")}
    assert layers == {"workloads.traces": "workloads", "alpaserve": "core",
                      "alpaserve.cost": "core", "alpaserve.sweep": "app",
                      "alpaserve.cli": "app", "simulator.engine": "simulator",
                      "placement.spot": "placement"}
    toc = apipages.toc_page(["workloads", "alpaserve", "alpaserve.cli", "simulator"])
    captions = [line.split(":caption:")[1].strip() for line in toc.splitlines()
                if ":caption:" in line]
    assert captions == ["Workloads", "Core", "Simulator", "Application"]


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path: Path) -> None:
    proc = _build(ROOT / "docs", tmp_path)
    # -W: any Sphinx warning makes the exit status non-zero. (Other stderr output, such as
    # matplotlib's one-off font-cache notice on a fresh machine, is not a docs warning.)
    assert proc.returncode == 0, proc.stderr[-5000:]
    heavy = [line for line in proc.stdout.splitlines() if line.startswith("HEAVY:")]
    assert heavy == ["HEAVY:"]  # autodoc's imports loaded none of jax, ray, pandas, pyarrow
    assert (tmp_path / "html" / "api" / "alpaserve.cost.html").is_file()


def _build(source: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _BUILD, str(source), str(out / "html"),
                           str(out / "doctrees")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_a_malformed_docstring_fails_the_build(tmp_path: Path) -> None:
    # The same extensions and settings as docs/conf.py, on one probe module.
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "docprobe.py").write_text('''
def spread(values: list) -> float:
    """Largest minus smallest: |max - min|.

    Parameters
    ----------
    values : list of float
        The values.

    Returns
    -------
    float
        The spread.
    """
    return max(values) - min(values)
''')
    conf = (ROOT / "docs" / "conf.py").read_text()
    settings = conf[conf.index("extensions = ["):conf.index("html_theme")]
    (tmp_path / "src" / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(tmp_path / 'src')!r})\nproject = 'probe'\n"
        + settings)
    (tmp_path / "src" / "index.rst").write_text("Probe\n=====\n\n.. automodule:: docprobe\n")
    proc = _build(tmp_path / "src", tmp_path / "out")
    assert proc.returncode == 1
    assert "docprobe.spread" in proc.stderr
    assert 'Undefined substitution referenced: "max - min"' in proc.stderr


def test_license_is_apache_2() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_citation_names_the_three_papers() -> None:
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] == "software"
    assert cff["title"] == "alpaserve"
    assert cff["license"] == "Apache-2.0"
    refs = {ref["title"]: ref for ref in cff["references"]}
    assert len(refs) == 3
    papers = {(ref["title"].split(":")[0], ref["authors"][0]["family-names"], ref["year"])
              for ref in refs.values()}
    assert papers == {("AlpaServe", "Li", 2023), ("SpotServe", "Miao", 2024),
                      ("INFaaS", "Romero", 2021)}
    venues = {ref["title"].split(":")[0]: ref["conference"]["name"] for ref in refs.values()}
    assert "OSDI" in venues["AlpaServe"]
    assert "ASPLOS" in venues["SpotServe"]
    assert "ATC" in venues["INFaaS"]
    for ref in refs.values():
        assert ref["type"] == "conference-paper"
        assert all("family-names" in a and "given-names" in a for a in ref["authors"])
