"""The images people filter every day: sepconv beside OpenCV, scipy.ndimage and NumPy, one run.

A grid of sizes (64² to 4096², 1920×1080), dtypes (uint8→uint8, uint16→uint16, float32→float32,
uint8→float32) and filters (Gaussian k = 3, 5, 7, 15, 31; Sobel-x; 5×5 box), all with mirror
borders (OpenCV's default BORDER_REFLECT_101), plus a stack of 1000 32×32 images. Each cell runs
sepconv and its peers alternately in interleaved rounds; the figure is the median over rounds of
the per-round ratio sepconv time ÷ peer time (below 1: sepconv is faster). OpenCV runs with 1 and
with 2 threads (``cv2.setNumThreads`` outside the timed call) and its better time of the round
counts; sepconv and OpenCV get one untimed call before each timing (warm caches for both).
Writes docs/benchmarks/workloads.json and .md (run by ``make bench`` via run_all.py).

    python benchmarks/workloads.py            # 9 rounds (~15 min on 2 shared cores)
    python benchmarks/workloads.py --quick    # the same grid, 5 rounds, slow peers once (~6 min)
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import scipy.ndimage as ndi

import sepconv
from _timing import environment, write_outputs  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[1]
SIZES = [(64, 64), (256, 256), (512, 512), (1080, 1920), (2048, 2048), (4096, 4096)]
PAIRS = [("uint8", "uint8"), ("uint16", "uint16"), ("float32", "float32"), ("uint8", "float32")]
FILTERS = ["gauss3", "gauss5", "gauss7", "gauss15", "gauss31", "sobel", "box5"]
CV_DEPTH = {"uint8": cv2.CV_8U, "uint16": cv2.CV_16U, "float32": cv2.CV_32F}
PEERS = ["opencv", "scipy", "numpy"]
Fn = Callable[[], Any]
# a timing shorter than this repeats the call (64² images take microseconds)
_MIN_TIMING = 2e-3
# peers slower than this per call run in fewer rounds (scipy and NumPy at 4096², k = 31)
_SLOW = 0.25


def weights(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(along y, along x) of a filter: OpenCV's Gaussian for its size, Sobel-x, 5×5 box."""
    if name.startswith("gauss"):
        g = cv2.getGaussianKernel(int(name[5:]), 0).ravel()
        return g, g
    if name == "sobel":
        return np.array([1.0, 2.0, 1.0]), np.array([-1.0, 0.0, 1.0])
    return np.full(5, 0.2), np.full(5, 0.2)


def _shift_add(x: np.ndarray, wy: np.ndarray, wx: np.ndarray, out: np.dtype) -> np.ndarray:
    """NumPy only: mirror-pad (numpy's 'reflect'), sum shifted slices in float32, then cast."""
    y = x.astype(np.float32)
    for axis, w in ((0, wy), (1, wx)):
        k = w.size
        pads = [(0, 0), (0, 0)]
        pads[axis] = (k // 2, k - 1 - k // 2)
        padded = np.pad(y, pads, mode="reflect")
        y = np.zeros(x.shape, np.float32)
        for j, wj in enumerate(w.astype(np.float32)):
            index = [slice(None), slice(None)]
            index[axis] = slice(j, j + x.shape[axis])
            y += wj * padded[tuple(index)]
    if out.kind == "u":
        return np.clip(np.rint(y), 0, np.iinfo(out).max).astype(out)
    return y


def cell_functions(x: np.ndarray, name: str, out: np.dtype) -> tuple[Fn, dict[str, Fn]]:
    """sepconv's call and its peers' for one cell, each returning the filtered image."""
    wy, wx = weights(name)
    depth = CV_DEPTH[out.name]
    border = cv2.BORDER_REFLECT_101
    ours = lambda: sepconv.correlate_separable(x, [wy, wx], mode="mirror", output=out)  # noqa: E731
    if name == "box5":
        cv_fn = lambda: cv2.boxFilter(x, depth, (5, 5), borderType=border)  # noqa: E731
        scipy_fn = lambda: ndi.uniform_filter(x, 5, output=out, mode="mirror")  # noqa: E731
    else:
        cv_fn = lambda: cv2.sepFilter2D(x, depth, wx, wy, borderType=border)  # noqa: E731

        def scipy_fn() -> np.ndarray:
            y = ndi.correlate1d(x, wy, axis=0, output=np.float32, mode="mirror")
            return ndi.correlate1d(y, wx, axis=1, output=out, mode="mirror")

    return ours, {"opencv": cv_fn, "scipy": scipy_fn,
                  "numpy": lambda: _shift_add(x, wy, wx, out)}


def _repeat(fn: Fn, reps: int) -> Fn:
    def run() -> None:
        for _ in range(reps):
            fn()

    return run


def _clock(fn: Fn, reps: int) -> float:
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps


def _warm_clock(fn: Fn, reps: int) -> float:
    """One untimed call first: every function starts with its input in cache, whichever ran
    before it (scipy and NumPy at 4096² flush the caches: a 1080p uint8 filter timed right
    after them took 2x its warm time, which biased the grid against whoever ran first)."""
    fn()
    return _clock(fn, reps)


def _cv_at(fn: Fn, threads: int, reps: int) -> float:
    cv2.setNumThreads(threads)  # outside the timed call
    return _warm_clock(fn, reps)


def time_cell(ours: Fn, peers: dict[str, Fn], rounds: int, slow_rounds: int) -> dict[str, Any]:
    """Interleaved rounds: ours, OpenCV 1 and 2 threads, scipy, NumPy; per-round ratios."""
    every = {"ours": ours, **peers}
    for fn in every.values():  # the first call loads numba's cached code, OpenCV's pool
        fn()
    warm = {name: _clock(fn, 1) for name, fn in every.items()}
    reps = {name: max(1, int(_MIN_TIMING / max(t, 1e-7))) for name, t in warm.items()}
    times: dict[str, list[float]] = {"ours": [], "opencv 1t": [], "opencv 2t": [],
                                     "scipy": [], "numpy": []}
    for r in range(rounds):
        times["ours"].append(_warm_clock(ours, reps["ours"]))
        times["opencv 1t"].append(_cv_at(peers["opencv"], 1, reps["opencv"]))
        times["opencv 2t"].append(_cv_at(peers["opencv"], 2, reps["opencv"]))
        for name in ("scipy", "numpy"):
            if r < slow_rounds or warm[name] < _SLOW:
                times[name].append(_clock(peers[name], reps[name]))
    cv2.setNumThreads(2)
    best_cv = [min(a, b) for a, b in zip(times["opencv 1t"], times["opencv 2t"])]
    ratio = {"opencv": _median_ratio(times["ours"], best_cv),
             "scipy": _median_ratio(times["ours"], times["scipy"]),
             "numpy": _median_ratio(times["ours"], times["numpy"])}
    return {"ratio": ratio, "median_s": {n: statistics.median(t) for n, t in times.items()},
            "times_s": times}


def _median_ratio(ours: list[float], peer: list[float]) -> float:
    return statistics.median(o / p for o, p in zip(ours, peer))


def _image(rng: np.random.Generator, shape: tuple[int, int], dtype: str) -> np.ndarray:
    x = rng.random(shape, dtype=np.float32)
    if dtype == "float32":
        return x
    return (x * np.iinfo(dtype).max).astype(dtype)


def _errors(ours: Fn, peers: dict[str, Fn]) -> float:
    """max |sepconv − OpenCV| (the acceptance asks for ≤ 1 on integer outputs)."""
    a, b = ours(), peers["opencv"]()
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def run_grid(rounds: int, slow_rounds: int, sizes: list[tuple[int, int]]) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    cells = []
    for shape in sizes:
        for src, dst in PAIRS:
            x = _image(rng, shape, src)
            for name in FILTERS:
                ours, peers = cell_functions(x, name, np.dtype(dst))
                timing = time_cell(ours, peers, rounds, slow_rounds)
                cells.append({"size": f"{shape[1]}×{shape[0]}" if shape[0] != shape[1]
                              else f"{shape[0]}²", "shape": list(shape), "input": src,
                              "output": dst, "filter": name,
                              "max_abs_diff_vs_opencv": _errors(ours, peers), **timing})
            print(f"{shape} {src}->{dst} done", flush=True)
    return cells


def run_stack(rounds: int) -> dict[str, Any]:
    """1000 images of 32×32, one call with axes=(1, 2), beside scipy's gaussian_filter."""
    x = np.random.default_rng(1).random((1000, 32, 32), dtype=np.float32)
    ours = lambda: sepconv.ndimage.gaussian_filter(x, 1.0, axes=(1, 2))  # noqa: E731
    theirs = lambda: ndi.gaussian_filter(x, 1.0, axes=(1, 2))  # noqa: E731
    warm = [_clock(ours, 1), _clock(theirs, 1)]
    reps = [max(1, int(_MIN_TIMING / t)) for t in warm]
    mine, peer = [], []
    for _ in range(rounds):
        mine.append(_clock(ours, reps[0]))
        peer.append(_clock(theirs, reps[1]))
    return {"name": "gaussian_filter sigma 1 on 1000×32×32 float32, axes=(1, 2)",
            "ratio_vs_scipy": _median_ratio(mine, peer),
            "median_s": {"ours": statistics.median(mine), "scipy": statistics.median(peer)}}


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def summary(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """Per peer: geometric mean and worst cell of the time ratios, overall and per dtype pair."""
    result: dict[str, Any] = {}
    for peer in PEERS:
        groups = {"all": cells, **{f"{s}→{d}": [c for c in cells if (c["input"], c["output"])
                                                == (s, d)] for s, d in PAIRS}}
        result[peer] = {}
        for group, members in groups.items():
            if not members:
                continue
            worst = max(members, key=lambda c: c["ratio"][peer])
            result[peer][group] = {
                "geomean": geomean([c["ratio"][peer] for c in members]),
                "worst": worst["ratio"][peer],
                "worst_cell": f"{worst['size']} {worst['input']}→{worst['output']} "
                              f"{worst['filter']}"}
    return result


ACCEPTANCE = [  # (input→output, size, filters, limit on sepconv ÷ best OpenCV time), issue 13
    ("uint8", "uint8", "1920×1080", ("gauss3", "gauss7"), 1.25),
    ("uint8", "uint8", "2048²", ("gauss3", "gauss7"), 1.25),
    ("uint16", "uint16", "2048²", ("gauss7",), 1.5),
    ("float32", "float32", "512²", ("gauss3", "gauss7"), 1.25),
    ("float32", "float32", "1920×1080", ("gauss3", "gauss7"), 1.25),
    ("float32", "float32", "4096²", ("gauss3", "gauss5", "gauss7", "gauss15", "gauss31"), 1.0),
]


def acceptance(cells: list[dict[str, Any]], stack: dict[str, Any]) -> list[str]:
    lines = []
    for src, dst, size, filters, limit in ACCEPTANCE:
        for name in filters:
            cell = next((c for c in cells if (c["input"], c["output"], c["size"], c["filter"])
                         == (src, dst, size, name)), None)
            if cell is None:
                continue
            ratio = cell["ratio"]["opencv"]
            lines.append(f"- [{'x' if ratio <= limit else ' '}] {src}→{dst} {size} {name}: "
                         f"{ratio:.2f}× OpenCV's time (≤ {limit})")
    ratio = stack["ratio_vs_scipy"]
    lines.append(f"- [{'x' if ratio <= 0.5 else ' '}] {stack['name']}: {1 / ratio:.1f}× "
                 "scipy's speed (≥ 2)")
    return lines


def _fmt(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


def grid_table(cells: list[dict[str, Any]], src: str, dst: str, peer: str) -> list[str]:
    sizes = list(dict.fromkeys(c["size"] for c in cells))
    lines = ["| filter | " + " | ".join(sizes) + " |", "|---|" + "---|" * len(sizes)]
    for name in FILTERS:
        row = {c["size"]: c["ratio"][peer] for c in cells
               if (c["input"], c["output"], c["filter"]) == (src, dst, name)}
        lines.append(f"| {name} | " + " | ".join(_fmt(row[s]) if s in row else "—"
                                                for s in sizes) + " |")
    return lines


def markdown(result: dict[str, Any]) -> str:
    env, cells = result["environment"], result["cells"]
    lines = [
        "# Everyday workloads (benchmarks/workloads.py)", "",
        f"Measured {env['date']} on {env['cpu']} ({env['cpus_available']} CPUs available, shared "
        f"with other jobs; load average at start {env['load_average'][0]:.1f}, at end "
        f"{result['load_average_end'][0]:.1f}); numpy {env['numpy']}, numba {env['numba']}, "
        f"scipy {env['scipy']}, OpenCV {env['cv2']}. sepconv threads: {result['threads']}; "
        "OpenCV: 1 and 2 (best per round); scipy and NumPy: 1.", "",
        "Each figure is **sepconv time ÷ peer time** (below 1: sepconv is faster), the median "
        f"over {result['rounds']} interleaved rounds of the per-round ratio (peers slower than "
        f"{_SLOW} s per call: {result['slow_rounds']} round(s)). Mirror borders; the public API "
        "with its validation and output allocation, as a user calls it. Absolute times: "
        "workloads.json.", "",
        "## Summary: geometric mean and worst cell", "",
        "| peer | group | geometric mean | worst cell |", "|---|---|---|---|"]
    for peer, groups in result["summary"].items():
        for group, s in groups.items():
            lines.append(f"| {peer} | {group} | {s['geomean']:.2f} | {s['worst']:.2f} "
                         f"({s['worst_cell']}) |")
    lines += ["", "## Acceptance (issue 13)", "", *acceptance(cells, result["stack"]), ""]
    for peer in PEERS:
        for src, dst in PAIRS:
            lines += [f"## {src} → {dst}, sepconv ÷ {peer}", "",
                      *grid_table(cells, src, dst, peer), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="5 rounds, slow peers once: the whole grid in ~5-10 minutes")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds")
    parser.add_argument("--json", type=Path, default=ROOT / "docs/benchmarks/workloads.json")
    args = parser.parse_args(argv)
    import numba

    rounds, slow = (5, 1) if args.quick else (args.rounds, 3)
    env = environment()  # before the run: the load is the machine's, not ours
    cells = run_grid(rounds, slow, SIZES)
    result = {"environment": env, "threads": numba.get_num_threads(), "rounds": rounds,
              "slow_rounds": slow, "quick": args.quick, "cells": cells,
              "stack": run_stack(max(rounds, 5)), "summary": summary(cells),
              "load_average_end": list(__import__("os").getloadavg())}
    text = markdown(result)
    write_outputs(args.json, result, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
