"""
A MobileNet block and its cost
==============================

MobileNet's block: a 3×3 depthwise convolution, BatchNorm, ReLU6, a 1×1 pointwise convolution,
BatchNorm, ReLU6. :class:`sepconv.nn.SeparableConv2d` with ``between=`` is exactly that;
:func:`sepconv.nn.profile` counts its multiply-adds and parameters beside a dense 3×3 convolution.
"""

import matplotlib.pyplot as plt
import torch
from torch import nn

from sepconv.nn import SeparableConv2d, profile


def mobilenet_block(c_in: int, c_out: int, stride: int = 1) -> nn.Module:
    """3×3 depthwise → BatchNorm → ReLU6 → 1×1 pointwise → BatchNorm → ReLU6."""
    return nn.Sequential(
        SeparableConv2d(c_in, c_out, 3, stride=stride, padding="same", bias=False,
                        between=nn.Sequential(nn.BatchNorm2d(c_in), nn.ReLU6())),
        nn.BatchNorm2d(c_out),
        nn.ReLU6(),
    )


shape = (1, 32, 56, 56)
block = mobilenet_block(32, 64, stride=2).eval()
dense = nn.Sequential(nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False),
                      nn.BatchNorm2d(64), nn.ReLU6()).eval()
print("output:", tuple(block(torch.randn(*shape)).shape))
ours, theirs = profile(block, shape), profile(dense, shape)
print(ours)
print(f"dense: {theirs.macs:,} MACs, {theirs.params:,} params; "
      f"block: {ours.macs:,} MACs, {ours.params:,} params ({theirs.macs / ours.macs:.1f}× fewer MACs)")

widths = [16, 32, 64, 128, 256, 512]
ratios = []
for c in widths:
    sep = profile(mobilenet_block(c, 2 * c), (1, c, 28, 28)).macs
    full = profile(nn.Conv2d(c, 2 * c, 3, padding=1, bias=False), (1, c, 28, 28)).macs
    ratios.append(full / sep)
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
axes[0].bar(["dense 3×3", "MobileNet block"], [theirs.macs, ours.macs], color=["C0", "C1"])
axes[0].set_ylabel("multiply-adds per image")
axes[0].set_title("32 → 64 channels, 56×56, stride 2")
axes[1].plot(widths, ratios, "o-")
axes[1].axhline(9, color="gray", linestyle=":", label="limit k² = 9")
axes[1].set_xscale("log", base=2)
axes[1].set_xlabel("input channels C (output 2C)")
axes[1].set_ylabel("dense MACs ÷ block MACs")
axes[1].legend()
fig.tight_layout()
plt.show()
