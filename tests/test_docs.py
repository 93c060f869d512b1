"""The front page and the documentation sources stay what the docs build expects.

The site itself is built (and its gallery executed) by ``make docs``; these checks are cheap.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("plot_*.py"))


def test_readme_is_a_short_front_page_with_the_quick_start() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= 15_000
    assert "make demo" in text and "make test" in text


def test_readme_links_point_at_files_that_exist() -> None:
    links = re.findall(r"\]\(((?:docs|benchmarks)/[^)#]*)", README.read_text(encoding="utf-8"))
    assert len(links) >= 5
    missing = [link for link in links if not (ROOT / link).exists()]
    assert missing == []


def test_gallery_has_ten_titled_examples_that_draw_a_figure() -> None:
    assert len(EXAMPLES) >= 10
    for path in EXAMPLES:
        source = path.read_text(encoding="utf-8")
        doc = ast.get_docstring(ast.parse(source))
        assert doc is not None, path.name
        title, underline = doc.splitlines()[:2]
        assert set(underline) == {"="} and len(underline) >= len(title), path.name
        assert "plt.subplots(" in source and "plt.show()" in source, path.name
