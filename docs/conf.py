"""Sphinx configuration for the xgamma documentation (built in CI with warnings as errors)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import xgamma  # noqa: E402

project = "xgamma"
author = "the xgamma developers"
release = xgamma.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]
autosummary_generate = True
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_typehints = "none"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# type names in numpydoc "Parameters" sections that exist in more than one module
napoleon_preprocess_types = True
napoleon_type_aliases = {
    "Observation": "~xgamma.reduction.observation.Observation",
    "path": "~pathlib.Path",
}
exclude_patterns = ["_build", "_generated"]
html_theme = "alabaster"
html_title = f"xgamma {release}"
intersphinx_mapping: dict[str, tuple[str, None]] = {}


def _config_reference(app: object) -> None:
    """Write the configuration reference from the schema (config_reference.rst)."""
    from gen_config_reference import write

    write(Path(__file__).resolve().parent / "config_reference.rst")


def setup(app: object) -> None:
    app.connect("builder-inited", _config_reference)  # type: ignore[attr-defined]
napoleon_use_ivar = True
