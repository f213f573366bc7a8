"""Sphinx configuration of the release notes (``tox -e releasenotes``).

The notes are read by reno from ``releasenotes/notes`` through git. The
version in the titles is the package's own, read from
``panko_like/__init__.py`` without importing the package (the
environment does not install it).
"""

import ast
import os

_INIT = os.path.join(os.path.dirname(__file__), "..", "..", "panko_like",
                     "__init__.py")


def _package_version() -> str:
    with open(_INIT, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if (isinstance(node, ast.Assign)
                and any(getattr(t, "id", None) == "__version__"
                        for t in node.targets)):
            return ast.literal_eval(node.value)
    raise RuntimeError(f"no __version__ in {_INIT}")


project = "panko_like"
author = "panko_like developers"
copyright = "panko_like developers"
release = _package_version()
version = release

extensions = ["reno.sphinxext"]

exclude_patterns = ["_build"]
html_theme = "alabaster"
html_title = f"panko_like {release} release notes"
html_static_path = []
html_show_sourcelink = False
