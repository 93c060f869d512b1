"""sepconv's filters beside OpenCV, scipy.ndimage, NumPy and PyTorch, in one run.

Every comparison is interleaved (ours, peer, ours, peer, ...) after a warm-up round and
reported as the median of the per-round ratios peer time / sepconv time (above 1: sepconv is
faster). See benchmarks/README.md for the method. Writes docs/benchmarks/filters.json and
docs/benchmarks/filters.md.

    python benchmarks/filters.py            # full run (~5 min on 2 cores)
    python benchmarks/filters.py --quick    # small images, a smoke test of the script
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import scipy.ndimage as ndi

import sepconv
from _timing import environment, interleaved, ratio_to_best, write_outputs  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[1]
Fn = Callable[[], Any]


def _cv(fn: Callable[[], Any], threads: int) -> Fn:
    def run() -> Any:
        cv2.setNumThreads(threads)
        return fn()

    return run


def _shift_add(x: np.ndarray, weights: list[np.ndarray], axes: list[int]) -> np.ndarray:
    """NumPy only: pad each axis (scipy's reflect = numpy's symmetric), sum shifted slices."""
    y = x.astype(np.float32)
    for w, axis in zip(weights, axes):
        k = w.size
        pads = [(0, 0)] * y.ndim
        pads[axis] = (k // 2, k - 1 - k // 2)
        padded = np.pad(y, pads, mode="symmetric")
        y = np.zeros(x.shape, np.float32)
        for j, wj in enumerate(w):
            index = [slice(None)] * y.ndim
            index[axis] = slice(j, j + x.shape[axis])
            y += wj * padded[tuple(index)]
    return y


def _torch_separable(x: np.ndarray, weights: list[np.ndarray]) -> Fn:
    """One conv per axis; torch's 'reflect' padding is sepconv's 'mirror' (same cost)."""
    import torch
    import torch.nn.functional as F

    nd = len(weights)
    conv = F.conv2d if nd == 2 else F.conv3d
    steps = []
    for axis, w in enumerate(weights):
        shape = [1] * nd
        shape[axis] = w.size
        pad = [0, 0] * nd  # F.pad lists the last axis first
        last = nd - 1 - axis
        pad[2 * last:2 * last + 2] = [w.size // 2, w.size - 1 - w.size // 2]
        steps.append((torch.from_numpy(w.astype(np.float32).reshape(1, 1, *shape)), pad))

    def run() -> Any:
        with torch.no_grad():
            y = torch.from_numpy(x).float()[None, None]
            for kernel, pad in steps:
                y = conv(F.pad(y, pad, mode="reflect"), kernel)
            return y

    return run


def _torch_dense(x: np.ndarray, kernel: np.ndarray) -> Fn:
    import torch
    import torch.nn.functional as F

    k = torch.from_numpy(kernel.astype(np.float32))[None, None]
    pad = [kernel.shape[1] // 2, kernel.shape[1] - 1 - kernel.shape[1] // 2,
           kernel.shape[0] // 2, kernel.shape[0] - 1 - kernel.shape[0] // 2]

    def run() -> Any:
        with torch.no_grad():
            return F.conv2d(F.pad(torch.from_numpy(x).float()[None, None], pad, mode="reflect"), k)

    return run


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    """Speed-ups (peer / ours, median of rounds) and their range; times kept for the record."""
    return {
        "speedup": {n: 1.0 / r for n, r in result["ratio"].items()},
        "speedup_range": {n: [1.0 / hi, 1.0 / lo] for n, (lo, hi) in result["ratio_range"].items()},
        "median_ms": {n: 1e3 * t for n, t in result["median_s"].items()},
        "rounds": result["rounds"],
    }


def _compare(ours: Fn, peers: dict[str, Fn], rounds: int) -> dict[str, Any]:
    """Fast peers share interleaved rounds with ours; each slow peer (> 0.3 s) gets its own."""
    probe = {name: _probe(fn) for name, fn in peers.items()}
    fast = {n: fn for n, fn in peers.items() if probe[n] <= 0.3}
    merged: dict[str, Any] = {"ratio": {}, "ratio_range": {}, "median_s": {}, "times_s": {}}
    groups = [fast] + [{n: fn} for n, fn in peers.items() if n not in fast]
    for group in groups:
        if not group:
            continue
        result = interleaved(ours, group, rounds=rounds if group is fast else max(5, rounds // 2),
                             warmup=0)
        for key in ("ratio", "ratio_range", "median_s"):
            merged[key].update(result[key])
        merged["median_s"]["ours"] = result["median_s"]["ours"] if group is fast else \
            merged["median_s"].get("ours", result["median_s"]["ours"])
        # each peer keeps the times of its own group (ours ran in the same rounds)
        for name in group:
            merged["times_s"][name] = {"ours": result["times_s"]["ours"],
                                       name: result["times_s"][name]}
    merged["rounds"] = rounds
    return merged


def _best(result: dict[str, Any], names: list[str]) -> tuple[float, list[float]]:
    """ours ÷ the best of ``names`` per round; the peers must have shared their rounds."""
    times = result["times_s"]
    if any(times[n]["ours"] is not times[names[0]]["ours"] for n in names):
        raise RuntimeError(f"{names} ran in different rounds (one was slower than 0.3 s)")
    merged = {"ours": times[names[0]]["ours"], **{n: times[n][n] for n in names}}
    return ratio_to_best({"times_s": merged}, names)


def _probe(fn: Fn) -> float:
    import time

    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def case_2d(img: np.ndarray, k: int, rounds: int) -> dict[str, Any]:
    g = sepconv.kernels.gaussian_1d(0.3 * ((k - 1) * 0.5 - 1) + 0.8, radius=k // 2)
    g32 = g.astype(np.float32)
    dense = np.outer(g32, g32)
    ours = lambda: sepconv.correlate_separable(img, [g32, g32])  # noqa: E731
    reflect = cv2.BORDER_REFLECT
    peers: dict[str, Fn] = {}
    for t in (1, 2):
        peers[f"opencv sepFilter2D {t}t"] = _cv(
            lambda: cv2.sepFilter2D(img, cv2.CV_32F, g32, g32, borderType=reflect), t)
    for t in (1, 2):
        peers[f"opencv filter2D {t}t"] = _cv(
            lambda: cv2.filter2D(img, cv2.CV_32F, dense, borderType=reflect), t)
    peers["torch conv2d x2"] = _torch_separable(img, [g32, g32])
    peers["scipy correlate1d x2"] = lambda: ndi.correlate1d(
        ndi.correlate1d(img, g32, axis=0, output=np.float32), g32, axis=1, output=np.float32)
    peers["numpy shift-add"] = lambda: _shift_add(img, [g32, g32], [0, 1])
    if k <= 7:  # k = 15 and 31 take 5-20 s per call
        peers["scipy correlate"] = lambda: ndi.correlate(img, dense, output=np.float32)
        peers["torch conv2d"] = _torch_dense(img, dense)
    result = _compare(ours, peers, rounds)
    summary = _summary(result)
    best, span = _best(result, ["opencv sepFilter2D 1t", "opencv sepFilter2D 2t"])
    summary["opencv_sepFilter2D_best"] = {"time_ratio": best, "time_ratio_range": span}
    # correlate(outer) vs correlate_separable: the same work through another door, so the two
    # alternate on their own (in a round with other peers, their order skews such close times)
    auto = interleaved(lambda: sepconv.correlate(img, dense), {"separable": ours}, rounds=rounds)
    summary["auto_vs_separable_time_ratio"] = auto["ratio"]["separable"]
    return {"name": f"2-D {img.dtype} k={k}", "shape": list(img.shape), "dtype": str(img.dtype),
            "k": k, **summary}


def case_log(img: np.ndarray, rounds: int) -> dict[str, Any]:
    kernel = sepconv.kernels.log(2.0, radius=7).dense().astype(np.float32)
    ours = lambda: sepconv.correlate(img, kernel)  # noqa: E731
    peers: dict[str, Fn] = {
        f"opencv filter2D {t}t": _cv(
            lambda: cv2.filter2D(img, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT), t)
        for t in (1, 2)
    }
    peers["torch conv2d"] = _torch_dense(img, kernel)
    peers["scipy correlate"] = lambda: ndi.correlate(img, kernel, output=np.float32)
    result = _compare(ours, peers, rounds)
    summary = _summary(result)
    best, span = _best(result, ["opencv filter2D 1t", "opencv filter2D 2t"])
    summary["opencv_filter2D_best"] = {"time_ratio": best, "time_ratio_range": span}
    want = ndi.correlate(img.astype(np.float64), kernel.astype(np.float64))
    summary["max_abs_error_vs_scipy"] = float(np.abs(ours() - want).max())
    summary["method"] = sepconv._plan.make_plan(kernel, "auto", np.dtype(np.float32)).method
    return {"name": "2-D LoG 15x15 (rank 2)", "shape": list(img.shape), "dtype": "float32",
            **summary}


def case_volume(vol: np.ndarray, rounds: int) -> dict[str, Any]:
    g = sepconv.kernels.gaussian_1d(1.0, radius=3).astype(np.float32)
    ours = lambda: sepconv.correlate_separable(vol, [g, g, g])  # noqa: E731
    peers: dict[str, Fn] = {
        "torch conv3d x3": _torch_separable(vol, [g, g, g]),
        "scipy correlate1d x3": lambda: ndi.gaussian_filter(vol, 1.0, truncate=3.0),
        "numpy shift-add": lambda: _shift_add(vol, [g, g, g], [0, 1, 2]),
    }
    result = _compare(ours, peers, rounds)
    return {"name": f"3-D float32 {vol.shape[0]}³ k=7", "shape": list(vol.shape),
            "dtype": "float32", "k": 7, **_summary(result)}


MEMORY_SNIPPET = """
import json, resource, sys
import numpy as np, sepconv
n = int(sys.argv[1])
x = np.empty((n, n), np.float32)
np.random.default_rng(0).random(out=x, dtype=np.float32)
g = sepconv.kernels.gaussian_1d(1.0, radius=3).astype(np.float32)
sepconv.correlate_separable(x[:512, :512], [g, g])  # warm: JIT cache, thread pool
def rss():
    with open('/proc/self/status') as f:
        d = dict(line.split(':', 1) for line in f)
    return int(d['VmRSS'].split()[0]) * 1024, int(d['VmHWM'].split()[0]) * 1024
before, _ = rss()
with open('/proc/self/clear_refs', 'w') as f:
    f.write('5')  # reset the peak (VmHWM) to the current RSS
y = sepconv.correlate_separable(x, [g, g])
_, peak = rss()
print(json.dumps({"rise_bytes": peak - before, "output_bytes": y.nbytes}))
"""


def case_memory(n: int) -> dict[str, Any]:
    """Peak RSS rise of one separable k=7 filter of an n² float32 image, in a warm process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", MEMORY_SNIPPET, str(n)], capture_output=True,
                         text=True, check=True, env=env)
    data = json.loads(out.stdout)
    return {"name": f"peak RSS rise, {n}² float32, k=7", "shape": [n, n],
            "rise_over_output": data["rise_bytes"] / data["output_bytes"], **data}


def threads() -> dict[str, Any]:
    import numba
    import torch

    return {"sepconv (numba.get_num_threads)": numba.get_num_threads(),
            "opencv": "1 and 2 (cv2.setNumThreads, best reported)",
            "torch": torch.get_num_threads(), "scipy": 1, "numpy": 1}


def run(quick: bool, rounds: int) -> dict[str, Any]:
    env = environment()  # before the run: the load average is the machine's, not ours
    n, nv = (512, 64) if quick else (4096, 256)
    rng = np.random.default_rng(0)
    img = rng.random((n, n), dtype=np.float32)
    cases = []
    for dtype in (np.float32, np.uint8):
        x = img if dtype == np.float32 else (img * 255).astype(np.uint8)
        for k in (3, 7, 15, 31):
            cases.append(case_2d(x, k, rounds))
            print(cases[-1]["name"], "done", flush=True)
    cases.append(case_log(img, rounds))
    cases.append(case_volume(rng.random((nv, nv, nv), dtype=np.float32), rounds))
    cases.append(case_memory(1024 if quick else 8192))
    return {"environment": env, "threads": threads(), "rounds": rounds,
            "quick": quick, "cases": cases}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small inputs (smoke test)")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (>= 5)")
    parser.add_argument("--json", type=Path, default=ROOT / "docs/benchmarks/filters.json")
    args = parser.parse_args(argv)
    result = run(args.quick, max(5, args.rounds))
    from _report import filters_markdown  # type: ignore[import-not-found]

    if args.quick:
        print(filters_markdown(result))
        return 0
    write_outputs(args.json, result, filters_markdown(result))
    print(filters_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
