"""Which passes a filter runs, in which order, into which arrays.

* one or two filtered axes: a single fused pass from the input into ``out`` (low-rank terms are
  summed inside it, no temporaries);
* three or more: the two innermost filtered axes fused (input -> ``out``), then each remaining
  axis in place in ``out`` (mode 'valid' shrinks the shape, so there each pass gets a new array).

An integer ``out`` is written only by the last pass (rounded and saturated row by row); passes
before it write compute-dtype arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _layout, _tables, passes

# rows (innermost filtered axis x trailing size) shorter than this are not fused in N-D chains
_SHORT_ROW = 1024


def _native(x: np.ndarray) -> np.ndarray:
    """numba reads native byte order only (a rare big-endian input is converted once)."""
    return x if x.dtype.isnative else x.astype(x.dtype.newbyteorder("="))


def _target(out: np.ndarray) -> np.ndarray:
    """``out`` itself when the kernels can write its rows, else a contiguous scratch array."""
    if (out.flags.c_contiguous and out.dtype.isnative) or _layout.rows_contiguous(out, 0):
        return out
    return np.empty(out.shape, dtype=out.dtype)


def _sorted(axes: list[int], *lists: list) -> list[list]:
    if axes == sorted(axes):  # the usual case (filtering sorts the axes): no copies
        return [axes, *lists]
    order = sorted(range(len(axes)), key=axes.__getitem__)
    return [[axes[i] for i in order]] + [[seq[i] for i in order] for seq in lists]


def _stack(terms: Sequence[Sequence[np.ndarray]], i: int, dtype: np.dtype) -> np.ndarray:
    """The (terms, k) weights of axis ``i``; one term's planned factor is viewed, not copied."""
    if len(terms) == 1:
        w = terms[0][i]
        if (isinstance(w, np.ndarray) and w.dtype == dtype and w.ndim == 1
                and w.flags.c_contiguous and w.flags.writeable):  # the kernels' signature
            return w.reshape(1, -1)
    return np.ascontiguousarray([np.asarray(t[i], dtype=dtype) for t in terms])


def separable(x: np.ndarray, terms: Sequence[Sequence[np.ndarray]], axes: list[int], mode: str,
              cval: float, origins: list[int], out: np.ndarray, parallel: bool) -> None:
    """Σ_r (outer product of ``terms[r]``) ⋆ x into ``out`` (compute dtype or an integer type)."""
    if x.size == 0 or out.size == 0:
        return
    x = _native(x)
    dtype = np.asarray(terms[0][0]).dtype  # the compute dtype
    axes, origins, *terms = _sorted(axes, origins, *[list(t) for t in terms])
    target = _target(out)
    if len(axes) == 1:
        _single(x, target, axes[0], _stack(terms, 0, dtype), mode, cval, origins[0], parallel)
    elif len(axes) == 2:
        passes.fused(x, target, axes[0], axes[1], _stack(terms, 0, dtype),
                     _stack(terms, 1, dtype), mode, cval, (origins[0], origins[1]), parallel)
    elif len(terms) == 1:
        _chain(x, target, axes, [np.asarray(w, dtype=dtype) for w in terms[0]], mode, cval,
               origins, parallel)
    else:
        _lowrank_chain(x, target, axes, terms, mode, cval, origins, dtype, parallel)
    if target is not out:
        out[...] = target


def bind(shape: tuple[int, ...], terms: Sequence[Sequence[np.ndarray]], axes: list[int],
         mode: str, cval: float, origins: list[int], out_shape: tuple[int, ...],
         parallel: bool) -> passes.FusedPass | None:
    """The single fused pass that :func:`separable` runs for C-contiguous arrays of these shapes
    (ascending ``axes``, a fresh ``out``), resolved once; None where it runs more than one."""
    if len(axes) > 2 or axes != sorted(axes) or 0 in shape or 0 in out_shape:
        return None
    dtype = np.asarray(terms[0][0]).dtype
    if len(axes) == 2:
        a, b, wa, wb, o = (axes[0], axes[1], _stack(terms, 0, dtype), _stack(terms, 1, dtype),
                           (origins[0], origins[1]))
    else:
        a, b, wa, wb, o = _one_axis(shape, axes[0], _stack(terms, 0, dtype), origins[0])
    return passes.FusedPass(shape, passes.c_steps(shape), 0, out_shape, passes.c_steps(out_shape),
                            0, a, b, wa, wb, mode, cval, o, parallel)


def _lowrank_chain(x: np.ndarray, out: np.ndarray, axes: list[int], terms: list[list],
                   mode: str, cval: float, origins: list[int], dtype: np.dtype,
                   parallel: bool) -> None:
    """Three or more axes, several terms: each term's chain summed in a compute-dtype array.

    An integer ``out`` gets that float sum rounded once at the end (one more pass, a 1-tap one:
    the only integer case with a full-size float buffer).
    """
    total = out if out.dtype == dtype else np.empty(out.shape, dtype=dtype)
    for r, term in enumerate(terms):
        dest = total if r == 0 else np.empty(out.shape, dtype=dtype)
        _chain(x, dest, axes, [np.asarray(w, dtype=dtype) for w in term], mode, cval, origins,
               parallel)
        if r:
            total += dest
    if total is not out:
        _single(total, out, out.ndim - 1, np.ones((1, 1), dtype=dtype), "nearest", 0.0, 0,
                parallel)


def _one_axis(shape: tuple[int, ...], axis: int, w: np.ndarray, origin: int) -> tuple:
    """One axis as a fused pass's ``(a, b, wa, wb, origins)``: along the row when the block from
    ``axis`` on fits the row buffer, else with ``axis`` as the pass's row-streaming axis."""
    if axis == len(shape) - 1 or _layout.size_of(shape, range(axis, len(shape))) <= passes._ROW_BLOCK:
        return None, axis, None, w, (0, origin)
    return axis, None, w, None, (origin, 0)


def _single(x: np.ndarray, out: np.ndarray, axis: int, w: np.ndarray, mode: str, cval: float,
            origin: int, parallel: bool) -> None:
    """One axis, x -> out (``out`` may be ``x``); ``w`` is (terms, k)."""
    a, b, wa, wb, origins = _one_axis(x.shape, axis, w, origin)
    if a is not None and x is out:
        for r in range(len(w)):  # in place, one term (N-D chains have one)
            passes.columns(x, out, axis, w[r], mode, cval, origin, parallel)
        return
    passes.fused(x, out, a, b, wa, wb, mode, cval, origins, parallel)


def _chain(x: np.ndarray, out: np.ndarray, axes: list[int], weights: list[np.ndarray],
           mode: str, cval: float, origins: list[int], parallel: bool) -> None:
    """Three or more axes: one fused pass over two of them, then the others one by one in ``out``.

    The fused pair is the two innermost axes, unless the innermost axis has short rows (a 256³
    volume's last axis): then the two before it, whose rows span the whole trailing block, and
    the short-row axis runs alone (benchmarks/filters.py, 256³: ~20% faster than fusing it).
    """
    pair = [len(axes) - 2, len(axes) - 1]
    if _layout.size_of(x.shape, range(axes[-1], x.ndim)) < _SHORT_ROW:
        pair = [len(axes) - 3, len(axes) - 2]
    a, b = axes[pair[0]], axes[pair[1]]
    dtype = weights[0].dtype
    shape = _shrunk(x.shape, [a, b], [weights[i] for i in pair], mode)
    first = _scratch(shape, out, out, dtype)
    passes.fused(x, first, a, b, weights[pair[0]][None], weights[pair[1]][None], mode, cval,
                 (origins[pair[0]], origins[pair[1]]), parallel)
    current = first
    c = cval * float(np.sum(weights[pair[0]])) * float(np.sum(weights[pair[1]]))
    rest = [i for i in reversed(range(len(axes))) if i not in pair]
    for n, (axis, w, o) in enumerate([(axes[i], weights[i], origins[i]) for i in rest]):
        shape = _shrunk(current.shape, [axis], [w], mode)
        dest = out if n == len(rest) - 1 else _scratch(shape, current, out, dtype)
        _single(current, dest, axis, w[None], mode, c, o, parallel)
        current, c = dest, c * float(np.sum(w))


def _scratch(shape: tuple[int, ...], current: np.ndarray, out: np.ndarray,
             dtype: np.dtype) -> np.ndarray:
    """Where an intermediate pass writes: ``out`` or ``current`` in place when they have the
    shape and the compute dtype (an integer ``out`` gets only the last pass), else a new array."""
    for candidate in (out, current):
        if candidate.shape == shape and candidate.dtype == dtype:
            return candidate
    return np.empty(shape, dtype=dtype)


def _shrunk(shape: tuple[int, ...], axes: list[int], weights: list[np.ndarray],
            mode: str) -> tuple[int, ...]:
    result = list(shape)
    for axis, w in zip(axes, weights):
        result[axis] = _tables.output_length(shape[axis], w.size, mode)
    return tuple(result)


def direct(x: np.ndarray, kernel: np.ndarray, axes: list[int], mode: str, cval: float,
           origins: list[int], out: np.ndarray, parallel: bool) -> None:
    if x.size == 0 or out.size == 0:
        return
    x = _native(x)
    order = sorted(range(len(axes)), key=axes.__getitem__)
    kernel = np.ascontiguousarray(np.transpose(kernel, order), dtype=out.dtype)
    axes = [axes[i] for i in order]
    origins = [origins[i] for i in order]
    if len(axes) == 1:
        separable(x, [[kernel]], axes, mode, cval, origins, out, parallel)
        return
    target = _target(out)
    passes.direct(x, target, axes, kernel, mode, cval, origins, parallel)
    if target is not out:
        out[...] = target
