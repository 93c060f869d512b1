"""``sepconv demo``: the seeds' Sobel example on a real photograph, told step by step."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

import sepconv
from sepconv import cost, kernels


def _median_ms(fn: Callable[[], object], repeats: int = 7) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def photo() -> tuple[str, np.ndarray]:
    """The camera-man photograph that ships inside scikit-image (no download)."""
    from skimage import data

    return "scikit-image's camera (512×512, uint8)", data.camera()


def sobel_story(print_: Callable[[str], None] = print) -> dict[str, float]:
    """Split the 3×3 Sobel, filter the photo both ways, and report agreement and time."""
    sobel_x = kernels.sobel("x").dense()
    split = sepconv.factorize(sobel_x)
    column, row = split.factors
    mults = cost.filter_mults(sobel_x)
    print_("Sobel-x, the 3×3 kernel:")
    for line in sobel_x.astype(int).tolist():
        print_(f"    {line}")
    print_(f"is the outer product of {column.astype(int).tolist()}ᵀ and {row.astype(int).tolist()}:"
           f" {mults['direct']} multiplications per pixel directly, {mults['separable']} as two "
           "1-D passes.")
    name, image = photo()
    img = image.astype(np.float32) / 255.0
    direct = sepconv.correlate(img, sobel_x, method="direct")
    separable = sepconv.correlate_separable(img, [column, row])
    diff = float(np.abs(direct - separable).max())
    t_direct = _median_ms(lambda: sepconv.correlate(img, sobel_x, method="direct"))
    t_sep = _median_ms(lambda: sepconv.correlate_separable(img, [column, row]))
    print_(f"On {name}: max |direct - separable| = {diff:.2e} (float32 rounding).")
    print_(f"Time, median of 7: direct {t_direct:.2f} ms, separable {t_sep:.2f} ms "
           f"(ratio {t_direct / t_sep:.2f}×; predicted by multiplications "
           f"{mults['direct'] / mults['separable']:.2f}×).")
    return {"max_abs_diff": diff, "direct_ms": t_direct, "separable_ms": t_sep}


def depthwise_story(print_: Callable[[str], None] = print) -> None:
    """The seeds' depthwise separable worked example, counted and computed."""
    normal = cost.conv((12, 12, 3), 5, 256)
    sep = cost.depthwise_separable((12, 12, 3), 5, 256)
    rng = np.random.default_rng(0)
    out = sepconv.depthwise_separable(rng.random((12, 12, 3)), rng.random((5, 5, 3, 1)),
                                      rng.random((3, 256)))
    print_(f"12×12×3 input, 5×5 kernels, 256 filters, no padding → {'×'.join(map(str, out.shape))}: "
           f"{normal.mults:,} multiplications normally, {sep.depthwise.mults:,} + "
           f"{sep.pointwise.mults:,} = {sep.mults:,} depthwise separable.")


def run(print_: Callable[[str], None] = print) -> int:
    sobel_story(print_)
    print_("")
    depthwise_story(print_)
    return 0
