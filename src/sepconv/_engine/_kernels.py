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

Dtypes: the multiply-add loops (``_accumulate``) are compiled per (compute dtype, source dtype),
and their JIT takes seconds. Inputs in the compute dtype and uint8 inputs are read in place (the
fast paths: benchmarks/filters.py measured a float copy of each uint8 row 20-40% slower, as
float rows take 4x the cache); other dtypes (uint16, int16, float32 into float64, read-only
arrays) have each row converted once into a *ring* of k_a compute-dtype rows, so they add only
a thin band function to compile (``_source`` picks the path at compile time).

Threads: the functions named ``*_band`` release the GIL (``nogil``) and process a range of output
rows; ``_threads.py`` hands out the ranges. Each call allocates its own small buffers (the ring,
a padded row, a column block), so peak memory is the output plus those buffers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload
from numba.np.numpy_support import as_dtype as as_numpy_dtype

# 'contract' lets LLVM fuse a*b+c into one FMA (one rounding instead of two); nothing else of
# fast-math is on, so results stay deterministic and NaN/Inf propagate as in scipy.
_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "boundscheck": False,
                            "fastmath": {"contract"}}
# The band functions allocate their buffers, so they need numba's reference counting (NRT).
_alloc = njit(**_OPTIONS)
# Everything else allocates nothing and runs without NRT: with it, every row view (``x[a:b]``)
# passed to a helper costs an atomic increment and decrement, which took 40 % of a 512² float32
# k = 3 filter (kernel 171 -> 104 µs, one thread). A helper here that allocated would fail to
# compile, so the rule is checked by every test that runs a kernel.
# (``_nrt`` is numba's own target option, CPUTargetOptions._nrt, there since numba 0.4x.)
_NO_NRT: dict[str, Any] = {**_OPTIONS, "_nrt": False}
_jit = njit(**_NO_NRT)
# Per-row helpers (tap selection, border cells, the dispatch in _accumulate) are inlined by
# LLVM (forceinline): numba passes every array argument as seven words on the stack, and the
# calls cost ~100 ns a row (A/B in one process, one thread, float32 k = 3: 512×8 rows 61 -> 27
# µs, 512² 150 -> ~95 µs). The vectorized sweeps stay functions of their own: there LLVM unrolls
# them four vectors wide; inlined too, 1080p k = 3 ran 14 % slower (and numba-level inlining of
# them tripled the compile time of each dtype signature, 12 -> 35 s; the tests compile ~45).
_inline = njit(**_NO_NRT, forceinline=True)


def as_dtype_of(value, like):  # stub for numba's overload
    return like.dtype.type(value)


@overload(as_dtype_of)
def _as_dtype_of(value, like):
    dtype = like.dtype

    def impl(value, like):
        return dtype(value)

    return impl


@intrinsic
def _prefetch(typingctx, array, index):
    """Hint the CPU to fetch the cache line of ``array[index]`` (LLVM's prefetch, for reading)."""

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        data = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, data, [args[1]],
                                           wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]),
            "llvm.prefetch.p0")
        # read (0), keep in all cache levels (3), data cache (1)
        builder.call(function, [builder.bitcast(pointer, byte_pointer), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


@_inline
def _prefetch_row(xf, start, length):
    """Prefetch ``xf[start : start + length]``, one hint per 64-byte line.

    The fused pass asks for the next input row while it works on the current one, so the row
    arrives from memory during the horizontal taps (measured for benchmarks/filters.py's 4096²
    float32 case, one thread: ~20% faster at k = 3, ~12% at k = 7, ~5% at k = 31; rows under
    1024 elements gain nothing, so they are not prefetched).
    """
    line = 64 // xf.itemsize
    for p in range(0, length, line):
        _prefetch(xf, start + p)  # type: ignore[call-arg]


@_inline
def _accumulate(dest, src, starts, wts, count, add, bias):
    """``dest[j] (=|+=) bias + Σ_t wts[t] · src[starts[t] + j]``, all in one dtype.

    Taps go four or eight per sweep over ``dest`` (a row in L1) so ``dest`` is read and written
    ~k/8 times, not k; the first sweep takes the 1-4 leftover taps and assigns, so a 3-tap filter
    is one write-only sweep (benchmarks/filters.py: k = 3 ~15% faster than a 1-tap first sweep,
    k = 31 ~5% faster with eight-tap sweeps).
    """
    n = dest.shape[0]
    bias = as_dtype_of(bias, dest)  # keep float32 sums in float32
    if count == 0:
        for j in range(n):
            dest[j] = dest[j] + bias if add else bias
        return
    if not add and 4 < count <= 8:  # k = 5..8: one sweep (k = 7 rows ~15% faster than 3 + 4)
        _sweep_wide(dest, src, starts, wts, count, bias)
        return
    m = count - 4 * ((count - 1) // 4)
    if add:  # rare (low-rank terms after the first, N-D direct): leftovers one by one
        for t in range(m):
            _sweep(dest, src, starts, wts, t, 1, True, bias)
            bias = as_dtype_of(0, dest)
    else:
        _sweep(dest, src, starts, wts, 0, m, False, bias)
    t = m
    while t + 8 <= count:
        _sweep8(dest, src, starts, wts, t)
        t += 8
    if t < count:
        _sweep(dest, src, starts, wts, t, 4, True, bias * 0)


@_jit
def _sweep8(dest, src, starts, wts, t):
    """``dest += Σ`` of taps ``t .. t+7``: one load and store of ``dest`` per eight taps."""
    n = dest.shape[0]
    r0 = src[starts[t]:starts[t] + n]
    r1 = src[starts[t + 1]:starts[t + 1] + n]
    r2 = src[starts[t + 2]:starts[t + 2] + n]
    r3 = src[starts[t + 3]:starts[t + 3] + n]
    r4 = src[starts[t + 4]:starts[t + 4] + n]
    r5 = src[starts[t + 5]:starts[t + 5] + n]
    r6 = src[starts[t + 6]:starts[t + 6] + n]
    r7 = src[starts[t + 7]:starts[t + 7] + n]
    w0, w1, w2, w3 = wts[t], wts[t + 1], wts[t + 2], wts[t + 3]
    w4, w5, w6, w7 = wts[t + 4], wts[t + 5], wts[t + 6], wts[t + 7]
    for j in range(n):
        dest[j] += ((w0 * r0[j] + w1 * r1[j]) + (w2 * r2[j] + w3 * r3[j])) + (
            (w4 * r4[j] + w5 * r5[j]) + (w6 * r6[j] + w7 * r7[j]))


@_jit
def _sweep_wide(dest, src, starts, wts, m, bias):
    """``dest = bias + Σ`` of taps ``0 .. m-1`` for m = 5..8, in one write-only sweep."""
    n = dest.shape[0]
    s0, s1, s2, s3, s4 = starts[0], starts[1], starts[2], starts[3], starts[4]
    s5 = starts[5] if m > 5 else s0
    s6 = starts[6] if m > 6 else s0
    s7 = starts[7] if m > 7 else s0
    r0, r1, r2, r3 = src[s0:s0 + n], src[s1:s1 + n], src[s2:s2 + n], src[s3:s3 + n]
    r4, r5, r6, r7 = src[s4:s4 + n], src[s5:s5 + n], src[s6:s6 + n], src[s7:s7 + n]
    w0, w1, w2, w3, w4 = wts[0], wts[1], wts[2], wts[3], wts[4]
    w5 = wts[5] if m > 5 else w0
    w6 = wts[6] if m > 6 else w0
    w7 = wts[7] if m > 7 else w0
    if m == 8:
        for j in range(n):
            dest[j] = bias + ((w0 * r0[j] + w1 * r1[j]) + (w2 * r2[j] + w3 * r3[j])) + (
                (w4 * r4[j] + w5 * r5[j]) + (w6 * r6[j] + w7 * r7[j]))
    elif m == 7:
        for j in range(n):
            dest[j] = bias + ((w0 * r0[j] + w1 * r1[j]) + (w2 * r2[j] + w3 * r3[j])) + (
                (w4 * r4[j] + w5 * r5[j]) + w6 * r6[j])
    elif m == 6:
        for j in range(n):
            dest[j] = bias + ((w0 * r0[j] + w1 * r1[j]) + (w2 * r2[j] + w3 * r3[j])) + (
                w4 * r4[j] + w5 * r5[j])
    else:
        for j in range(n):
            dest[j] = bias + ((w0 * r0[j] + w1 * r1[j]) + (w2 * r2[j] + w3 * r3[j])) + w4 * r4[j]


@_jit
def _sweep(dest, src, starts, wts, t, m, add, bias):
    """One pass over ``dest`` with taps ``t .. t+m-1``: assign (m = 1..4) or add (m = 1 or 4)."""
    n = dest.shape[0]
    # offsets are selected, not arrays: rows sliced unconditionally from one array vectorize
    # with cheaper checks (a 3-tap row of 64: 36 instead of 52 ns; 512x64 images 17% faster)
    s0 = starts[t]
    s1 = starts[t + 1] if m > 1 else s0
    s2 = starts[t + 2] if m > 2 else s0
    s3 = starts[t + 3] if m > 3 else s0
    r0 = src[s0:s0 + n]
    r1 = src[s1:s1 + n]
    r2 = src[s2:s2 + n]
    r3 = src[s3:s3 + n]
    w0 = wts[t]
    w1 = wts[t + 1] if m > 1 else w0
    w2 = wts[t + 2] if m > 2 else w0
    w3 = wts[t + 3] if m > 3 else w0
    if add and m == 4:  # separate loops: LLVM does not always unswitch an invariant select
        for j in range(n):
            dest[j] += (w0 * r0[j] + w1 * r1[j]) + (w2 * r2[j] + w3 * r3[j])
    elif add:
        for j in range(n):
            dest[j] += bias + w0 * r0[j]
    elif m == 4:
        for j in range(n):
            dest[j] = bias + (w0 * r0[j] + w1 * r1[j]) + (w2 * r2[j] + w3 * r3[j])
    elif m == 3:
        for j in range(n):
            dest[j] = bias + (w0 * r0[j] + w1 * r1[j]) + w2 * r2[j]
    elif m == 2:
        for j in range(n):
            dest[j] = bias + w0 * r0[j] + w1 * r1[j]
    else:
        for j in range(n):
            dest[j] = bias + w0 * r0[j]


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


@_inline
def _pad(buf, table, left, count, width, value):
    """Fill the border cells of a padded buffer whose cells ``left .. left+count-1`` hold data.

    A cell is ``width`` elements wide; cell ``s`` copies cell ``left + table[s]``, or is set to
    ``value`` where ``table[s]`` is -1 (mode 'constant'). Plain loops, no calls: this runs once
    per row, and for short rows (a 256³ volume's last axis) its overhead is the cost.
    """
    value = as_dtype_of(value, buf)
    for n in range(table.shape[0] - count):
        s = n if n < left else n + count  # the cells before the data, then those after it
        src = table[s]
        for c in range(width):
            buf[s * width + c] = value if src < 0 else buf[(left + src) * width + c]


@_jit
def _ring_load(ring, held, line, xf, base, stride, table, i, length, tb, left, C, cval):
    """Make the ring hold the rows of extended positions ``i .. i+k-1`` (k = ``len(held)``).

    Position ``s`` lives in slot ``s % k``; ``held`` remembers which (line, position) each slot
    has (``line`` numbers the (a, m) line), so walking down a line loads one new row per output
    row. A row is ``length`` elements, placed after ``left`` border cells of ``C`` elements; a
    non-empty border table ``tb`` fills the border cells of each slot loaded (direct kernel).
    """
    k = held.shape[0]
    width = ring.shape[0] // k
    for t in range(k):
        s = i + t
        slot = s % k
        if table[s] < 0 or held[slot] == line + s:
            continue
        cells = ring[slot * width:(slot + 1) * width]
        _load(cells[left * C:left * C + length], xf, base + table[s] * stride)
        if tb.shape[0] > 0:
            _pad(cells, tb, left, length // C, C, cval)
        held[slot] = line + s


@_inline
def _select(table, i, weights, in_place, base, stride, width, starts, wsel):
    """Taps of output ``i`` whose source exists: offsets of their rows, weights, count and Σw of
    the others. Rows are read ``in_place`` (x at ``base + source·stride``) or from ring slots."""
    k = weights.shape[0]
    count = 0
    outside = 0.0
    for t in range(k):
        if table[i + t] < 0:
            outside += weights[t]
            continue
        if in_place:
            starts[count] = base + table[i + t] * stride
        else:
            starts[count] = ((i + t) % k) * width
        wsel[count] = weights[t]
        count += 1
    return count, outside


def _source(xf, ring, held, line, base, stride, table, i, length):  # stub for numba's overload
    raise NotImplementedError


def _ring_rows(xf, like, rows):  # stub for numba's overload
    raise NotImplementedError


def _read_in_place(xf, like):
    """Compile-time rule: taps read ``xf`` itself (compute dtype or uint8, and writable)."""
    return xf.mutable and (xf.dtype == like.dtype or xf.dtype == types.uint8)


@overload(_ring_rows)
def _ring_rows_impl(xf, like, rows):
    """How many rows the ring needs: none when the taps read the input in place."""
    count = 0 if _read_in_place(xf, like) else 1
    return lambda xf, like, rows: rows * count


@overload(_source, inline="always")
def _source_impl(xf, ring, held, line, base, stride, table, i, length):
    """The array the taps read, with True if it is ``xf`` itself, else the filled ring."""
    if _read_in_place(xf, ring):
        def in_place(xf, ring, held, line, base, stride, table, i, length):
            return xf, True

        return in_place

    def converted(xf, ring, held, line, base, stride, table, i, length):
        _ring_load(ring, held, line, xf, base, stride, table, i, length, table[:0], 0, 1, 0.0)
        return ring, False

    return converted


@_alloc
def fused_band(xf, xbase, x_row, of, obase, o_row, geo, wa, wb, ta, tb, cval, q0, q1):
    """Output rows ``q0 .. q1-1`` (q = a·n_a_out + i) of Σ_r (wa[r] ⊗ wb[r]) ⋆ x; see module doc.

    Per row: the taps along axis ``a`` are summed from the input rows (or their converted copies
    in the ring) into a padded row buffer (no full-size intermediate), the border cells along
    ``b`` are filled from the table, then the taps along ``b`` (stride C) are summed into the
    output row. With ``k_b == 1`` the first stage writes the output row directly. In place
    (``of`` aliasing ``xf``) only with ``k_a == 1`` and rows that fit the buffer, as the caller
    arranges: each row is fully summed into the buffer before its output row is written.

    The compute dtype is the weights'. An integer ``of`` gets each row summed (all terms) in a
    compute-dtype row, then rounded half to even and saturated into ``of`` (``_store_row``)
    while the row is in L1: the arithmetic of a pixel is the float path's, rounded once.
    """
    L, Lout, C = geo[1], geo[2], geo[3]
    ka, kb = wa.shape[1], wb.shape[1]
    ring = np.empty(_ring_rows(xf, wa, ka) * L, dtype=wa.dtype)
    held = np.full(ka, -1, dtype=np.int64)
    buf = np.empty(tb.shape[0] * C, dtype=wa.dtype)
    row = np.empty(_row_length(of, wa, Lout), dtype=wa.dtype)
    starts = np.empty(ka, dtype=np.int64)
    wsel = np.empty(ka, dtype=wa.dtype)
    hstarts = np.arange(kb) * C
    _fused_rows(xf, xbase, x_row, of, obase, o_row, geo, wa, wb, ta, tb, cval, q0, q1,
                ring, held, buf, row, starts, wsel, hstarts)


@_jit
def _fused_rows(xf, xbase, x_row, of, obase, o_row, geo, wa, wb, ta, tb, cval, q0, q1,
                ring, held, buf, row, starts, wsel, hstarts):
    """The row loop of ``fused_band``, on buffers it allocated."""
    M, L, Lout, C, left, n_a_out = geo[0], geo[1], geo[2], geo[3], geo[4], geo[5]
    terms, ka = wa.shape
    kb = wb.shape[1]
    for q in range(q0, q1):
        a = q // n_a_out
        i = q - a * n_a_out
        for m in range(M):
            g = a * M + m
            o = obase[g] + i * o_row
            target, d0 = _row_target(of, row, o, Lout)
            dest = target[d0:d0 + Lout]
            src, in_place = _source(xf, ring, held, g * (n_a_out + ka), xbase[g], x_row, ta, i, L)
            for r in range(terms):
                count, outside = _select(ta, i, wa[r], in_place, xbase[g], x_row, L, starts, wsel)
                if kb == 1:  # one tap along b, no border along b: fold it into the a-taps
                    for t in range(count):
                        wsel[t] *= wb[r, 0]
                    _accumulate(dest, src, starts, wsel, count, r > 0, cval * outside * wb[r, 0])
                    continue
                middle = buf[left * C:left * C + L]
                _accumulate(middle, src, starts, wsel, count, r < 0, cval * outside)
                if r == 0 and L >= 1024:  # shorter rows: the hardware prefetcher keeps up
                    _prefetch_row(xf, _next_row(xbase, g, x_row, ta, i, ka), L)
                # beyond the edge along b, the a-filtered image is the constant a-filtered
                _pad(buf, tb, left, L // C, C, cval * np.sum(wa[r]))
                _accumulate(dest, buf, hstarts, wb[r], kb, r > 0, 0.0)
            _store_row(of, o, dest)


def _writes_in_place(of, like):
    """Compile-time rule: the output has the compute dtype, so rows are summed into it."""
    return of.dtype == like.dtype


def _row_length(of, like, length):  # stub for numba's overload
    raise NotImplementedError


def _row_target(of, row, start, length):  # stub for numba's overload (length: unused)
    raise NotImplementedError


def _store_row(of, start, row):  # stub for numba's overload
    raise NotImplementedError


@overload(_row_length)
def _row_length_impl(of, like, length):
    """Elements of the compute-dtype row an output row is summed in: none for a float output."""
    count = 0 if _writes_in_place(of, like) else 1
    return lambda of, like, length: length * count


@overload(_row_target, inline="always")
def _row_target_impl(of, row, start, length):
    """Where an output row is summed, as (array, offset): the output itself at ``start``, or
    the compute-dtype ``row`` (a view cannot be returned without NRT)."""
    if _writes_in_place(of, row):
        return lambda of, row, start, length: (of, start)
    return lambda of, row, start, length: (row, 0)


@overload(_store_row)
def _store_row_impl(of, start, row):
    """Nothing for a float output; else ``of[start:] = saturate(rint(row))`` (NaN -> 0).

    The limits are exact in the compute dtype for 8- and 16-bit outputs; wider ones are clipped
    in float64 (float32 cannot hold 2**31 - 1).
    """
    if _writes_in_place(of, row):
        return lambda of, start, row: None
    info = np.iinfo(as_numpy_dtype(of.dtype))
    wide = of.dtype.bitwidth > 16
    work = types.float64 if wide else row.dtype
    scalar = np.float64 if wide else as_numpy_dtype(row.dtype).type
    lo, hi, to, zero = scalar(info.min), scalar(info.max), of.dtype, scalar(0)
    # clamp before rounding, then through a 32-bit integer (64 for 32-bit outputs). The
    # comparisons are written so that NaN fails them and takes the lower limit: for unsigned
    # outputs that is already NaN's 0, and the loop is two selects, which LLVM vectorizes
    # fully. Measured per pixel of a 1920-wide row (Xeon, AVX-512; float32 -> uint8): 0.27 ns
    # with the NaN select first (it vectorized poorly), 0.11 ns as two selects; signed outputs
    # take a third select, after the clamps (0.17 ns; first: 0.37 ns). Strict comparisons
    # (``v > lo``, which LLVM could map to max/min) measured 0.32 ns: keep ``>=`` and ``<=``.
    via = types.int64 if wide else types.int32

    if info.min == 0:
        def store(of, start, row):
            dest = of[start:start + row.shape[0]]
            for j in range(row.shape[0]):
                v = work(row[j])
                v = v if v >= lo else lo  # NaN -> lo = 0
                v = v if v <= hi else hi
                dest[j] = to(via(np.rint(v)))

        return store

    def store_signed(of, start, row):
        dest = of[start:start + row.shape[0]]
        for j in range(row.shape[0]):
            v = work(row[j])
            c = v if v >= lo else lo  # NaN -> lo, then -> 0 below
            c = c if c <= hi else hi
            c = c if v == v else zero
            dest[j] = to(via(np.rint(c)))

    return store_signed


@_jit
def _next_row(xbase, g, x_row, ta, i, ka):
    """Start of the input row the next output row will need first (the current one if none)."""
    if i + ka < ta.shape[0]:  # walking down axis a: the row entering the window
        return xbase[g] + max(ta[i + ka], 0) * x_row
    if ta.shape[0] == 1 and g + 1 < xbase.shape[0]:  # one row per line: the next line
        return xbase[g + 1]
    return xbase[g]


@_alloc
def columns_band(xf, xbase, x_step, of, obase, o_step, geo, w, table, cval, p0, p1):
    """One axis of ``(A, n, C)`` arrays, C large, by column blocks: work items ``p0 .. p1-1``.

    Item p = a·blocks + b gathers the block ``x[a, :, b·B : b·B+B]`` with its border rows into a
    buffer ((n_out + k - 1)·B elements, sized by the caller to stay in L2), then sums the k taps
    into each output row of the block. The whole block is read before any of it is written, so
    ``of`` may alias ``xf`` (the N-D chain runs its later axes in place in the output).
    """
    buf = np.empty(table.shape[0] * geo[2], dtype=of.dtype)
    starts = np.empty(w.shape[0], dtype=np.int64)
    _column_blocks(xf, xbase, x_step, of, obase, o_step, geo, w, table, cval, p0, p1, buf, starts)


@_jit
def _column_blocks(xf, xbase, x_step, of, obase, o_step, geo, w, table, cval, p0, p1, buf,
                   starts):
    """The block loop of ``columns_band``, on buffers it allocated."""
    C, n_out, width = geo[0], geo[1], geo[2]
    k = w.shape[0]
    blocks = (C + width - 1) // width
    cells = table.shape[0]
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
        for i in range(n_out):
            for t in range(k):
                starts[t] = (i + t) * bw
            o0 = obase[a] + i * o_step + c0
            _accumulate(of[o0:o0 + bw], buf, starts, w, k, i < 0, 0.0)


@_alloc
def direct_band(xf, xbase, x_row, of, obase, o_row, geo, kernel, ta, tb, cval, add, q0, q1):
    """Output rows ``q0 .. q1-1`` of a dense 2-D kernel (k_a, k_b) over the fused-pass geometry.

    The ring holds the k_a source rows converted and padded along ``b`` (border cells from
    ``tb``); each kernel row then sums its k_b taps into the output row. ``add`` sums into the
    output (N-D kernels are a sum of 2-D slices); a base of -1 marks a constant plane.
    """
    ka, kb = kernel.shape
    ring = np.empty(ka * tb.shape[0] * geo[3], dtype=of.dtype)
    held = np.full(ka, -1, dtype=np.int64)
    starts = np.empty(kb, dtype=np.int64)
    _direct_rows(xf, xbase, x_row, of, obase, o_row, geo, kernel, ta, tb, cval, add, q0, q1, ring,
                 held, starts)


@_jit
def _direct_rows(xf, xbase, x_row, of, obase, o_row, geo, kernel, ta, tb, cval, add, q0, q1, ring,
                 held, starts):
    """The row loop of ``direct_band``, on buffers it allocated."""
    M, L, Lout, C, left, n_a_out = geo[0], geo[1], geo[2], geo[3], geo[4], geo[5]
    ka = kernel.shape[0]
    width = tb.shape[0] * C
    for q in range(q0, q1):
        a = q // n_a_out
        i = q - a * n_a_out
        for m in range(M):
            g = a * M + m
            dest = of[obase[g] + i * o_row:obase[g] + i * o_row + Lout]
            if xbase[g] < 0:  # a constant plane (leading axis beyond the edge)
                _accumulate(dest, ring, starts, kernel[0], 0, add, cval * np.sum(kernel))
                continue
            _ring_load(ring, held, g * (n_a_out + ka), xf, xbase[g], x_row, ta, i, L, tb, left, C,
                       cval)
            _direct_row(dest, ring, kernel, ta, i, width, C, starts, add, cval)


@_jit
def _direct_row(dest, ring, kernel, ta, i, width, C, starts, add, cval):
    """Σ over kernel rows of their k_b taps on the ring rows; constant rows add cval·Σ row."""
    ka, kb = kernel.shape
    outside = 0.0
    for t in range(ka):
        if ta[i + t] < 0:
            outside += np.sum(kernel[t])
    first = True
    for t in range(ka):
        if ta[i + t] < 0:
            continue
        for u in range(kb):
            starts[u] = ((i + t) % ka) * width + u * C
        _accumulate(dest, ring, starts, kernel[t], kb, add or not first, cval * outside)
        outside = 0.0
        first = False
    if first:
        _accumulate(dest, ring, starts, kernel[0], 0, add, cval * outside)
