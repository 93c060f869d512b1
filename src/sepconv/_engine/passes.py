"""One pass = one call of a band kernel over the whole output: geometry, tables, threads.

Three kinds of pass, all reading the input in its own dtype:

* ``fused``: two axes a < b at once (the 2-D hot path), or one of them alone; rows along ``a``
  are streamed from the input into a padded row buffer, the ``b`` taps run on that buffer.
* ``columns``: one non-innermost axis, in place if asked (later axes of an N-D chain).
* ``direct``: a dense kernel on the last two filtered axes; leading filtered axes are remapped
  through their border tables (one call per leading tap).

Arrays whose row block is not contiguous (see ``_layout``) are copied once in their own dtype.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from . import _kernels, _layout, _tables, _threads

# A single-axis pass whose row block (axis length x trailing size) has at most this many elements
# keeps the whole block in the row buffer (in place, L1/L2); larger blocks go by column blocks.
_ROW_BLOCK = 1 << 15
# Column-block buffers stay within this many bytes (half of this machine's 1 MiB L2 per core).
_COLUMN_BUFFER = 1 << 18


def readable(x: np.ndarray, axis: int) -> np.ndarray:
    """``x``, or a contiguous copy in its own dtype when rows from ``axis`` on are not contiguous."""
    if (x.flags.c_contiguous and x.dtype.isnative) or _layout.rows_contiguous(x, axis):
        return x
    return np.ascontiguousarray(x, dtype=x.dtype.newbyteorder("="))


def _ones(terms: int, dtype: np.dtype) -> np.ndarray:
    return np.ones((terms, 1), dtype=dtype)


def fused(x: np.ndarray, out: np.ndarray, a: int | None, b: int | None, wa: np.ndarray | None,
          wb: np.ndarray | None, mode: str, cval: float, origins: tuple[int, int],
          parallel: bool) -> None:
    """``out = Σ_r (wa[r] along a) (wb[r] along b) ⋆ x``; ``a`` or ``b`` may be None (one axis).

    ``wa``/``wb`` are (terms, k) arrays in the compute dtype; ``out`` has that dtype or is an
    integer array (rounded and saturated row by row). With ``a`` None the pass is in-place safe
    (``out`` may be ``x``).
    """
    row_axis = b if b is not None else (a if a is not None else 0) + 1
    x = readable(x, row_axis)
    xf, x0 = _layout.flat_view(x, writeable=x.flags.writeable)
    of, o0 = _layout.flat_view(out, writeable=True)
    FusedPass(x.shape, _layout.steps(x), x0, out.shape, _layout.steps(out), o0,  # type: ignore[arg-type]
              a, b, wa, wb, mode, cval, origins, parallel)(xf, of)


class FusedPass:
    """A fused pass resolved for one layout of input and output: geometry, border tables and
    weights are fixed, and a call on the flat views of two arrays of that layout is one numba
    call (``_filter``'s call cache keeps one per repeated call: ~6 µs of a call's set-up)."""

    __slots__ = ("_input", "_items", "_parallel", "_rest", "_work")

    def __init__(self, shape: tuple[int, ...], step: tuple[int, ...], x0: int,
                 out_shape: tuple[int, ...], out_step: tuple[int, ...], o0: int,
                 a: int | None, b: int | None, wa: np.ndarray | None, wb: np.ndarray | None,
                 mode: str, cval: float, origins: tuple[int, int], parallel: bool) -> None:
        dtype = (wa if wa is not None else wb).dtype  # type: ignore[union-attr]
        wa = _ones(len(wb), dtype) if wa is None else wa  # type: ignore[arg-type]
        wb = _ones(len(wa), dtype) if wb is None else wb
        geo, xbase, x_row, obase, o_row, ta, tb, items = _fused_geometry(
            shape, step, x0, out_shape, out_step, o0, a, b, wa.shape[1], wb.shape[1],
            tuple(origins), mode)
        self._input = (xbase, x_row)
        self._rest = (obase, o_row, geo, wa, wb, ta, tb, float(cval))
        self._items = items
        self._work = math.prod(out_shape) * len(wa) * (wa.shape[1] + wb.shape[1])
        self._parallel = parallel

    def __call__(self, xf: np.ndarray, of: np.ndarray) -> None:
        """Run on ``xf`` and ``of``: flat views of an input and an output of the bound layout."""
        items = self._items
        _threads.run_bands(_kernels.fused_band, (xf, *self._input, of, *self._rest), items,
                           _threads.thread_count(self._parallel, items, self._work))


def c_steps(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Element strides of a C-contiguous array of ``shape``."""
    step, size = [], 1
    for n in reversed(shape):
        step.append(size)
        size *= n
    return tuple(reversed(step))


@lru_cache(maxsize=256)
def _fused_geometry(shape: tuple[int, ...], step: tuple[int, ...], x0: int,
                    out_shape: tuple[int, ...], out_step: tuple[int, ...], o0: int,
                    a: int | None, b: int | None, ka: int, kb: int, origins: tuple[int, int],
                    mode: str) -> tuple:
    """Everything a fused pass needs but the arrays: geometry, row offsets, border tables.

    Cached (arrays read-only): a call on a small image repeats the last one's layout, and this
    is ~10 µs of NumPy (a 64² filter's whole engine time was 28 µs, the kernel 10 µs).
    """
    row_axis = b if b is not None else (a if a is not None else 0) + 1
    lead = list(range(a if a is not None else row_axis))
    middle = list(range(a + 1, b)) if a is not None and b is not None else []
    C = math.prod(shape[row_axis + (b is not None):])
    nb, nb_out = (shape[b], out_shape[b]) if b is not None else (1, 1)
    if a is not None:
        ta = _tables.index_table(shape[a], ka, origins[0], mode)
    else:
        ta = _tables.index_table(1, 1, 0, mode)  # [0]: the row itself
    tb = _tables.index_table(nb, kb, origins[1], mode)
    left = _tables.left_pad(kb, origins[1], mode) if b is not None else 0
    n_a_out = out_shape[a] if a is not None else 1
    geo = np.array([_layout.size_of(shape, middle), nb * C, nb_out * C, C, left, n_a_out])
    xbase = _layout.bases_of(shape, step, x0, lead + middle)
    obase = _layout.bases_of(out_shape, out_step, o0, lead + middle)
    for array in (geo, xbase, obase):
        array.flags.writeable = False
    x_row = step[a] if a is not None else 0
    o_row = out_step[a] if a is not None else 0
    items = _layout.size_of(out_shape, lead) * n_a_out
    return geo, xbase, x_row, obase, o_row, ta, tb, items


def columns(x: np.ndarray, out: np.ndarray, axis: int, w: np.ndarray, mode: str, cval: float,
            origin: int, parallel: bool) -> None:
    """``out = w ⋆ x`` along ``axis`` by column blocks; safe in place (``out`` may be ``x``)."""
    x = readable(x, axis + 1)
    C = _layout.size_of(x.shape, range(axis + 1, x.ndim))
    table = _tables.index_table(x.shape[axis], w.size, origin, mode)
    width = max(16, min(C, _COLUMN_BUFFER // (out.itemsize * table.size)) // 16 * 16)
    xf, x0 = _layout.flat_view(x, writeable=x.flags.writeable)
    of, o0 = _layout.flat_view(out, writeable=True)
    lead = list(range(axis))
    geo = np.array([C, out.shape[axis], width])
    args = (xf, _layout.bases(x, x0, lead), _layout.steps(x)[axis], of,  # type: ignore[index]
            _layout.bases(out, o0, lead), _layout.steps(out)[axis], geo, w, table,  # type: ignore[index]
            float(cval))
    items = _layout.size_of(x.shape, lead) * (-(-C // width))
    work = out.size * w.size
    _threads.run_bands(_kernels.columns_band, args, items,
                       _threads.thread_count(parallel, items, work))


def direct(x: np.ndarray, out: np.ndarray, axes: list[int], kernel: np.ndarray, mode: str,
           cval: float, origins: list[int], parallel: bool) -> None:
    """``out = kernel ⋆ x`` over ascending ``axes`` (two or more; kernel in the compute dtype).

    The last two filtered axes run in the kernel; each tap of the leading filtered axes is one
    more pass summed into ``out``, reading the input planes its border table names.
    """
    a, b = axes[-2], axes[-1]
    x = readable(x, b)
    lead_axes = axes[:-2]
    tables = [_tables.index_table(x.shape[d], k, o, mode)
              for d, k, o in zip(axes, kernel.shape, origins)]
    lead = list(range(a))
    middle = list(range(a + 1, b))
    C = _layout.size_of(x.shape, range(b + 1, x.ndim))
    xf, x0 = _layout.flat_view(x, writeable=x.flags.writeable)
    of, o0 = _layout.flat_view(out, writeable=True)
    geo = np.array([_layout.size_of(x.shape, middle), x.shape[b] * C, out.shape[b] * C, C,
                    _tables.left_pad(kernel.shape[-1], origins[-1], mode), out.shape[a]])
    obase = _layout.bases(out, o0, lead + middle)
    items = _layout.size_of(out.shape, lead) * out.shape[a]
    work = out.size * kernel.size
    threads = _threads.thread_count(parallel, items, work)
    for n, taps in enumerate(np.ndindex(*kernel.shape[:-2])):
        sources = {d: tables[j][t:t + out.shape[d]] for j, (d, t) in enumerate(zip(lead_axes, taps))}
        args = (xf, _layout.bases(x, x0, lead + middle, sources), _layout.steps(x)[a], of,  # type: ignore[index]
                obase, _layout.steps(out)[a], geo, kernel[taps], tables[-2], tables[-1],  # type: ignore[index]
                float(cval), n > 0)
        _threads.run_bands(_kernels.direct_band, args, items, threads)
