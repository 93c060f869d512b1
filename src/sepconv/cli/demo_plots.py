"""The demo's figures: the photo and its edge maps, a low-rank kernel, costs vs kernel size."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sepconv import cost, plots

SIZES = (3, 5, 7, 9, 11, 13, 15)
CHANNELS, FILTERS = 128, 256  # a typical middle layer of a small network


def mults_panels() -> list[plots.LinePanel]:
    """Multiplications per output vs kernel size, from sepconv.cost, for both kinds."""
    spatial = [cost.filter_mults(np.ones((k, k))) for k in SIZES]
    # a k×k×C input with 'valid' padding has exactly one output position
    normal = [cost.conv((k, k, CHANNELS), k, FILTERS).mults for k in SIZES]
    separable = [cost.depthwise_separable((k, k, CHANNELS), k, FILTERS).mults for k in SIZES]
    return [
        plots.LinePanel("spatially separable filter (per pixel)", "kernel size k",
                        "multiplications per output", SIZES,
                        {"direct, $k^2$": [m["direct"] for m in spatial],
                         "separable, $2k$": [m["separable"] for m in spatial]}),
        plots.LinePanel(f"depthwise separable layer, C = {CHANNELS}, N = {FILTERS}", "kernel size k",
                        "multiplications per output position", SIZES,
                        {r"normal, $k^2 C N$": normal,
                         r"depthwise separable, $k^2 C + C N$": separable}, logy=True),
    ]


def write_figures(folder: Path, img: np.ndarray, sobel: dict[str, np.ndarray],
                  log: dict[str, np.ndarray]) -> list[Path]:
    """Write the demo's PNG figures into ``folder`` and return their paths."""
    magnitude = np.hypot(sobel["x"], sobel["y"])
    diff = float(sobel["diff"])
    edges = plots.image_row(folder / "1-sobel-edges.png", [
        ("photo", img), ("Sobel-x, two 1-D passes", sobel["x"]), ("Sobel-y", sobel["y"]),
        ("gradient magnitude", magnitude)],
        title=rf"Sobel-x = $[1, 2, 1]^T \otimes [-1, 0, 1]$: 6 multiplications instead of 9, "
              f"same result to {diff:.1e}")
    lowrank = plots.image_row(folder / "2-log-low-rank.png", [
        (r"LoG, $\sigma$ = 1.4 (13$\times$13)", log["kernel"]), ("separable term 1", log["term1"]),
        ("separable term 2", log["term2"]), ("photo filtered (low-rank plan)", log["filtered"])],
        title="A rank-2 kernel is exactly the sum of two separable terms: 52 multiplications, not 169")
    curves = plots.line_panels(folder / "3-mults-vs-kernel-size.png", mults_panels(),
                               title="Multiplications vs kernel size (sepconv.cost)")
    return [edges, lowrank, curves]
