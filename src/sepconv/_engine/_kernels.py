"""The numba hot loops. Every numba function of the engine lives in this one file.

Why one file: numba's on-disk cache (``cache=True``) is invalidated by edits to the file that
defines a function, not by edits to the helpers it calls; keeping callers and helpers together
means a cached kernel can never be stale.

Memory layout seen by the kernels (built by ``_layout.py``): every array is a 1-D C-contiguous
*flat* view of its memory, and a "row" is ``flat[start : start + length]`` with a unit inner
stride. Inner loops therefore index with the loop variable only, so LLVM vectorizes them
(numba's wraparound checks vanish when the index is provably non-negative).

Geometry of a 2-axis (fused) pass, in elements: the input is ``(A, n_a, M, L)`` with ``L = n_b·C``
contiguous; ``xbase[a·M + m]`` is where ``x[a, 0, m, :]`` starts and ``x_row`` the stride of axis
``a``. Borders are index tables (``_tables.py``): ``table[s]`` is the source index of extended
position ``s`` or -1 for the constant.

Threads: the functions named ``*_band`` release the GIL (``nogil``) and process a contiguous range
of output rows; ``_threads.py`` runs one band per thread. Each band allocates its own small
buffers (a padded row, a column block), so peak memory is the output plus those buffers.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import overload

# 'contract' lets LLVM fuse a*b+c into one FMA (one rounding instead of two); nothing else of
# fast-math is on, so results stay deterministic and NaN/Inf propagate as in scipy.
_jit = njit(cache=True, nogil=True, boundscheck=False, fastmath={"contract"})
# the innermost helpers are inlined at numba's level: a non-inlined call costs ~50 ns
_inline = njit(cache=True, nogil=True, boundscheck=False, fastmath={"contract"}, inline="always")


def as_dtype_of(value, like):  # stub for numba's overload
    return like.dtype.type(value)


@overload(as_dtype_of, inline="always")
def _as_dtype_of(value, like):
    dtype = like.dtype

    def impl(value, like):
        return dtype(value)

    return impl


@_jit
def _accumulate(dest, src, base, starts, wts, count, add, bias):
    """``dest[j] (=|+=) bias + Σ_t wts[t] · src[base + starts[t] + j]``, src cast to dest's dtype.

    Taps go four per sweep over ``dest`` (a row in L1) so ``dest`` is read and written ~k/4
    times, not k; the first sweep takes the 1-4 leftover taps and assigns, so a 3-tap filter
    is one write-only sweep (benchmarks/filters.py, k = 3: ~15% faster than a 1-tap first sweep).
    """
    n = dest.shape[0]
    bias = as_dtype_of(bias, dest)  # keep float32 sums in float32
    if count == 0:
        for j in range(n):
            dest[j] = dest[j] + bias if add else bias
        return
    m = count - 4 * ((count - 1) // 4)
    _sweep(dest, src, base, starts, wts, 0, m, add, bias)
    t = m
    while t + 8 <= count:
        _sweep8(dest, src, base, starts, wts, t)
        t += 8
    if t < count:
        r0 = src[base + starts[t]:base + starts[t] + n]
        r1 = src[base + starts[t + 1]:base + starts[t + 1] + n]
        r2 = src[base + starts[t + 2]:base + starts[t + 2] + n]
        r3 = src[base + starts[t + 3]:base + starts[t + 3] + n]
        w0, w1, w2, w3 = wts[t], wts[t + 1], wts[t + 2], wts[t + 3]
        for j in range(n):
            dest[j] += (w0 * as_dtype_of(r0[j], dest) + w1 * as_dtype_of(r1[j], dest)) + (
                w2 * as_dtype_of(r2[j], dest) + w3 * as_dtype_of(r3[j], dest))


@_inline
def _sweep8(dest, src, base, starts, wts, t):
    """``dest += Σ`` of taps ``t .. t+7``: one load and store of ``dest`` per eight taps."""
    n = dest.shape[0]
    r0 = src[base + starts[t]:base + starts[t] + n]
    r1 = src[base + starts[t + 1]:base + starts[t + 1] + n]
    r2 = src[base + starts[t + 2]:base + starts[t + 2] + n]
    r3 = src[base + starts[t + 3]:base + starts[t + 3] + n]
    r4 = src[base + starts[t + 4]:base + starts[t + 4] + n]
    r5 = src[base + starts[t + 5]:base + starts[t + 5] + n]
    r6 = src[base + starts[t + 6]:base + starts[t + 6] + n]
    r7 = src[base + starts[t + 7]:base + starts[t + 7] + n]
    w0, w1, w2, w3 = wts[t], wts[t + 1], wts[t + 2], wts[t + 3]
    w4, w5, w6, w7 = wts[t + 4], wts[t + 5], wts[t + 6], wts[t + 7]
    for j in range(n):
        dest[j] += ((w0 * as_dtype_of(r0[j], dest) + w1 * as_dtype_of(r1[j], dest))
                    + (w2 * as_dtype_of(r2[j], dest) + w3 * as_dtype_of(r3[j], dest))) + (
                    (w4 * as_dtype_of(r4[j], dest) + w5 * as_dtype_of(r5[j], dest))
                    + (w6 * as_dtype_of(r6[j], dest) + w7 * as_dtype_of(r7[j], dest)))


@_inline
def _sweep(dest, src, base, starts, wts, t, m, add, bias):
    """One pass over ``dest`` with taps ``t .. t+m-1`` (1 <= m <= 4): ``dest (=|+=) bias + Σ``."""
    n = dest.shape[0]
    r0 = src[base + starts[t]:base + starts[t] + n]
    r1 = src[base + starts[t + 1]:base + starts[t + 1] + n] if m > 1 else r0
    r2 = src[base + starts[t + 2]:base + starts[t + 2] + n] if m > 2 else r0
    r3 = src[base + starts[t + 3]:base + starts[t + 3] + n] if m > 3 else r0
    w0 = wts[t]
    w1 = wts[t + 1] if m > 1 else w0
    w2 = wts[t + 2] if m > 2 else w0
    w3 = wts[t + 3] if m > 3 else w0
    if add:  # separate loops: LLVM does not always unswitch a loop-invariant select
        if m == 4:
            for j in range(n):
                dest[j] += (w0 * as_dtype_of(r0[j], dest) + w1 * as_dtype_of(r1[j], dest)) + (
                    w2 * as_dtype_of(r2[j], dest) + w3 * as_dtype_of(r3[j], dest))
        elif m == 3:
            for j in range(n):
                dest[j] += (w0 * as_dtype_of(r0[j], dest) + w1 * as_dtype_of(r1[j], dest)) + (
                    w2 * as_dtype_of(r2[j], dest))
        elif m == 2:
            for j in range(n):
                dest[j] += w0 * as_dtype_of(r0[j], dest) + w1 * as_dtype_of(r1[j], dest)
        else:
            for j in range(n):
                dest[j] += w0 * as_dtype_of(r0[j], dest)
    elif m == 4:
        for j in range(n):
            dest[j] = bias + (w0 * as_dtype_of(r0[j], dest) + w1 * as_dtype_of(r1[j], dest)) + (
                w2 * as_dtype_of(r2[j], dest) + w3 * as_dtype_of(r3[j], dest))
    elif m == 3:
        for j in range(n):
            dest[j] = bias + (w0 * as_dtype_of(r0[j], dest) + w1 * as_dtype_of(r1[j], dest)) + (
                w2 * as_dtype_of(r2[j], dest))
    elif m == 2:
        for j in range(n):
            dest[j] = bias + w0 * as_dtype_of(r0[j], dest) + w1 * as_dtype_of(r1[j], dest)
    else:
        for j in range(n):
            dest[j] = bias + w0 * as_dtype_of(r0[j], dest)


@_jit
def _load(dest, src, start):
    """Copy ``src[start : start + len(dest)]`` into ``dest``, converting the dtype."""
    row = src[start:start + dest.shape[0]]
    for j in range(dest.shape[0]):
        dest[j] = as_dtype_of(row[j], dest)


@_jit
def _fill(dest, value):
    for j in range(dest.shape[0]):
        dest[j] = value


@_jit
def _pad(buf, table, left, count, width, value):
    """Fill the border cells of a padded buffer whose cells ``left .. left+count-1`` hold data.

    A cell is ``width`` elements wide; cell ``s`` copies cell ``left + table[s]``, or is set to
    ``value`` where ``table[s]`` is -1 (mode 'constant').
    """
    for s in range(left):
        _border_cell(buf, table[s], s, left, width, value)
    for s in range(left + count, table.shape[0]):
        _border_cell(buf, table[s], s, left, width, value)


@_jit
def _border_cell(buf, src, s, left, width, value):
    cell = buf[s * width:(s + 1) * width]
    if src < 0:
        _fill(cell, value)
    else:
        _load(cell, buf, (left + src) * width)


@_jit
def _select(table, i, weights, base, stride, starts, wsel):
    """Taps of output ``i`` whose source exists: fill ``starts``/``wsel``; return count, Σw outside."""
    count = 0
    outside = 0.0
    for t in range(weights.shape[0]):
        src = table[i + t]
        if src < 0:
            outside += weights[t]
        else:
            starts[count] = base + src * stride
            wsel[count] = weights[t]
            count += 1
    return count, outside


@_jit
def fused_band(xf, xbase, x_row, of, obase, o_row, geo, wa, wb, ta, tb, cval, q0, q1):
    """Output rows ``q0 .. q1-1`` (q = a·n_a_out + i) of Σ_r (wa[r] ⊗ wb[r]) ⋆ x; see module doc.

    Per row: the taps along axis ``a`` are summed straight from the input rows into a padded row
    buffer (no full-size intermediate), the border cells of axis ``b`` are filled from the table,
    then the taps along ``b`` (stride C) are summed into the output row. With ``k_b == 1`` the
    first stage writes the output row directly; with ``k_a == 1`` the row buffer holds a copy of
    the input row, which makes the pass safe in place (``of`` may alias ``xf``).
    """
    M, L, Lout, C, left, n_a_out = geo[0], geo[1], geo[2], geo[3], geo[4], geo[5]
    terms, ka = wa.shape
    kb = wb.shape[1]
    buf = np.empty(tb.shape[0] * C, dtype=of.dtype)
    starts = np.empty(ka, dtype=np.int64)
    wsel = np.empty(ka, dtype=of.dtype)
    hstarts = np.arange(kb) * C
    for q in range(q0, q1):
        a = q // n_a_out
        i = q - a * n_a_out
        for m in range(M):
            dest = of[obase[a * M + m] + i * o_row:obase[a * M + m] + i * o_row + Lout]
            for r in range(terms):
                count, outside = _select(ta, i, wa[r], xbase[a * M + m], x_row, starts, wsel)
                if kb == 1:
                    # one tap along b (no border along b): fold it into the a-taps
                    for t in range(count):
                        wsel[t] *= wb[r, 0]
                    bias = cval * outside * wb[r, 0]
                    _accumulate(dest, xf, 0, starts, wsel, count, r > 0, bias)
                    continue
                middle = buf[left * C:left * C + L]
                _accumulate(middle, xf, 0, starts, wsel, count, False, cval * outside)
                # beyond the edge along b, the a-filtered image is the constant a-filtered
                _pad(buf, tb, left, L // C, C, cval * np.sum(wa[r]))
                _accumulate(dest, buf, 0, hstarts, wb[r], kb, r > 0, 0.0)


@_jit
def columns_band(xf, xbase, x_step, of, obase, o_step, geo, w, table, cval, p0, p1):
    """One axis of ``(A, n, C)`` arrays, C large, by column blocks: work items ``p0 .. p1-1``.

    Item p = a·blocks + b gathers the block ``x[a, :, b·B : b·B+B]`` with its border rows into a
    buffer ((n_out + k - 1)·B elements, sized by the caller to stay in L2), then sums the k taps
    into each output row of the block. The whole block is read before any of it is written, so
    ``of`` may alias ``xf`` (the N-D chain runs its later axes in place in the output).
    """
    C, n_out, width = geo[0], geo[1], geo[2]
    k = w.shape[0]
    blocks = (C + width - 1) // width
    cells = table.shape[0]
    buf = np.empty(cells * width, dtype=of.dtype)
    starts = np.empty(k, dtype=np.int64)
    for p in range(p0, p1):
        a = p // blocks
        c0 = (p - a * blocks) * width
        bw = min(width, C - c0)
        for s in range(cells):
            cell = buf[s * bw:(s + 1) * bw]
            if table[s] < 0:
                _fill(cell, cval)
            else:
                _load(cell, xf, xbase[a] + table[s] * x_step + c0)
        for t in range(k):
            starts[t] = t * bw
        for i in range(n_out):
            o0 = obase[a] + i * o_step + c0
            _accumulate(of[o0:o0 + bw], buf, i * bw, starts, w, k, False, 0.0)


@_jit
def direct_band(xf, xbase, x_row, of, obase, o_row, geo, kernel, ta, tb, cval, add, q0, q1):
    """Output rows ``q0 .. q1-1`` of a dense 2-D kernel (k_a, k_b) over the fused-pass geometry.

    For each tap row t the source row is loaded once into a padded buffer (dtype converted,
    border cells from ``tb``), then its k_b taps are summed into the output row. ``add`` sums
    into the output (N-D kernels are a sum of 2-D slices); a base of -1 marks a constant plane.
    """
    M, L, Lout, C, left, n_a_out = geo[0], geo[1], geo[2], geo[3], geo[4], geo[5]
    ka, kb = kernel.shape
    buf = np.empty(tb.shape[0] * C, dtype=of.dtype)
    hstarts = np.arange(kb) * C
    for q in range(q0, q1):
        a = q // n_a_out
        i = q - a * n_a_out
        for m in range(M):
            xb = xbase[a * M + m]
            dest = of[obase[a * M + m] + i * o_row:obase[a * M + m] + i * o_row + Lout]
            for t in range(ka):
                src = ta[i + t]
                if src < 0 or xb < 0:
                    _fill(buf, cval)
                else:
                    _load(buf[left * C:left * C + L], xf, xb + src * x_row)
                    _pad(buf, tb, left, L // C, C, cval)
                _accumulate(dest, buf, 0, hstarts, kernel[t], kb, add or t > 0, 0.0)
