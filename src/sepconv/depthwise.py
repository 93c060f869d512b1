"""Depthwise, pointwise and depthwise separable convolution on NumPy arrays (no torch).

Channels last, as in the seeds and Keras: the input is ``(..., *spatial, C)`` (for images
``(H, W, C)``, optionally with leading batch axes). Weights use Keras's layouts: depthwise
kernels ``(*k, C, m)`` (``(kh, kw, C, m)`` in 2-D), pointwise weights ``(C·m, N)`` (Keras's
``(1, 1, C·m, N)`` is accepted too). Output channel ``c·m + j`` comes from input channel ``c``
and multiplier index ``j``. Like the layers these are correlations (no kernel flip).

``mode`` is ``'valid'`` (no padding), ``'same'`` (zeros, TensorFlow's rule: output size
``ceil(n / stride)``, the odd extra padding pixel at the end) or any border mode of
:func:`sepconv.correlate` (output the input's size before striding, anchor at ``k // 2``).

The seeds' example, 12×12×3 with 5×5 kernels and 256 filters:

>>> rng = np.random.default_rng(0)
>>> x = rng.random((12, 12, 3), dtype=np.float32)
>>> dw = rng.random((5, 5, 3, 1), dtype=np.float32)
>>> pw = rng.random((3, 256), dtype=np.float32)
>>> depthwise_separable(x, dw, pw).shape
(8, 8, 256)
>>> depthwise(x, rng.random((5, 5, 3, 2))).shape
(8, 8, 6)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _checks, _plan
from ._errors import bad_argument, unknown_choice


def _strides(stride: object, n: int) -> tuple[int, ...]:
    seq = tuple(stride) if isinstance(stride, Sequence) else (stride,) * n
    if len(seq) != n:
        raise bad_argument("stride", f"an int or {n} ints", stride, "give one stride per axis")
    return tuple(_checks.require_int(s, "stride") for s in seq)


def _pad_input(x: np.ndarray, ks: tuple[int, ...], strides: tuple[int, ...], mode: str,
               cval: float) -> np.ndarray:
    """Pad the spatial axes (``-len(ks)-1 .. -2``) for ``mode``; 'valid' pads nothing."""
    first = x.ndim - 1 - len(ks)
    for i, (k, s) in enumerate(zip(ks, strides)):
        axis, n = first + i, x.shape[first + i]
        if mode == "same":
            total = max((-(-n // s) - 1) * s + k - n, 0)
            x = _plan._pad(x, axis, (total // 2, total - total // 2), "constant", 0.0)
        elif mode != "valid":
            x = _plan._pad(x, axis, _plan.pad_widths(k, 0), mode, cval)
        if x.shape[axis] < k:
            raise bad_argument("depthwise_kernels", f"a kernel no larger than the padded input "
                               f"({x.shape[axis]}) along spatial axis {i}", f"size {k}",
                               "use a smaller kernel or mode='same'")
    return x


def _mode(mode: object) -> str:
    if isinstance(mode, str) and mode.lower() == "same":
        return "same"
    try:
        return _checks.canonical_mode(mode)
    except _checks.SepconvError:
        raise unknown_choice("mode", mode, (*_checks.MODES, "same")) from None


def depthwise(input: object, kernels: object, *, depth_multiplier: int | None = None,
              mode: str = "valid", stride: int | Sequence[int] = 1, cval: float = 0.0
              ) -> np.ndarray:
    """One kernel (×m) per input channel: ``(..., *spatial, C)`` → ``(..., *spatial', C·m)``.

    ``kernels`` has shape ``(*k, C, m)`` (or ``(*k, C)`` for m = 1); ``depth_multiplier`` is
    read from it and, if given, checked.
    """
    x = _checks.as_input(input)
    k = _checks.as_kernel(kernels, "kernels")
    if k.ndim < 2 or k.ndim > x.ndim + 1:
        raise bad_argument("kernels", "shape (*k, C, m) with one k per spatial axis",
                           f"shape {k.shape} for input of shape {x.shape}", "use Keras's layout")
    if k.ndim == x.ndim:  # (*k, C): multiplier 1
        k = k[..., None]
    ks, c, m = k.shape[:-2], k.shape[-2], k.shape[-1]
    if depth_multiplier is not None and _checks.require_int(depth_multiplier, "depth_multiplier") != m:
        raise bad_argument(
            "depth_multiplier", f"{m}, the last axis of kernels of shape {k.shape} (*k, C, m)",
            f"depth_multiplier={depth_multiplier}",
            f"pass depth_multiplier={m}, drop it, or give kernels of shape "
            f"{(*ks, c, depth_multiplier)}")
    if x.shape[-1] != c:
        raise bad_argument("input", f"{c} channels in the last axis (the kernels' C)",
                           f"shape {x.shape}", "pass channels-last input (H, W, C)")
    strides = _strides(stride, len(ks))
    dtype = _checks.compute_dtype(x.dtype, None)
    padded = _pad_input(x, ks, strides, _mode(mode), _checks.as_float(cval, "cval"))
    first = x.ndim - 1 - len(ks)
    out_sizes = [(padded.shape[first + i] - kk) // s + 1 for i, (kk, s) in enumerate(zip(ks, strides))]
    out = np.zeros((*x.shape[:first], *out_sizes, c, m), dtype=dtype)
    weights = k.astype(dtype)
    for tap in np.ndindex(*ks):
        index = [slice(None)] * first + [
            slice(t, t + (n - 1) * s + 1, s) for t, n, s in zip(tap, out_sizes, strides)
        ]
        out += padded[(*index, slice(None))].astype(dtype)[..., None] * weights[tap]
    return out.reshape(*out.shape[:-2], c * m).astype(_checks.result_dtype(x.dtype), copy=False)


def pointwise(input: object, weights: object, *, bias: object = None) -> np.ndarray:
    """A 1×1 convolution: ``(..., C·m)`` @ ``(C·m, N)`` (+ bias) → ``(..., N)``."""
    x = _checks.as_input(input)
    w = _checks.as_kernel(weights, "weights")
    if w.ndim > 2 and all(n == 1 for n in w.shape[:-2]):
        w = w.reshape(w.shape[-2:])
    if w.ndim != 2 or w.shape[0] != x.shape[-1]:
        raise bad_argument("weights", f"shape ({x.shape[-1]}, N) for input with {x.shape[-1]} "
                           "channels", f"shape {w.shape}", "use Keras's layout (C·m, N)")
    dtype = _checks.compute_dtype(x.dtype, None)
    out = x.astype(dtype, copy=False) @ w.astype(dtype)
    if bias is not None:
        b = _checks.as_kernel(bias, "bias")
        if b.shape != (w.shape[1],):
            raise bad_argument("bias", f"shape ({w.shape[1]},)", f"shape {b.shape}",
                               "give one bias per output channel")
        out += b.astype(dtype)
    return out.astype(_checks.result_dtype(x.dtype), copy=False)


def depthwise_separable(input: object, depthwise_kernels: object, pointwise_weights: object, *,
                        depth_multiplier: int | None = None, bias: object = None,
                        mode: str = "valid", stride: int | Sequence[int] = 1,
                        cval: float = 0.0) -> np.ndarray:
    """Depthwise then pointwise, with no bias or activation between them (Keras semantics).

    ``depth_multiplier`` is read from ``depthwise_kernels`` (``(*k, C, m)``) and, if given,
    checked against it, as in :func:`depthwise`.
    """
    x = _checks.as_input(input)
    dtype = _checks.compute_dtype(x.dtype, None)
    mid = depthwise(x.astype(dtype, copy=False), depthwise_kernels,
                    depth_multiplier=depth_multiplier, mode=mode, stride=stride, cval=cval)
    out = pointwise(mid, pointwise_weights, bias=bias)
    return out.astype(_checks.result_dtype(x.dtype), copy=False)


__all__ = ["depthwise", "depthwise_separable", "pointwise"]
