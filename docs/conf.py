"""Sphinx configuration for the sepconv documentation (``make docs``).

The API pages are generated from each public module's ``__all__`` at every build
(:func:`write_api_pages`), so a name added to ``__all__`` appears without editing the docs.
The build needs no network: the intersphinx inventories are stored in ``docs/_inventories``.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("MPLBACKEND", "Agg")

import sepconv  # noqa: E402

project = "sepconv"
author = "sepconv developers"
copyright = "sepconv developers"
release = version = sepconv.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**/README.md", "**.ipynb", "auto_examples/*.py",
                    "auto_examples/*.md5", "auto_examples/*.json", "auto_examples/*.zip", "conftest.py"]
templates_path = ["_templates"]

# --- MyST: markdown pages (the user guide is markdown; helpers add docs/guide/<topic>.md) ----
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist", "tasklist"]
myst_heading_anchors = 3

# --- autodoc / autosummary / numpydoc ------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# --- intersphinx: stored inventories, no network ---------------------------------------------
# scipy.inv and dask.inv come from Debian's python-scipy-doc / python-dask-doc packages.
# NumPy and PyTorch inventories could not be obtained without the network (no Debian/PyPI
# package ships them), so those mappings are left out.
intersphinx_mapping = {
    "scipy": ("https://docs.scipy.org/doc/scipy/", str(HERE / "_inventories" / "scipy.inv")),
    "dask": ("https://docs.dask.org/en/stable/", str(HERE / "_inventories" / "dask.inv")),
}
intersphinx_timeout = 1

# --- warnings ------------------------------------------------------------------------------
nitpicky = True
# Third-party names that docstrings mention and no stored inventory covers.
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|torch|nn|keras|matplotlib|zarr|tifffile)(\..*)?"),
    (r"py:.*", r"(Tensor|ndarray|ArrayLike|DTypeLike|Module|Path|PathLike|Sequence|Iterator)"),
]

# --- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sepconv {release}"
html_static_path = ["_static"]
html_css_files = ["sepconv.css"]
# Pages without sub-pages get no (empty) left navigation column.
html_sidebars = {name: [] for name in ("index", "getting-started", "experiments", "development")}
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False

# --- sphinx-gallery: executed at every build -----------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "abort_on_example_error": True,
    "default_thumb_file": None,
    "min_reported_time": 1,
    # "Examples using sepconv.X" under each API page (the minigallery in _templates/autosummary).
    "doc_module": ("sepconv",),
    "backreferences_dir": "api/backreferences",
}

# --- API pages from __all__ ----------------------------------------------------------------
PUBLIC_MODULES = ["sepconv", "sepconv.kernels", "sepconv.cost", "sepconv.ndimage", "sepconv.dask",
                  "sepconv.nn", "sepconv.nn.functional"]


def _public_names(module: types.ModuleType) -> list[str]:
    """The module's ``__all__`` minus submodules (they get their own page) and dunder data."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items()
                 if not n.startswith("_") and getattr(v, "__module__", "").startswith(module.__name__)]
    return [n for n in names if not n.startswith("__")
            and not isinstance(getattr(module, n), types.ModuleType)]


def _page(name: str) -> str:
    module = importlib.import_module(name)
    title = f"``{name}``"
    lines = [title, "=" * len(title), "", f".. currentmodule:: {name}", "",
             f".. automodule:: {name}", "   :no-members:", "",
             ".. autosummary::", "   :toctree: generated", "   :nosignatures:", ""]
    lines += [f"   {n}" for n in sorted(_public_names(module), key=str.lower)]
    if name == "sepconv":
        lines += ["", "``sepconv.__version__`` is the version string "
                  f"(``{sepconv.__version__!r}`` here)."]
    return "\n".join(lines) + "\n"


def write_api_pages() -> None:
    """Write ``docs/api/<module>.rst`` for every public module; files change only if needed."""
    out = HERE / "api"
    out.mkdir(exist_ok=True)
    for name in PUBLIC_MODULES:
        path = out / f"{name}.rst"
        text = _page(name)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


write_api_pages()

# --- the user guide's table of contents: every docs/guide/*.md, in reading order -------------
GUIDE_INTRO = """\
# User guide

The library's two halves: spatially separable filtering of images and volumes (NumPy, scipy
drop-ins, Dask, the command line) and depthwise separable layers for neural networks (PyTorch,
Keras weights, conversion of trained networks, deployment). Runnable scripts with figures are in
the [examples](../auto_examples/index.rst).
"""
# Pages named here come first, in this order; any other docs/guide/*.md follows alphabetically,
# so a new page appears without editing this list. Names not present are skipped.
GUIDE_ORDER = ["separability", "fast-filters", "integer-output", "ndimage", "torch",
               "pytorch-layers", "networks", "keras", "fused-layers", "conversion", "deployment",
               "dask", "cli"]


def write_guide_index() -> None:
    """Write ``docs/guide/index.md`` (generated, not in git) listing every guide page."""
    pages = {p.stem for p in (HERE / "guide").glob("*.md")} - {"index"}
    ordered = [n for n in GUIDE_ORDER if n in pages] + sorted(pages - set(GUIDE_ORDER))
    text = GUIDE_INTRO + "\n```{toctree}\n:maxdepth: 2\n\n" + "\n".join(ordered) + "\n```\n"
    path = HERE / "guide" / "index.md"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


write_guide_index()


def check_api_pages(app: Sphinx, exception: Exception | None) -> None:
    """After an HTML build, warn (an error under -W) for any public name without its page."""
    if exception is not None or app.builder.name != "html":
        return
    out = Path(app.outdir) / "api" / "generated"
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for member in _public_names(module):
            if not (out / f"{name}.{member}.html").exists():
                logging.getLogger(__name__).warning("API page missing for %s.%s", name, member)


def setup(app: Sphinx) -> None:
    app.connect("build-finished", check_api_pages)
