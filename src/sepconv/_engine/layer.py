"""Numba kernels of the fused depthwise (separable) layer path of :mod:`sepconv.nn` (issue 9).

They work on NumPy views of torch tensors: every array is C-contiguous, float32 or float64, and
the caller (``sepconv.nn._fused``) has validated shapes. Stride is 1; dilation and zero padding
(any amounts, also negative, which crops) are handled here. Each ``*_band`` function releases
the GIL and covers output rows ``[r0, r1)`` of one image for all channels, so threads split an
image into bands.

How a band is computed: one channel's input rows are copied into a zero-padded buffer ``pad`` of
row pitch ``Wp = Wo + (kw - 1)·dw``. In that buffer, output position ``i = y·Wp + x`` reads tap
``(ky, kx)`` at ``pad[i + ky·dh·Wp + kx·dw]`` for every tap, so a whole band is one long flat
loop per tap group (LLVM vectorizes it; rows of 56 pixels alone are too short for that) and the
columns ``x >= Wo`` of each row are scratch, dropped when the band is stored. Taps go four per
sweep, so the accumulator is read and written ~k²/4 times, not k² (benchmarks/layers.py).

All helpers live in this file: numba's disk cache is invalidated by edits to the file that
defines a function, not by edits to helpers it calls in other files.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# 'contract' fuses a*b+c into one FMA; nothing else of fast-math, so sums are reproducible.
_jit = njit(cache=True, nogil=True, boundscheck=False, fastmath={"contract"})
_inline = njit(cache=True, nogil=True, boundscheck=False, fastmath={"contract"}, inline="always")
# the weight gradient is a sum over positions: 'reassoc' lets LLVM vectorize it
_reduce = njit(cache=True, nogil=True, boundscheck=False, fastmath={"contract", "reassoc"})


@_inline
def _offsets(kh, kw, dh, dw, pitch):
    """Flat offset of every tap (row-major) in a buffer of row pitch ``pitch``."""
    offs = np.empty(kh * kw, np.int64)
    for ky in range(kh):
        for kx in range(kw):
            offs[ky * kw + kx] = ky * dh * pitch + kx * dw
    return offs


@_inline
def _flat(kernel, wts):
    """``wts[ky·kw + kx] = kernel[ky, kx]``."""
    kh, kw = kernel.shape
    for ky in range(kh):
        for kx in range(kw):
            wts[ky * kw + kx] = kernel[ky, kx]


@_inline
def _columns(width, left, pitch):
    """Columns ``[lo, hi)`` of a buffer row that hold image pixels (the rest stay zero)."""
    return min(max(left, 0), pitch), min(max(left + width, 0), pitch)


@_inline
def _load(image, y0, rows, left, pad, pitch):
    """``pad[r, j] = image[y0 + r, j - left]`` where that pixel exists, for r < rows, j < pitch.

    Nothing else is written: ``pad`` is zeroed once per band, and the rows and columns outside
    the image are the same for every channel, so they stay zero.
    """
    height, width = image.shape
    lo, hi = _columns(width, left, pitch)
    flat = image.reshape(height * width)
    for r in range(max(0, -y0), min(rows, height - y0)):
        src = flat[(y0 + r) * width + lo - left:(y0 + r) * width + hi - left]
        dst = pad[r * pitch + lo:r * pitch + hi]
        for j in range(hi - lo):
            dst[j] = src[j]


@_inline
def _sweep(acc, pad, offs, wts, t, count, n, assign):
    """``acc[i] (=|+=) Σ wts[t + u] · pad[offs[t + u] + i]`` for u < count (1..4), i < n."""
    a = pad[offs[t]:offs[t] + n]
    w0 = wts[t]
    if count == 1:
        for i in range(n):
            acc[i] = w0 * a[i] if assign else acc[i] + w0 * a[i]
        return
    b = pad[offs[t + 1]:offs[t + 1] + n]
    w1 = wts[t + 1]
    if count == 2:
        for i in range(n):
            acc[i] = (w0 * a[i] + w1 * b[i]) if assign else acc[i] + (w0 * a[i] + w1 * b[i])
        return
    c = pad[offs[t + 2]:offs[t + 2] + n]
    w2 = wts[t + 2]
    if count == 3:
        for i in range(n):
            s = w0 * a[i] + w1 * b[i] + w2 * c[i]
            acc[i] = s if assign else acc[i] + s
        return
    d = pad[offs[t + 3]:offs[t + 3] + n]
    w3 = wts[t + 3]
    for i in range(n):
        s = (w0 * a[i] + w1 * b[i]) + (w2 * c[i] + w3 * d[i])
        acc[i] = s if assign else acc[i] + s


@_inline
def _taps(acc, pad, offs, wts, n, assign):
    """All taps into ``acc``: the first sweep takes the 1-4 leftover taps (and assigns).

    Sweeps of 8 taps were no faster for 3×3 and 6% faster for 7×7 (benchmarks/layers.py).
    """
    taps = offs.shape[0]
    first = taps - 4 * ((taps - 1) // 4)
    _sweep(acc, pad, offs, wts, 0, first, n, assign)
    for t in range(first, taps, 4):
        _sweep(acc, pad, offs, wts, t, 4, n, False)


@_inline
def _store(acc, dst, pitch, bias):
    """``dst[r, :] = acc[r·pitch : r·pitch + Wo] + bias`` (the scratch columns are dropped)."""
    rows, width = dst.shape
    for r in range(rows):
        src = acc[r * pitch:r * pitch + width]
        row = dst[r]
        for j in range(width):
            row[j] = src[j] + bias


@_jit
def depthwise_band(x, w, bias, out, b, r0, r1, ob, orow, mult, pt, pl, dh, dw):
    """``out[ob, c·mult + j, orow + y - r0] = bias + depthwise(x[b])`` for output rows y in [r0, r1).

    ``x`` (N, C, H, W); ``w`` (C·mult, kh, kw); ``bias`` (C·mult,); ``out`` (·, C·mult, ·, Wo).
    Zero padding ``pt`` above and ``pl`` left (the bottom/right pads follow from the shapes).
    """
    channels = x.shape[1]
    kh, kw = w.shape[1], w.shape[2]
    width = out.shape[3]
    rows = r1 - r0
    pitch = width + (kw - 1) * dw
    n = rows * pitch
    offs = _offsets(kh, kw, dh, dw, pitch)
    pad = np.zeros((rows + (kh - 1) * dh) * pitch + (kw - 1) * dw, x.dtype)
    acc = np.empty(n, x.dtype)
    wts = np.empty(kh * kw, x.dtype)
    for c in range(channels):
        _load(x[b, c], r0 - pt, rows + (kh - 1) * dh, pl, pad, pitch)
        for j in range(mult):
            cm = c * mult + j
            _flat(w[cm], wts)
            _taps(acc, pad, offs, wts, n, True)
            _store(acc, out[ob, cm, orow:orow + rows], pitch, bias[cm])


@_jit
def depthwise_pitched_band(x, w, mid, b, r0, r1, mult, pt, pl, dh, dw):
    """``mid[c·mult + j]`` = depthwise(x[b]) on output rows [r0, r1), rows of ``pitch`` numbers.

    For the separable layer's matrix product: ``mid`` is (C·mult, rows·pitch) with ``pitch =
    Wo + (kw - 1)·dw``; the last ``pitch - Wo`` numbers of each row are scratch, dropped when
    the product is copied into the output. Skipping the compaction saves a pass (~10%).
    """
    channels = x.shape[1]
    kh, kw = w.shape[1], w.shape[2]
    rows = r1 - r0
    pitch = mid.shape[1] // rows
    offs = _offsets(kh, kw, dh, dw, pitch)
    pad = np.zeros((rows + (kh - 1) * dh) * pitch + (kw - 1) * dw, x.dtype)
    wts = np.empty(kh * kw, x.dtype)
    for c in range(channels):
        _load(x[b, c], r0 - pt, rows + (kh - 1) * dh, pl, pad, pitch)
        for j in range(mult):
            cm = c * mult + j
            _flat(w[cm], wts)
            _taps(mid[cm], pad, offs, wts, rows * pitch, True)


@_jit
def depthwise_transpose_band(g, wflip, out, gb, b, r0, r1, mult, pt, pl, dh, dw):
    """The input gradient: ``out[b, c, y] = Σ_j depthwise(g[gb, c·mult + j], wflip)``, y in [r0, r1).

    ``wflip`` is the weight flipped on both spatial axes and ``pt``, ``pl`` the transposed pads
    (``(k - 1)·d - pad``), so the transpose of a stride-1 correlation is again a correlation.
    """
    channels = out.shape[1]
    kh, kw = wflip.shape[1], wflip.shape[2]
    width = out.shape[3]
    rows = r1 - r0
    pitch = width + (kw - 1) * dw
    n = rows * pitch
    offs = _offsets(kh, kw, dh, dw, pitch)
    pad = np.zeros((rows + (kh - 1) * dh) * pitch + (kw - 1) * dw, g.dtype)
    acc = np.empty(n, g.dtype)
    wts = np.empty(kh * kw, g.dtype)
    zero = np.zeros(1, g.dtype)
    for c in range(channels):
        for j in range(mult):
            cm = c * mult + j
            _load(g[gb, cm], r0 - pt, rows + (kh - 1) * dh, pl, pad, pitch)
            _flat(wflip[cm], wts)
            if j == 0:  # a literal flag: numba drops the untaken branch from the loop
                _taps(acc, pad, offs, wts, n, True)
            else:
                _taps(acc, pad, offs, wts, n, False)
        _store(acc, out[b, c, r0:r1], pitch, zero[0])


@_reduce
def depthwise_weight_grad_band(x, g, gw, b, gb, r0, r1, mult, pt, pl, dh, dw):
    """``gw[c·mult + j, ky, kx] += Σ g[gb, cm, y, x] · x_padded[b, c, y + ky·dh, x + kx·dw]``, y in [r0, r1).

    ``g`` (·, C·mult, Ho, Wo) is the gradient of the depthwise output; ``gw`` (C·mult, kh, kw).
    The gradient is loaded with the same pitch as the input, zero in the scratch columns.
    """
    channels = x.shape[1]
    kh, kw = gw.shape[1], gw.shape[2]
    width = g.shape[3]
    rows = r1 - r0
    pitch = width + (kw - 1) * dw
    n = rows * pitch
    offs = _offsets(kh, kw, dh, dw, pitch)
    pad = np.zeros((rows + (kh - 1) * dh) * pitch + (kw - 1) * dw, x.dtype)
    grad = np.zeros(n, x.dtype)
    zero = np.zeros(1, x.dtype)
    for c in range(channels):
        _load(x[b, c], r0 - pt, rows + (kh - 1) * dh, pl, pad, pitch)
        for j in range(mult):
            cm = c * mult + j
            _load(g[gb, cm], r0, rows, 0, grad, pitch)
            for t in range(kh * kw):
                src = pad[offs[t]:offs[t] + n]
                s = zero[0]
                for i in range(n):
                    s += grad[i] * src[i]
                gw[cm, t // kw, t % kw] += s
