"""The studies' figures (PNG through :mod:`sepconv.plots`: Agg canvas, matplotlib imported lazily)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sepconv.plots import new_figure, save

COLORS = {"normal": "tab:blue", "separable": "tab:orange", "depthwise": "tab:orange",
          "spatial": "tab:green"}


def _ratio_ticks(ax: Any, axis: str, values: Sequence[float]) -> None:
    """Plain tick labels (1/4, 1/2, 1, 2, ...) on a log-2 axis spanning ``values``."""
    low, high = math.floor(math.log2(min(values))), math.ceil(math.log2(max(values)))
    ticks = [2.0**e for e in range(low, high + 1)]
    labels = [f"1/{2**-e}" if e < 0 else str(2**e) for e in range(low, high + 1)]
    (ax.set_xticks if axis == "x" else ax.set_yticks)(ticks, labels)


def _panels(count: int, height: float = 4.0) -> tuple[Any, list[Any]]:
    figure = new_figure(5.2 * count, height)
    return figure, list(figure.subplots(1, count, squeeze=False)[0])


def accuracy_bands(path: str | Path, rows: Sequence[dict[str, Any]], x_key: str, xlabel: str) -> Path:
    """One panel per task: mean test accuracy per family over ``x_key``, band from min to max seed."""
    tasks = sorted({r["task"] for r in rows})
    figure, axes = _panels(len(tasks))
    for ax, task in zip(axes, tasks):
        for family in ("normal", "separable"):
            mine = sorted((r for r in rows if r["task"] == task and r["family"] == family),
                          key=lambda r: r[x_key])
            if not mine:
                continue
            x = [r[x_key] for r in mine]
            ax.fill_between(x, [100 * r["min"] for r in mine], [100 * r["max"] for r in mine],
                            color=COLORS[family], alpha=0.2, linewidth=0)
            ax.plot(x, [100 * r["mean"] for r in mine], marker="o", markersize=4,
                    color=COLORS[family], label=f"{family} (mean, min–max of {mine[0]['seeds']} seeds)")
            for r in mine if x_key == "params" else ():
                ax.annotate(str(r["width"]), (r[x_key], 100 * r["mean"]), fontsize=7,
                            textcoords="offset points", xytext=(3, -9), color=COLORS[family])
        ax.set_xscale("log", base=2 if x_key == "width" else 10)
        if x_key == "width":
            widths = sorted({r["width"] for r in rows})
            ax.set_xticks(widths, [str(w) for w in widths])
        ax.set_title(task, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    figure.suptitle(f"Normal vs depthwise separable CNN: accuracy vs {x_key}", fontsize=11)
    return save(figure, path)


def conversion_accuracy(path: str | Path, records: Sequence[dict[str, Any]]) -> Path:
    """One panel per task: accuracy right after conversion and after fine-tuning vs MACs kept."""
    tasks = sorted({r["task"] for r in records})
    figure, axes = _panels(len(tasks))
    for ax, task in zip(axes, tasks):
        mine = [r for r in records if r["task"] == task]
        original = next(r for r in mine if r["form"] == "original")
        ax.axhline(100 * original["accuracy_before"], color="gray", linestyle="--", linewidth=1,
                   label="original")
        for form in ("depthwise", "spatial"):
            rows = sorted((r for r in mine if r["form"] == form), key=lambda r: r["macs"])
            x = [r["macs"] / original["macs"] for r in rows]
            ax.plot(x, [100 * r["accuracy_converted"] for r in rows], marker="o", linestyle=":",
                    color=COLORS[form], label=f"{form}, right after conversion")
            ax.plot(x, [100 * r["accuracy_finetuned"] for r in rows], marker="s",
                    color=COLORS[form], label=f"{form}, after fine-tuning")
            for r, xi in zip(rows, x):  # labels on the spread-out points, right after conversion
                ax.annotate(r["label"], (xi, 100 * r["accuracy_converted"]), fontsize=7,
                            textcoords="offset points", xytext=(4, -10), color=COLORS[form])
        ax.set_xscale("log", base=2)
        _ratio_ticks(ax, "x", [r["macs"] / original["macs"] for r in mine])
        ax.set_title(task, fontsize=10)
        ax.set_xlabel("MACs of the converted model / MACs of the original")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    figure.suptitle("Converting a trained CNN's convolutions to separable ones", fontsize=11)
    return save(figure, path)


def conversion_speed(path: str | Path, records: Sequence[dict[str, Any]]) -> Path:
    """Predicted speed-up (MACs) against measured speed-up (CPU time) of every conversion."""
    figure, (ax,) = _panels(1, height=4.4)
    converted = [r for r in records if r["form"] != "original"]
    for form, marker in (("depthwise", "o"), ("spatial", "s")):
        rows = [r for r in converted if r["form"] == form]
        for task, fill in (("digits", "none"), ("textures", COLORS[form])):
            mine = [r for r in rows if r["task"] == task]
            if mine:
                ax.scatter([r["mac_speedup"] for r in mine], [r["time_speedup"] for r in mine],
                           marker=marker, facecolors=fill, edgecolors=COLORS[form],
                           label=f"{form}, {task}")
    top = max([2.0] + [max(r["mac_speedup"], r["time_speedup"]) for r in converted])
    ax.plot([1 / top, top], [1 / top, top], color="gray", linestyle="--", linewidth=1,
            label="measured = predicted")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    _ratio_ticks(ax, "x", [1 / top, top])
    _ratio_ticks(ax, "y", [1 / top, top])
    ax.set_xlabel("predicted speed-up (original MACs / converted MACs)")
    ax.set_ylabel("measured speed-up (CPU time of a forward pass)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    figure.suptitle("Fewer MACs vs less time", fontsize=11)
    return save(figure, path)
