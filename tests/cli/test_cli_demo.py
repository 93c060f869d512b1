"""``sepconv demo``: the story, the figures, and a folder it may replace (runs twice)."""

from __future__ import annotations

import pytest

from sepconv.cli import io
from sepconv.cli.main import main

from .conftest import files_in

FIGURES = [io.MARKER, "1-sobel-edges.png", "2-log-low-rank.png", "3-mults-vs-kernel-size.png"]


@pytest.mark.slow
def test_demo_tells_the_story_twice(tmp_path, capsys):
    out = tmp_path / "demo"
    for _ in range(2):  # the second run replaces the first run's folder
        assert main(["demo", "--out", str(out)]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert files_in(out) == FIGURES
    text = "\n".join(lines)
    assert lines[0] == f"sepconv demo: separable convolutions, on scikit-image's camera (512×512, uint8); " \
                       f"figures in {out}/"
    assert ("is the outer product of [1, 2, 1]ᵀ and [-1, 0, 1]: 9 multiplications per pixel directly, "
            "6 as two 1-D passes.") in lines
    assert "    [1, -2, 1]ᵀ ⊗ [0, 1, 0] + [0, 1, 0]ᵀ ⊗ [1, -2, 1]" in lines
    assert "52 multiplications instead of 169." in text
    assert ("12×12×3 input, 5×5 kernels, 256 filters, no padding → 8×8×256: 1,228,800 multiplications "
            "normally, 4,800 + 49,152 = 53,952 depthwise separable (22.8× fewer).") in lines
    assert ("12×12×3 input, 5×5 kernels, 256 filters, 'same' padding → 12×12×256: 2,764,800 "
            "multiplications normally, 10,800 + 110,592 = 121,392 depthwise separable (22.8× fewer).")\
        in lines
    assert text.count("(sepconv.cost agrees).") == 2
    assert "Depth multiplier 2: the depthwise step gives 8×8×6" in text
    assert "The catch: 843 weights instead of 19,200" in text
    assert lines[-2] == "Figures: 1-sobel-edges.png, 2-log-low-rank.png, 3-mults-vs-kernel-size.png"
    for name in FIGURES[1:]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_refuses_a_folder_it_did_not_make(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["demo", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"sepconv: error: --out: expected a new or empty folder, or one made by sepconv demo, received "
        f"'{tmp_path}'; choose another --out, or empty this folder yourself\n")
    assert files_in(tmp_path) == ["notes.txt"]


def test_depthwise_story_without_torch(monkeypatch):
    from sepconv.cli import demo_layers

    def no_torch(padding: str, m: int) -> object:
        raise ImportError("No module named 'torch'")

    monkeypatch.setattr(demo_layers, "with_torch", no_torch)
    lines: list[str] = []
    demo_layers.depthwise_story(lines.append)
    assert lines[0].startswith("(PyTorch is not installed, so sepconv's NumPy functions compute the layers")
    assert lines[2] == ("    computed by sepconv.depthwise_separable (NumPy): depthwise 8×8×3 × 25 = 4,800, "
                        "pointwise 8×8×256 × 3 = 49,152; the normal layer's 8×8×256 × 75 = 1,228,800 "
                        "(sepconv.cost agrees).")
    assert "Depth multiplier 2: the depthwise step gives 8×8×6" in lines[-2]
