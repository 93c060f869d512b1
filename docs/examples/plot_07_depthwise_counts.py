"""
The 12×12×3 depthwise separable example, counted
================================================

A 12×12×3 input, 5×5 kernels, 256 filters, no padding: the normal convolution makes 8×8×256
outputs of 5·5·3 = 75 multiplications each. The depthwise separable one first filters each of the
3 channels with its own 5×5 kernel (8·8·3·25 = 4,800), then mixes the 3 channels into 256 with a
1×1 convolution (8·8·256·3 = 49,152). :mod:`sepconv.cost` counts every form.
"""

import matplotlib.pyplot as plt
import numpy as np

import sepconv
from sepconv import cost

normal = cost.conv((12, 12, 3), 5, 256)
separable = cost.depthwise_separable((12, 12, 3), 5, 256)
print(f"normal:    {normal.mults:>9,} multiplications, {normal.params:>6,} weights, "
      f"output {normal.output_shape}")
print(f"separable: {separable.mults:>9,} = {separable.depthwise.mults:,} + "
      f"{separable.pointwise.mults:,}, {separable.params:>6,} weights")
print(f"{normal.mults / separable.mults:.1f}× fewer multiplications")

# The same numbers, computed: NumPy depthwise separable on random weights.
rng = np.random.default_rng(0)
x = rng.random((12, 12, 3), dtype=np.float32)
y = sepconv.depthwise_separable(x, rng.random((5, 5, 3, 1), dtype=np.float32),
                                rng.random((3, 256), dtype=np.float32))
print("output shape:", y.shape)

ks = np.arange(1, 12)
channels, filters = 128, 256
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
axes[0].bar(["normal", "depthwise", "pointwise", "separable\n(total)"],
            [normal.mults, separable.depthwise.mults, separable.pointwise.mults, separable.mults],
            color=["C0", "C1", "C2", "C3"])
axes[0].set_yscale("log")
axes[0].set_ylabel("multiplications")
axes[0].set_title("12×12×3 → 8×8×256, 5×5 kernels")
axes[1].plot(ks, ks**2 * channels * filters, label="normal: k²·C·N")
axes[1].plot(ks, ks**2 * channels + channels * filters, label="separable: k²·C + C·N")
axes[1].set_yscale("log")
axes[1].set_xlabel("kernel size k")
axes[1].set_title(f"per output position, C = {channels}, N = {filters}")
axes[1].legend()
fig.tight_layout()
plt.show()
