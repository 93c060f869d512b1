"""
Speed: separable against direct and OpenCV
==========================================

A Gaussian of size k on a 1024×1024 float32 image, timed three ways: sepconv's separable plan,
sepconv's direct (k×k) plan, and OpenCV's ``sepFilter2D``. Times are the median of a few calls on
whatever machine builds these pages (shared CI machines are noisy); the benchmark with interleaved
rounds is on the :doc:`/benchmarks` page.
"""

import time

import cv2
import matplotlib.pyplot as plt
import numpy as np

import sepconv
from sepconv import kernels


def median_ms(function, repeats=5):
    function()  # warm-up: loads the compiled engine
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


image = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
sizes = [3, 7, 11, 15]
rows = {"sepconv separable": [], "sepconv direct": [], "OpenCV sepFilter2D": []}
for k in sizes:
    g = kernels.gaussian_1d(k / 6, radius=k // 2).astype(np.float32)
    dense = np.outer(g, g)
    rows["sepconv separable"].append(median_ms(lambda g=g: sepconv.correlate_separable(image, [g, g])))
    rows["sepconv direct"].append(median_ms(
        lambda dense=dense: sepconv.correlate(image, dense, method="direct")))
    rows["OpenCV sepFilter2D"].append(median_ms(
        lambda g=g: cv2.sepFilter2D(image, -1, g, g, borderType=cv2.BORDER_REFLECT)))
for name, times in rows.items():
    print(f"{name:20s}", "  ".join(f"k={k}: {t:6.2f} ms" for k, t in zip(sizes, times)))

fig, ax = plt.subplots(figsize=(7, 4))
width = 0.27
for shift, (name, times) in enumerate(rows.items()):
    ax.bar(np.arange(len(sizes)) + (shift - 1) * width, times, width, label=name)
ax.set_xticks(range(len(sizes)), [f"k = {k}" for k in sizes])
ax.set_ylabel("ms per 1024² image (median)")
ax.set_yscale("log")
ax.legend()
fig.tight_layout()
plt.show()
