"""The demo's depthwise separable part: the seeds' example computed by real layers, then counted.

Every count is read off the tensors the layers produced (outputs × weights per output) and
checked against ``sepconv.cost``; the NumPy functions recompute the same output from the same
weights. Without PyTorch the NumPy functions do all of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import sepconv
from sepconv import cost

Say = Callable[[str], None]
C, K, N = 3, 5, 256


@dataclass(frozen=True)
class Computed:
    """What one run of the layers gave: (H, W, C) shapes, counted mults and params."""

    by: str
    normal_shape: tuple[int, ...]
    depthwise_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    normal_params: int
    separable_params: int
    max_diff: float  # NumPy functions vs the layers on the same weights

    @property
    def normal_mults(self) -> int:
        return int(np.prod(self.normal_shape)) * K * K * C

    @property
    def depthwise_mults(self) -> int:
        return int(np.prod(self.depthwise_shape)) * K * K

    @property
    def pointwise_mults(self) -> int:
        return int(np.prod(self.output_shape)) * self.depthwise_shape[-1]


def dense_conv(x: np.ndarray, weights: np.ndarray, padding: str) -> np.ndarray:
    """A normal convolution (correlation) of (H, W, C) with Keras weights (k, k, C, N), stride 1."""
    if padding == "same":
        x = np.pad(x, ((K // 2, K // 2), (K // 2, K // 2), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (K, K), axis=(0, 1))  # (H', W', C, k, k)
    return np.einsum("hwcij,ijcn->hwn", windows, weights)


def with_numpy(padding: str, m: int) -> Computed:
    """The example by sepconv's NumPy functions alone (no PyTorch)."""
    rng = np.random.default_rng(0)
    x = rng.random((12, 12, C), dtype=np.float32)
    dw = rng.random((K, K, C, m), dtype=np.float32)
    pw = rng.random((C * m, N), dtype=np.float32)
    normal = dense_conv(x, rng.random((K, K, C, N), dtype=np.float32), padding)
    mid = sepconv.depthwise(x, dw, mode=padding)
    out = sepconv.depthwise_separable(x, dw, pw, mode=padding)
    return Computed("sepconv.depthwise_separable (NumPy)", normal.shape, mid.shape, out.shape,
                    K * K * C * N, dw.size + pw.size, 0.0)


def with_torch(padding: str, m: int) -> Computed:
    """The example by torch.nn.Conv2d and sepconv.nn.SeparableConv2d, checked against NumPy."""
    import torch

    from sepconv import nn as snn

    torch.manual_seed(0)
    x = torch.rand(1, C, 12, 12)
    normal = torch.nn.Conv2d(C, N, K, padding=padding, bias=False)
    layer = snn.SeparableConv2d(C, N, K, depth_multiplier=m, padding=padding, bias=False)
    with torch.no_grad():
        y_normal, mid, y = normal(x), layer.depthwise(x), layer(x)
    dw = layer.depthwise.weight.detach().numpy().reshape(C, m, K, K).transpose(2, 3, 0, 1)
    pw = layer.pointwise.weight.detach().numpy()[:, :, 0, 0].T
    by_numpy = sepconv.depthwise_separable(x[0].permute(1, 2, 0).numpy(), dw, pw, mode=padding)
    diff = float(np.abs(by_numpy - y[0].permute(1, 2, 0).numpy()).max())
    params = sum(p.numel() for p in layer.parameters())
    return Computed("sepconv.nn.SeparableConv2d", hwc(y_normal), hwc(mid), hwc(y),
                    sum(p.numel() for p in normal.parameters()), params, diff)


def hwc(t: Any) -> tuple[int, ...]:
    """(N, C, H, W) tensor → its (H, W, C) shape, the seeds' language."""
    return (*t.shape[2:], t.shape[1])


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def _compute(padding: str, m: int = 1) -> Computed:
    try:
        return with_torch(padding, m)
    except ImportError:
        return with_numpy(padding, m)


def _report(run: Computed, padding: str, say: Say) -> None:
    normal = cost.conv((12, 12, C), K, N, padding=padding)
    sep = cost.depthwise_separable((12, 12, C), K, N, padding=padding)
    agree = (run.normal_mults, run.depthwise_mults + run.pointwise_mults) == (normal.mults, sep.mults)
    label = "no padding" if padding == "valid" else "'same' padding"
    say(f"12×12×3 input, 5×5 kernels, 256 filters, {label} → {_shape(run.output_shape)}: "
        f"{normal.mults:,} multiplications normally, {sep.depthwise.mults:,} + "
        f"{sep.pointwise.mults:,} = {sep.mults:,} depthwise separable "
        f"({normal.mults / sep.mults:.1f}× fewer).")
    say(f"    computed by {run.by}: depthwise {_shape(run.depthwise_shape)} × {K * K} = "
        f"{run.depthwise_mults:,}, pointwise {_shape(run.output_shape)} × {run.depthwise_shape[-1]} "
        f"= {run.pointwise_mults:,}; the normal layer's {_shape(run.normal_shape)} × {K * K * C} = "
        f"{run.normal_mults:,} ({'sepconv.cost agrees' if agree else 'sepconv.cost DISAGREES'}).")
    if run.by.startswith("sepconv.nn"):
        say(f"    sepconv.depthwise_separable (NumPy) on the same weights: max difference "
            f"{run.max_diff:.1e}.")


def depthwise_story(say: Say) -> None:
    """The seeds' example, valid and 'same', plus a depth multiplier of 2."""
    valid = _compute("valid")
    if not valid.by.startswith("sepconv.nn"):
        say("(PyTorch is not installed, so sepconv's NumPy functions compute the layers; "
            "pip install 'sepconv[torch]' for sepconv.nn.)")
    _report(valid, "valid", say)
    _report(_compute("same"), "same", say)
    doubled = _compute("valid", 2)
    say(f"Depth multiplier 2: the depthwise step gives {_shape(doubled.depthwise_shape)} "
        f"(output channel c·2 + j comes from input channel c).")
    say(f"The catch: {valid.separable_params:,} weights instead of {valid.normal_params:,}, "
        "so a network that is already small may learn worse.")
