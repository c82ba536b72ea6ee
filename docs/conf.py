"""Sphinx configuration of the alpaserve API reference (``make docs``)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Document the working tree, not an installed copy.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))

from apipages import write_pages  # noqa: E402 (needs the path above)

# One page per package, regenerated from the source tree on every build.
write_pages(ROOT, ROOT / "docs" / "api")

project = "alpaserve"
author = "the alpaserve authors"
copyright = "the alpaserve authors"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "numpydoc",
]

# Members come from autodoc's ``:members:``; numpydoc's own member tables would list each
# attribute a second time.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Only the docstring's sections: the signature already shows the types.
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "alabaster"
html_title = "alpaserve API reference"
exclude_patterns = ["_build", "api/toc.rst"]  # toc.rst is included by index.rst
nitpicky = False
