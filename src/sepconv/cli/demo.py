"""``sepconv demo``: both kinds of separable convolution, told step by step on a real photograph.

Prints a short story and writes PNG figures into a folder it owns (replaced on each run).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import sepconv
from sepconv import cost, kernels

from . import io, report

Say = Callable[[str], None]


def _median_ms(fn: Callable[[], object], repeats: int = 7) -> float:
    fn()  # warm-up (and the engine's compilation)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def _rough(measured: float, predicted: float, say: Say) -> None:
    """Say so when multiplications mispredict the measured speed-up by more than 1.5×."""
    if max(measured / predicted, predicted / measured) > 1.5:
        say("(Multiplications predict time only roughly: memory traffic, vector units and threads "
            "count too; method='auto' uses a cost model fitted to measurements.)")


def _ints(values: np.ndarray) -> list[int]:
    return np.asarray(values).astype(int).tolist()


def photo() -> tuple[str, np.ndarray]:
    """The camera-man photograph that ships inside scikit-image (no download)."""
    data = io.require("skimage.data", "sepconv demo's photograph")
    return "scikit-image's camera (512×512, uint8)", data.camera()


def sobel_story(img: np.ndarray, name: str, say: Say) -> dict[str, np.ndarray]:
    """Split the 3×3 Sobel, filter the photo both ways, and report agreement and time."""
    sobel_x = kernels.sobel("x").dense()
    column, row = sepconv.factorize(sobel_x).factors
    mults = cost.filter_mults(sobel_x)
    say("Sobel-x, the 3×3 kernel:")
    for line in _ints(sobel_x):
        say(f"    {line}")
    say(f"is the outer product of {_ints(column)}ᵀ and {_ints(row)}: {mults['direct']} multiplications "
        f"per pixel directly, {mults['separable']} as two 1-D passes.")
    direct = sepconv.correlate(img, sobel_x, method="direct")
    separable = sepconv.correlate_separable(img, [column, row])
    diff = float(np.abs(direct - separable).max())
    t_direct = _median_ms(lambda: sepconv.correlate(img, sobel_x, method="direct"))
    t_sep = _median_ms(lambda: sepconv.correlate_separable(img, [column, row]))
    say(f"On {name}: max |direct - separable| = {diff:.2e} (float32 rounding).")
    say(f"Time, median of 7: direct {t_direct:.2f} ms, separable {t_sep:.2f} ms "
        f"(ratio {t_direct / t_sep:.2f}×; predicted by multiplications "
        f"{mults['direct'] / mults['separable']:.2f}×).")
    _rough(t_direct / t_sep, mults["direct"] / mults["separable"], say)
    edges_y = sepconv.correlate(img, kernels.sobel("y"))
    return {"x": separable, "y": edges_y, "diff": np.array(diff)}


def _term_text(term: sepconv.SeparableKernel) -> str:
    column, row = term.factors
    return f"{_ints(column)}ᵀ ⊗ {_ints(row)}"


def laplacian_story(img: np.ndarray, say: Say) -> None:
    """The Laplacian: rank 2, its exact two-term form, and why auto still applies it directly."""
    lap = kernels.laplacian()
    dense = lap.dense()
    best = sepconv.decompose(dense, rank=1)
    rel = best.residual / float(np.linalg.norm(dense))
    mults = cost.filter_mults(lap)
    method = report.auto_method(lap, img.shape, img.dtype)
    say(f"The Laplacian {_ints(dense)} has rank {sepconv.rank(dense)}: no outer product gives it "
        f"(the best rank-1 fit is off by {rel:.0%}), but exactly the sum of two:")
    say(f"    {_term_text(lap.terms[0])} + {_term_text(lap.terms[1])}")
    say(f"Two separable terms cost {mults['lowrank']} multiplications per pixel against "
        f"{mults['direct']} directly; on this photo method='auto' picks the {method} plan.")


def log_story(img: np.ndarray, say: Say) -> dict[str, np.ndarray]:
    """The Laplacian of Gaussian: big enough for its exact low-rank form to pay."""
    log = kernels.log(1.4)
    dense = log.dense()
    mults = cost.filter_mults(log)
    size = "×".join(map(str, log.shape))
    say(f"The Laplacian of Gaussian with σ = 1.4 ({size}, rank {sepconv.rank(dense)}) is a sum of "
        f"{log.rank} separable terms too: {mults['lowrank']} multiplications instead of "
        f"{mults['direct']}.")
    direct = sepconv.correlate(img, dense, method="direct")
    lowrank = sepconv.correlate(img, log, method="lowrank")
    diff = float(np.abs(direct - lowrank).max())
    t_direct = _median_ms(lambda: sepconv.correlate(img, dense, method="direct"))
    t_low = _median_ms(lambda: sepconv.correlate(img, log, method="lowrank"))
    predicted = mults["direct"] / mults["lowrank"]
    say(f"On the photo: max |direct - low-rank| = {diff:.2e}; direct {t_direct:.1f} ms, low-rank "
        f"{t_low:.1f} ms (ratio {t_direct / t_low:.2f}×; predicted {predicted:.2f}×).")
    _rough(t_direct / t_low, predicted, say)
    terms = [t.dense() for t in log.terms]
    return {"kernel": dense, "term1": terms[0], "term2": terms[1], "filtered": lowrank}


def run(out: str | Path = "sepconv-demo", say: Say = print) -> int:
    """The whole demo; figures go to ``out`` (a folder this demo owns)."""
    from . import demo_layers, demo_plots

    start = time.perf_counter()
    io.require("matplotlib", "sepconv demo's figures")
    name, image = photo()
    folder = io.fresh_folder(out)
    img = image.astype(np.float32) / 255.0
    say(f"sepconv demo: separable convolutions, on {name}; figures in {folder}{'/'}")
    say("")
    say("1. Spatially separable: a k×k kernel that is an outer product costs 2k, not k²")
    sobel = sobel_story(img, name, say)
    say("")
    say("2. A kernel that does not separate is still a sum of separable terms")
    laplacian_story(img, say)
    log = log_story(img, say)
    say("")
    say("3. Depthwise separable: one k×k kernel per channel, then a 1×1 mix")
    demo_layers.depthwise_story(say)
    say("")
    written = demo_plots.write_figures(folder, img, sobel, log)
    say("Figures: " + ", ".join(p.name for p in written))
    say(f"Done in {time.perf_counter() - start:.1f} s.")
    return 0
