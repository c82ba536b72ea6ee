"""The API reference (``make docs``) and the project's metadata files.

The Sphinx build runs with warnings as errors, so a malformed NumPy docstring section
anywhere in the four packages fails it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_every_public_module_has_a_place_in_the_reference() -> None:
    pages = "\n".join(p.read_text() for p in (ROOT / "docs" / "api").glob("*.rst"))
    documented = {line.split("::", 1)[1].strip() for line in pages.splitlines()
                  if line.startswith(".. automodule::")}
    assert public_modules() - documented == set()
    index = (ROOT / "docs" / "index.rst").read_text()
    unlisted = [p.stem for p in (ROOT / "docs" / "api").glob("*.rst")
                if f"api/{p.stem}" not in index]
    assert unlisted == []


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _BUILD, str(ROOT / "docs"), str(tmp_path / "html"),
         str(tmp_path / "doctrees")],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert proc.stderr.strip() == ""  # -q: anything left on stderr is a warning or an error
    assert "HEAVY:\n" in proc.stdout or proc.stdout.rstrip().endswith("HEAVY:")
    assert (tmp_path / "html" / "api" / "alpaserve.cost.html").is_file()


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
