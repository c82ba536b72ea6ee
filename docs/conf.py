"""Sphinx configuration of the alpaserve API reference (``make docs``)."""

import sys
from pathlib import Path

# Document the working tree, not an installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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
exclude_patterns = ["_build"]
nitpicky = False
