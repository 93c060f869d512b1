"""Slow, obviously correct loop implementations: the ground truth for tests.

Nothing here is vectorized or clever. Each output value is a plain sum over kernel taps, with the
border rule written out as an index mapping. Use small arrays only.
"""

from __future__ import annotations

import itertools

import numpy as np


def source_index(i: int, n: int, mode: str) -> int | None:
    """The input index read for (possibly out-of-range) index ``i`` on an axis of length ``n``.

    ``None`` means "outside: use cval" (mode 'constant').
    """
    if 0 <= i < n:
        return i
    if mode == "constant":
        return None
    if mode == "nearest":
        return 0 if i < 0 else n - 1
    if mode == "wrap":
        return i % n
    if mode == "reflect":  # d c b a | a b c d | d c b a: period 2n
        j = i % (2 * n)
        return j if j < n else 2 * n - 1 - j
    if mode == "mirror":  # d c b | a b c d | c b a: period 2n - 2
        if n == 1:
            return 0
        j = i % (2 * n - 2)
        return j if j < n else 2 * n - 2 - j
    raise ValueError(f"unknown mode {mode!r}")


def correlate(x: np.ndarray, kernel: np.ndarray, mode: str = "reflect", cval: float = 0.0,
              origin: tuple[int, ...] | int = 0) -> np.ndarray:
    """out[i] = Σ_j kernel[j] · x[i + j - k//2 - origin] per axis (scipy.ndimage.correlate).

    ``mode='valid'`` keeps only outputs whose window lies inside ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    origins = (origin,) * x.ndim if isinstance(origin, int) else tuple(origin)
    starts = [-(k // 2) - o for k, o in zip(kernel.shape, origins)]
    if mode == "valid":
        starts = [0] * x.ndim
        out_shape = tuple(n - k + 1 for n, k in zip(x.shape, kernel.shape))
    else:
        out_shape = x.shape
    out = np.zeros(out_shape)
    for i in itertools.product(*(range(n) for n in out_shape)):
        total = 0.0
        for j in itertools.product(*(range(k) for k in kernel.shape)):
            src = [source_index(a + b + s, n, mode) for a, b, s, n in zip(i, j, starts, x.shape)]
            value = cval if any(s is None for s in src) else x[tuple(src)]
            total += kernel[j] * value
        out[i] = total
    return out


def conv2d(x: np.ndarray, kernels: np.ndarray, stride: int = 1) -> np.ndarray:
    """Full ("normal") convolution layer, valid padding: (H, W, C) with (kh, kw, C, N) → (H', W', N).

    A correlation, as in deep-learning frameworks: out[y, x, n] = Σ k[dy, dx, c, n] · in[...].
    """
    h, w, c = x.shape
    kh, kw, _, n = kernels.shape
    ho, wo = (h - kh) // stride + 1, (w - kw) // stride + 1
    out = np.zeros((ho, wo, n))
    for y in range(ho):
        for xx in range(wo):
            for f in range(n):
                total = 0.0
                for dy in range(kh):
                    for dx in range(kw):
                        for ch in range(c):
                            total += kernels[dy, dx, ch, f] * x[y * stride + dy, xx * stride + dx, ch]
                out[y, xx, f] = total
    return out


def depthwise(x: np.ndarray, kernels: np.ndarray, stride: int = 1) -> np.ndarray:
    """Depthwise convolution, valid padding: (H, W, C) with (kh, kw, C, m) → (H', W', C·m).

    Output channel c·m + j is input channel c correlated with kernels[:, :, c, j].
    """
    h, w, c = x.shape
    kh, kw, _, m = kernels.shape
    ho, wo = (h - kh) // stride + 1, (w - kw) // stride + 1
    out = np.zeros((ho, wo, c * m))
    for y in range(ho):
        for xx in range(wo):
            for ch in range(c):
                for j in range(m):
                    total = 0.0
                    for dy in range(kh):
                        for dx in range(kw):
                            total += kernels[dy, dx, ch, j] * x[y * stride + dy, xx * stride + dx, ch]
                    out[y, xx, ch * m + j] = total
    return out


def pointwise(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """1×1 convolution: (H, W, C) with (C, N) → (H, W, N)."""
    h, w, c = x.shape
    n = weights.shape[1]
    out = np.zeros((h, w, n))
    for y in range(h):
        for xx in range(w):
            for f in range(n):
                out[y, xx, f] = sum(x[y, xx, ch] * weights[ch, f] for ch in range(c))
    return out
