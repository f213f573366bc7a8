"""Sphinx configuration of the panko_like documentation.

Built by ``tox -e docs``, with warnings as errors. The configuration
and policy references are rendered from the installed package's options
and policy defaults (``oslo_config.sphinxext``, ``oslo_policy.sphinxext``).
"""

import panko_like

project = "panko_like"
author = "panko_like developers"
copyright = "panko_like developers"
release = panko_like.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "oslo_config.sphinxext",
    "oslo_policy.sphinxext",
]

autodoc_member_order = "bysource"
autodoc_typehints = "description"

exclude_patterns = ["_build"]
pygments_style = "sphinx"
html_theme = "alabaster"
html_title = f"panko_like {release}"
html_static_path = []
html_show_sourcelink = False
html_theme_options = {
    "description": "An event store for OpenStack-style deployments",
    "fixed_sidebar": False,
}
html_sidebars = {
    "**": ["about.html", "navigation.html", "searchbox.html"],
}
