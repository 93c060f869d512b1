"""
The Laplacian of Gaussian as a rank-2 sum
=========================================

The LoG kernel does not separate, but it is exactly ``g''(y) g(x) + g(y) g''(x)``: a sum of two
separable terms. ``method='lowrank'`` (which ``auto`` picks for large kernels) applies it as those
two terms: 4k multiplications per pixel instead of k².
"""

import matplotlib.pyplot as plt
import numpy as np
from skimage import data

import sepconv
from sepconv import kernels

image = data.camera().astype(np.float32) / 255
log = kernels.log(2.0).dense()
terms = sepconv.decompose(log)
print(f"{log.shape[0]}×{log.shape[1]} LoG: rank {terms.rank}, residual {terms.residual:.1e}")
print("multiplications per pixel:", sepconv.cost.filter_mults(log))

direct = sepconv.correlate(image, log, method="direct")
lowrank = sepconv.correlate(image, log, method="lowrank")
print(f"max |direct - low-rank| = {np.abs(direct - lowrank).max():.2e}")

fig, axes = plt.subplots(1, 4, figsize=(14, 4))
axes[0].imshow(log, cmap="RdBu_r")
axes[0].set_title("LoG σ = 2")
for ax, term, number in zip(axes[1:3], terms.terms, (1, 2)):
    ax.imshow(term.dense(), cmap="RdBu_r")
    ax.set_title(f"separable term {number}")
axes[3].imshow(lowrank, cmap="RdBu_r")
axes[3].set_title("camera, filtered by the two terms")
for ax in axes:
    ax.axis("off")
fig.tight_layout()
plt.show()
