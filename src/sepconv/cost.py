"""Exact multiplication and parameter counts (integers; the unit is in the name).

Shapes speak the seeds' language: ``input_shape`` is (H, W, C), channels last (any number of
spatial axes works: (L, C) or (D, H, W, C)). Parameter counts are weights only unless
``bias=True``; biases cost additions, not multiplications.

The seeds' worked example:

>>> normal = conv((12, 12, 3), 5, 256)
>>> sep = depthwise_separable((12, 12, 3), 5, 256)
>>> normal.mults, sep.depthwise.mults, sep.pointwise.mults, sep.mults, sep.output_shape
(1228800, 4800, 49152, 53952, (8, 8, 256))
>>> depthwise_separable((12, 12, 3), 5, 256, depth_multiplier=2).depthwise.output_shape
(8, 8, 6)
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._checks import require_int
from ._errors import bad_argument, unknown_choice
from .decompose import LowRankKernel, SeparableKernel, decompose, rank


@dataclass(frozen=True)
class ConvCost:
    """Cost of one convolution layer: ``mults`` per image, ``params`` and the ``output_shape``."""

    mults: int
    params: int
    output_shape: tuple[int, ...]


@dataclass(frozen=True)
class SeparableCost:
    """Cost of a two-step (separable) layer, with its two parts."""

    mults: int
    params: int
    output_shape: tuple[int, ...]
    depthwise: ConvCost
    pointwise: ConvCost


def filter_mults(kernel: object) -> dict[str, int]:
    """Multiplications per output value for each plan that applies to ``kernel``.

    ``direct`` = Π k; ``separable`` = Σ k when the kernel has rank 1; ``lowrank`` = r · Σ k for
    its exact decomposition into r > 1 separable terms.

    >>> filter_mults([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    {'direct': 9, 'separable': 6}
    >>> filter_mults([[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    {'direct': 9, 'lowrank': 12}
    """
    if isinstance(kernel, SeparableKernel):
        return {"direct": math.prod(kernel.shape), "separable": sum(kernel.shape)}
    if isinstance(kernel, LowRankKernel):
        r = kernel.rank
        plan = "separable" if r == 1 else "lowrank"
        return {"direct": math.prod(kernel.shape), plan: r * sum(kernel.shape)}
    k = np.asarray(kernel)
    r = rank(k)
    result = {"direct": int(k.size)}
    if r <= 1:
        result["separable"] = sum(k.shape)
    else:
        result["lowrank"] = decompose(k).rank * sum(k.shape)
    return result


def _tuple(value: object, n: int, name: str) -> tuple[int, ...]:
    seq = tuple(value) if isinstance(value, Sequence) else (value,) * n
    if len(seq) != n:
        raise bad_argument(name, f"an int or {n} ints", value, f"give one {name} per spatial axis")
    return tuple(require_int(v, name) for v in seq)


def _shape(input_shape: object) -> tuple[int, ...]:
    if not isinstance(input_shape, Sequence) or len(input_shape) < 2:
        raise bad_argument("input_shape", "(H, W, C) or another (*spatial, C) tuple", input_shape,
                           "e.g. input_shape=(12, 12, 3)")
    try:
        return tuple(require_int(operator.index(v), "input_shape") for v in input_shape)
    except TypeError:
        raise bad_argument("input_shape", "positive integers", input_shape, "e.g. (12, 12, 3)") from None


def _out_size(n: int, k: int, s: int, padding: str) -> int:
    if padding == "same":
        return -(-n // s)
    if k > n:
        raise bad_argument("kernel_size", f"at most the input size {n} with padding='valid'", k,
                           "use padding='same' or a smaller kernel")
    return (n - k) // s + 1


def _spatial(input_shape: object, kernel_size: object, stride: object, padding: object
             ) -> tuple[tuple[int, ...], int, tuple[int, ...], tuple[int, ...]]:
    shape = _shape(input_shape)
    spatial, channels = shape[:-1], shape[-1]
    if padding not in ("valid", "same"):
        raise unknown_choice("padding", padding, ("same", "valid"))
    ks = _tuple(kernel_size, len(spatial), "kernel_size")
    ss = _tuple(stride, len(spatial), "stride")
    out = tuple(_out_size(n, k, s, str(padding)) for n, k, s in zip(spatial, ks, ss))
    return spatial, channels, ks, out


def conv(input_shape: Sequence[int], kernel_size: int | Sequence[int], filters: int, *,
         stride: int | Sequence[int] = 1, padding: str = "valid", bias: bool = False) -> ConvCost:
    """A normal convolution: ``Π out · Π k · C · N`` multiplications, ``Π k · C · N`` weights."""
    _, channels, ks, out = _spatial(input_shape, kernel_size, stride, padding)
    n = require_int(filters, "filters")
    weights = math.prod(ks) * channels * n
    return ConvCost(math.prod(out) * weights, weights + (n if bias else 0), (*out, n))


def depthwise_separable(input_shape: Sequence[int], kernel_size: int | Sequence[int], filters: int,
                        *, depth_multiplier: int = 1, stride: int | Sequence[int] = 1,
                        padding: str = "valid", bias: bool = False) -> SeparableCost:
    """Depthwise (one kernel per channel, ×m) then pointwise 1×1 to ``filters`` channels.

    Stride acts on the depthwise step; with ``bias=True`` one bias of ``filters`` values follows the
    pointwise step (Keras's SeparableConv).
    """
    _, channels, ks, out = _spatial(input_shape, kernel_size, stride, padding)
    m = require_int(depth_multiplier, "depth_multiplier")
    n = require_int(filters, "filters")
    mid = channels * m
    dw = ConvCost(math.prod(out) * math.prod(ks) * mid, math.prod(ks) * mid, (*out, mid))
    pw_weights = mid * n
    pw = ConvCost(math.prod(out) * pw_weights, pw_weights + (n if bias else 0), (*out, n))
    return SeparableCost(dw.mults + pw.mults, dw.params + pw.params, pw.output_shape, dw, pw)


def spatial_separable(input_shape: Sequence[int], kernel_size: int | Sequence[int], filters: int,
                      *, mid_channels: int | None = None, stride: int | Sequence[int] = 1,
                      padding: str = "valid", bias: bool = False) -> SeparableCost:
    """A kh×1 convolution C → mid, then a 1×kw convolution mid → N (2-D inputs, (H, W, C)).

    ``mid_channels`` defaults to ``filters`` (Inception's factorized blocks). The parts are
    reported as ``depthwise`` (the vertical step) and ``pointwise`` (the horizontal step).
    """
    (_, w), channels, (kh, kw), (ho, wo) = _spatial2d(input_shape, kernel_size, stride, padding)
    n = require_int(filters, "filters")
    mid = n if mid_channels is None else require_int(mid_channels, "mid_channels")
    v = ConvCost(ho * w * kh * channels * mid, kh * channels * mid, (ho, w, mid))
    hz = ConvCost(ho * wo * kw * mid * n, kw * mid * n + (n if bias else 0), (ho, wo, n))
    return SeparableCost(v.mults + hz.mults, v.params + hz.params, hz.output_shape, v, hz)


def _spatial2d(input_shape: object, kernel_size: object, stride: object, padding: object
               ) -> tuple[tuple[int, ...], int, tuple[int, ...], tuple[int, ...]]:
    shape = _shape(input_shape)
    if len(shape) != 3:
        raise bad_argument("input_shape", "(H, W, C) for a spatially separable layer", input_shape,
                           "give a 2-D image shape with channels")
    return _spatial(shape, kernel_size, stride, padding)


__all__ = ["ConvCost", "SeparableCost", "conv", "depthwise_separable", "filter_mults",
           "spatial_separable"]
