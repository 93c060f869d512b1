"""The torch implementation of a validated filter call: padding by index tables, 1-D passes.

Every pass is ordinary torch code (``index_select``, ``conv1d``/``conv2d``), so it runs on any
device, traces (``torch.jit.trace``, ``torch.compile``, ONNX export) and is differentiable with
respect to the input and the weights. Padding is an index table per border mode gathered with
``index_select``; its backward is a scatter-add, which is exactly the adjoint of the padding rule.

``mode='constant'`` pads with ``cval`` itself (as the NumPy engine does: shifting the image by
``cval`` instead would cancel digits when ``cval`` is large). In a chain of 1-D passes, the samples
beyond the edge of an already filtered axis are the filtered constant image: ``cval`` times the
sums of the factors applied so far.

Under ``torch.jit.trace``, ``torch.export`` and ONNX export the passes keep the batch size free
(the rows go into the convolution's batch dimension); in eager mode they are channels of one
grouped convolution, which is faster on CPU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

Terms = Sequence[Sequence[torch.Tensor]]


def pad_index(n: int, before: int, after: int, mode: str, device: torch.device) -> torch.Tensor:
    """Source index of each sample of an axis of length ``n`` padded by ``before``/``after``.

    reflect: period 2n (d c b a | a b c d | d c b a); mirror: period 2n - 2 (d c b | a b c d | c b a);
    nearest: clamp; wrap: period n. Any pad width works (kernels longer than the axis).
    """
    i = torch.arange(-before, n + after, device=device)
    if mode == "nearest":
        return i.clamp(0, n - 1)
    if mode == "wrap":
        return torch.remainder(i, n)
    if mode == "mirror" and n == 1:
        return torch.zeros_like(i)
    period = 2 * n if mode == "reflect" else 2 * n - 2
    j = torch.remainder(i, period)
    return torch.where(j >= n, period - j - (1 if mode == "reflect" else 0), j)


def widths(size: int, origin: int, mode: str) -> tuple[int, int]:
    """Samples needed before and after the axis for a kernel of ``size`` (0, 0 for 'valid')."""
    if mode == "valid":
        return 0, 0
    before = size // 2 + origin
    return before, size - 1 - before


Constant = float | torch.Tensor  # a tensor when it depends on weights that want a gradient


def _portable() -> bool:
    """Whether the graph being recorded must not fix the batch size (trace, export)."""
    return bool(torch.jit.is_tracing() or torch.compiler.is_exporting()
                or torch.onnx.is_in_onnx_export())


def pad_axis(x: torch.Tensor, axis: int, before: int, after: int, mode: str,
             cval: Constant = 0.0) -> torch.Tensor:
    """Extend ``axis`` by ``before``/``after`` samples ('constant': samples equal to ``cval``)."""
    if before == 0 and after == 0:
        return x
    if mode == "constant":
        shape = list(x.shape)
        parts = []
        for width in (before, after):
            shape[axis] = width
            parts.append(x.new_zeros(shape) + cval)
        return torch.cat([parts[0], x, parts[1]], dim=axis)
    return x.index_select(axis, pad_index(x.shape[axis], before, after, mode, x.device))


def correlate_1d(x: torch.Tensor, weights: torch.Tensor, axis: int, mode: str,
                 origin: int, cval: Constant = 0.0) -> torch.Tensor:
    """One 1-D pass: ``out[i] = sum_j w[j] x[i + j - k//2 - origin]`` along ``axis``."""
    k = weights.shape[0]
    before, after = widths(k, origin, mode)
    shape = x.shape
    outer, inner = math.prod(shape[:axis]), math.prod(shape[axis + 1:])
    conv_pad = 0
    if mode == "constant" and before == after and isinstance(cval, float) and cval == 0.0:
        conv_pad = before  # the convolution pads zeros itself: nothing materialized
    else:
        x = pad_axis(x, axis, before, after, mode, cval)
    length = x.shape[axis]
    # A grouped conv2d over one image of `groups` channels: on CPU (oneDNN) 3.6x faster forward +
    # backward than a batch of 1-channel rows (benchmarks/torch_filters.py, 8x3x512², k 7); a
    # recorded graph takes the rows as a batch, so that its batch size stays free.
    portable = _portable()
    if inner > 1:  # (1, outer, length, inner) with a k×1 kernel per channel
        groups, view, kshape, pad = outer, (1, outer, length, inner), (k, 1), (conv_pad, 0)
        if portable:
            groups, view = 1, (-1, 1, length, inner)
    else:  # the last axis: (1, outer / rows, rows, length) with a 1×k kernel
        rows = shape[axis - 1] if axis > 0 else 1
        groups, view, kshape, pad = outer // rows, (1, outer // rows, rows, length), (1, k), (0, conv_pad)
        if portable:
            groups, view = 1, (-1, 1, 1, length)
    w = weights.reshape(1, 1, *kshape).expand(groups, 1, *kshape)
    out = F.conv2d(x.reshape(view), w, padding=pad, groups=groups)
    size = out.shape[2] if inner > 1 else out.shape[3]
    return out.reshape(*shape[:axis], size, *shape[axis + 1:])


def correlate_terms(x: torch.Tensor, terms: Terms, axes: Sequence[int], mode: str,
                    origins: Sequence[int], cval: float = 0.0) -> torch.Tensor:
    """Sum over separable terms of one 1-D pass per axis (rank 1: a single term)."""
    total = None
    for factors in terms:
        y = x
        c: Constant = cval  # the constant image beyond the edges, filtered by the passes so far
        for w, axis, origin in zip(factors, axes, origins):
            y = correlate_1d(y, w, axis, mode, origin, c)
            c = c * w.sum() if mode == "constant" and cval != 0.0 else c
        total = y if total is None else total + y
    assert total is not None
    return total


def correlate_dense(x: torch.Tensor, kernel: torch.Tensor, axes: Sequence[int], mode: str,
                    origins: Sequence[int], cval: float = 0.0) -> torch.Tensor:
    """A dense N-D kernel over ``axes``: pad every axis, then one conv{1,2,3}d (or a sum of them)."""
    for axis, k, origin in zip(axes, kernel.shape, origins):
        x = pad_axis(x, axis, *widths(k, origin, mode), mode, cval)
    return _valid_dense(x, kernel, list(axes))


def _valid_dense(x: torch.Tensor, kernel: torch.Tensor, axes: list[int]) -> torch.Tensor:
    """Correlation without padding; more than 3 axes become a sum over the first kernel axis."""
    d = len(axes)
    if d > 3:
        first, rest = axes[0], axes[1:]
        keep = x.shape[first] - kernel.shape[0] + 1
        parts = [_valid_dense(x.narrow(first, j, keep), kernel[j], rest) for j in range(kernel.shape[0])]
        return torch.stack(parts).sum(0)
    others = [a for a in range(x.ndim) if a not in axes]
    moved = x.permute(*others, *axes)
    batch = moved.shape[:len(others)]
    flat = moved.reshape(-1, 1, *moved.shape[len(others):])
    conv = (F.conv1d, F.conv2d, F.conv3d)[d - 1]
    out = conv(flat, kernel.reshape(1, 1, *kernel.shape))
    out = out.reshape(*batch, *out.shape[2:])
    back = [0] * x.ndim
    for position, axis in enumerate(others + axes):
        back[axis] = position
    return out.permute(*back)


def store(result: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Cast the float result: integers round half to even and saturate (OpenCV's rule)."""
    if dtype.is_floating_point:
        return result.to(dtype)
    info = torch.iinfo(dtype)
    rounded = torch.nan_to_num(result.round(), nan=0.0).clamp(info.min, info.max)
    return rounded.to(dtype)


__all__ = ["correlate_1d", "correlate_dense", "correlate_terms", "pad_index", "store"]
