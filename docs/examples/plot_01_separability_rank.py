"""
A kernel's separability and rank
================================

A 2-D kernel is separable when it is the outer product of two 1-D kernels: its matrix has
rank 1. :func:`sepconv.rank` counts the singular values above a tolerance;
:func:`sepconv.decompose` writes any kernel as an exact sum of that many separable terms.
"""

import matplotlib.pyplot as plt
import numpy as np

import sepconv
from sepconv import kernels

named = {
    "Sobel x": kernels.sobel("x").dense(),
    "box 5": kernels.box(5).dense(),
    "Gaussian σ=2": kernels.gaussian(2.0).dense(),
    "Laplacian": kernels.laplacian().dense(),
    "LoG σ=1.4": kernels.log(1.4).dense(),
    "random 7×7": np.random.default_rng(0).standard_normal((7, 7)),
}

fig, axes = plt.subplots(2, len(named), figsize=(14, 5))
for column, (name, kernel) in enumerate(named.items()):
    r = sepconv.rank(kernel)
    s = np.linalg.svd(kernel, compute_uv=False)
    axes[0, column].imshow(kernel, cmap="RdBu_r")
    axes[0, column].set_title(f"{name}\nrank {r}")
    axes[0, column].axis("off")
    axes[1, column].bar(range(1, len(s) + 1), s / s[0])
    axes[1, column].set_yscale("log")
    axes[1, column].set_ylim(1e-17, 2)
    axes[1, column].set_xlabel("singular value #")
    print(f"{name:14s} {kernel.shape}: rank {r}, residual of the rank-{r} sum "
          f"{sepconv.decompose(kernel).residual:.1e}")
axes[1, 0].set_ylabel("σᵢ / σ₁")
fig.tight_layout()
plt.show()
