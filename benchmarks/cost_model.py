"""Calibrate and check the cost model behind ``method='auto'`` (sepconv._plan).

Question: per output value, what does each method cost on this machine, and does the model's
choice match the fastest measured method?

1. Fit: separable (k = 3 .. 31), direct (k = 3 .. 15) and FFT (k = 7 .. 63) runs on a 2048²
   float32 image, each interleaved with a reference run (separable, k = 7) so that drift cancels;
   times are converted to ns per output with the reference's median. Least squares gives
   ``PASS``/``TAP`` (per 1-D pass: PASS + TAP·k), ``DIRECT_ROW``/``DIRECT_TAP`` and ``FFT``.
2. Check: kernels of rank 1, 2, 3 and full rank, k = 5 .. 41; every method is timed and the
   model's pick (with the constants in sepconv._plan) is compared with the fastest.

Writes docs/benchmarks/cost_model.json and docs/benchmarks/cost_model.md. The constants in
sepconv/_plan.py are copied from the fit by hand (so a noisy run never changes the library).

    python benchmarks/cost_model.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

import sepconv
from _timing import environment, interleaved, write_outputs  # type: ignore[import-not-found]
from sepconv import _plan

ROOT = Path(__file__).resolve().parents[1]


def _random_rank(k: int, r: int, rng: np.random.Generator) -> np.ndarray:
    return sum((np.outer(rng.standard_normal(k), rng.standard_normal(k)) for _ in range(r)),
               start=np.zeros((k, k))).astype(np.float32)


def _ns_per_output(img: np.ndarray, fn: Any, reference: Any, rounds: int) -> float:
    """Median of per-round (time / reference time), times the reference's ns per output."""
    result = interleaved(fn, {"reference": reference}, rounds=rounds, warmup=1)
    ratio = result["ratio"]["reference"]  # fn's time / reference's time, per round
    return ratio * result["median_s"]["reference"] * 1e9 / img.size


def measure(img: np.ndarray, rounds: int, quick: bool) -> dict[str, list[list[float]]]:
    """(k, ns per output) for each method, the reference being separable k = 7."""
    rng = np.random.default_rng(1)
    g7 = np.full(7, 1 / 7, np.float32)
    reference = lambda: sepconv.correlate_separable(img, [g7, g7])  # noqa: E731
    ks_sep = (3, 7, 15) if quick else (3, 5, 7, 9, 15, 21, 31)
    ks_dir = (3, 5) if quick else (3, 5, 7, 9, 11, 15, 21, 31, 41, 63)
    ks_fft = (7, 15) if quick else (7, 15, 31, 63)
    data: dict[str, list[list[float]]] = {"separable": [], "direct": [], "fft": []}
    for k in ks_sep:
        g = np.full(k, 1 / k, np.float32)
        fn = lambda: sepconv.correlate_separable(img, [g, g])  # noqa: E731, B023
        t = _ns_per_output(img, fn, reference, rounds)
        data["separable"].append([k, t])
    for method, ks in (("direct", ks_dir), ("fft", ks_fft)):
        for k in ks:
            kern = _random_rank(k, k, rng)
            fn = lambda: sepconv.correlate(img, kern, method=method)  # noqa: E731, B023
            data[method].append([k, _ns_per_output(img, fn, reference, rounds)])
    return data


def fit(data: dict[str, list[list[float]]], shape: tuple[int, ...]) -> dict[str, float]:
    """Non-negative least squares (a cost is never negative), relative errors weighted alike."""
    from scipy.optimize import nnls

    sep = np.array(data["separable"])
    # a 2-D separable filter is two passes: 2·PASS + TAP·2k
    (pass2, tap2), _ = nnls(np.c_[np.ones(len(sep)), sep[:, 0]] / sep[:, 1:], np.ones(len(sep)))
    direct = np.array(data["direct"])
    # a k×k direct kernel: PASS, plus k kernel rows, each ROW + TAP·k
    design = np.c_[np.ones(len(direct)), direct[:, 0], direct[:, 0] ** 2] / direct[:, 1:]
    (dpass, row, tap), _ = nnls(design, np.ones(len(direct)))
    fft = np.array(data["fft"])
    scale = [_plan.fft_cost(shape, (0, 1), (int(k), int(k))) / _plan._FFT for k in fft[:, 0]]
    fft_const = float(np.median(fft[:, 1] / np.array(scale)))
    return {"PASS": pass2 / 2, "TAP": tap2 / 2, "DIRECT_PASS": float(dpass),
            "DIRECT_ROW": float(row), "DIRECT_TAP": float(tap), "FFT": fft_const}


def check(img: np.ndarray, rounds: int, quick: bool) -> list[dict[str, Any]]:
    """Time every method on kernels of several ranks; compare the fastest with the model's pick."""
    rng = np.random.default_rng(2)
    rows = []
    sizes = (5, 15) if quick else (5, 9, 15, 25, 41, 63)
    for k in sizes:
        for r in sorted({1, 2, 3, k}):
            kern = _random_rank(k, r, rng)
            pick = _plan.make_plan(kern, "auto", np.dtype(np.float32), shape=img.shape).method
            times = {}
            for method in ("direct", "lowrank", "fft"):
                if method == "direct" and k * k > 4000:
                    continue  # seconds per call; the model rules it out by far
                fn = lambda: sepconv.correlate(img, kern, method=method)  # noqa: E731, B023
                fn()
                times[method] = statistics.median(_time(fn) for _ in range(max(3, rounds // 2)))
            best = min(times, key=times.__getitem__)
            picked = "lowrank" if pick == "separable" else pick
            if r == 1:  # method='lowrank' runs a rank-1 kernel as its single separable term
                times["separable"] = times.pop("lowrank")
                best, picked = ("separable" if b == "lowrank" else b for b in (best, picked))
            rows.append({"k": k, "rank": r, "model": pick, "fastest": best,
                         "pick_over_fastest": times[picked] / times[best] if picked in times else None,
                         "ms": {m: 1e3 * t for m, t in times.items()}})
            print(rows[-1], flush=True)
    return rows


def _time(fn: Any) -> float:
    import time

    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    f = result["fit"]
    lines = [
        "# Cost model of `method='auto'` (benchmarks/cost_model.py)", "",
        f"Measured {env['date']} on {env['cpu']} ({env['cpus_available']} CPUs, load "
        f"{env['load_average'][0]:.1f}), {result['shape'][0]}×{result['shape'][1]} float32, "
        "sepconv's default threads; FFT is NumPy's (float64, one thread).", "",
        "Model, ns per output value, as fitted by this run (sepconv/_plan.py holds a fit copied "
        "by hand: " + ", ".join(f"{n} = {getattr(_plan, '_' + n)}" for n in f) + "; the "
        "picks below are made with those):", "",
        f"- separable / low-rank, r terms: r · Σ_axes (PASS + TAP·k), PASS = {f['PASS']:.3f}, "
        f"TAP = {f['TAP']:.4f}",
        f"- direct: DIRECT_PASS + DIRECT_ROW · Π k / k_last + DIRECT_TAP · Π k, DIRECT_PASS = "
        f"{f['DIRECT_PASS']:.3f}, DIRECT_ROW = {f['DIRECT_ROW']:.3f}, DIRECT_TAP = {f['DIRECT_TAP']:.4f}",
        "- rank 1 is always separable (never slower than direct in this engine)",
        f"- FFT: FFT · log2(transform length) · padded size / output size, FFT = {f['FFT']:.3f} "
        "(only with the input shape known, never for integer output; falls back if non-finite)",
        "",
        "Known bias: in the fused pass, low-rank terms after the first share the memory traffic "
        "of the pass, so they cost less than PASS each; at small k the model can pick direct "
        "where low-rank is a little faster (the near ties below).", "",
        "| k | rank | model's pick | fastest measured | pick's time ÷ fastest | times (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["check"]:
        ratio = row["pick_over_fastest"]
        times = ", ".join(f"{m} {t:.0f}" for m, t in row["ms"].items())
        cell = f"{ratio:.2f}" if ratio is not None else "—"
        lines.append(f"| {row['k']} | {row['rank']} | {row['model']} | {row['fastest']} | {cell} | {times} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small image, few sizes, no files")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    n = 512 if args.quick else 2048
    img = np.random.default_rng(0).random((n, n), dtype=np.float32)
    env = environment()  # before the run: the load average is the machine's, not ours
    data = measure(img, args.rounds, args.quick)
    result = {"environment": env, "shape": [n, n], "data": data,
              "fit": fit(data, img.shape), "check": check(img, args.rounds, args.quick)}
    text = markdown(result)
    print(text)
    if not args.quick:
        write_outputs(ROOT / "docs/benchmarks/cost_model.json", result, text)
    return 0 if math.isfinite(result["fit"]["TAP"]) else 1


if __name__ == "__main__":
    sys.exit(main())
