"""Matplotlib figures shared by ``sepconv demo`` and the experiments (PNG files, no window).

matplotlib is imported inside each function, and figures are drawn on ``matplotlib.figure.Figure``
objects (the Agg canvas) without pyplot, so nothing global changes and no display is needed.
Text uses mathtext (``$\\sigma$``, ``$k^2$``) rather than rare Unicode glyphs, which some fonts lack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


def new_figure(width: float, height: float) -> Any:
    """A Figure on the Agg canvas (no pyplot, no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save(figure: Any, path: str | Path, dpi: int = 110) -> Path:
    """Write the figure as PNG and return the path."""
    figure.savefig(path, dpi=dpi)
    return Path(path)


def _show(ax: Any, values: np.ndarray, title: str) -> None:
    """Gray for non-negative images; a diverging map centred on 0 for signed ones (edges, kernels).

    Signed images with many pixels are scaled to the 99.5th percentile of |value| (a few strong
    edges would otherwise wash out the rest); small arrays such as kernels to their maximum.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.min() < 0:
        magnitude = np.abs(v)
        top = float(np.percentile(magnitude, 99.5) if v.size > 4096 else magnitude.max()) or 1.0
        ax.imshow(v, cmap="RdBu_r", vmin=-top, vmax=top, interpolation="nearest")
    else:
        ax.imshow(v, cmap="gray", interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def image_row(path: str | Path, panels: Sequence[tuple[str, np.ndarray]], *, title: str = "",
              panel_size: float = 3.2) -> Path:
    """One row of images, each with its title; signed images in blue (-) / red (+)."""
    figure = new_figure(panel_size * len(panels), panel_size + 0.5)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, values) in zip(axes, panels):
        _show(ax, values, name)
    if title:
        figure.suptitle(title, fontsize=11)
    return save(figure, path)


@dataclass(frozen=True)
class LinePanel:
    """One panel of a line chart: ``series`` maps a label to y values over ``x``."""

    title: str
    xlabel: str
    ylabel: str
    x: Sequence[float]
    series: dict[str, Sequence[float]] = field(default_factory=dict)
    logy: bool = False


def line_panels(path: str | Path, panels: Sequence[LinePanel], *, title: str = "") -> Path:
    """Side-by-side line charts with markers and a legend each."""
    figure = new_figure(5.0 * len(panels), 4.0)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        for label, values in panel.series.items():
            ax.plot(panel.x, values, marker="o", markersize=4, label=label)
        if panel.logy:
            ax.set_yscale("log")
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=9)
    if title:
        figure.suptitle(title, fontsize=11)
    return save(figure, path)


__all__ = ["LinePanel", "image_row", "line_panels", "new_figure", "save"]
