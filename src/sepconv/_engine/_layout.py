"""How the kernels see arrays: flat 1-D views, element strides and row start offsets (NumPy only).

numba compiles one version per array *type*, and a non-contiguous N-D array is typed 'A' (any
layout), whose rows numba reads with a stride multiply that LLVM does not vectorize: a cropped
image ``x[:, :4000]`` ran 3.5x slower than a contiguous one. So every array reaches the kernels as a
1-D C-contiguous view of the memory span it lives in, plus element offsets: rows then come out of
``flat[start : start + n]`` as contiguous slices, and one compiled version per dtype serves all
layouts. Only the block of axes that a row spans must have a unit inner stride; otherwise the
driver copies the input once, in its own dtype.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np


class _Memory:
    """An ``__array_interface__`` over a span of ``base``'s memory (as numpy's ``as_strided``)."""

    def __init__(self, interface: dict, base: np.ndarray) -> None:
        self.__array_interface__ = interface
        self.base = base


def steps(a: np.ndarray) -> tuple[int, ...] | None:
    """Strides in elements, or None if a stride is not a whole number of elements."""
    return _steps(a.strides, a.itemsize)


@lru_cache(maxsize=256)
def _steps(strides: tuple[int, ...], size: int) -> tuple[int, ...] | None:
    if any(s % size for s in strides):
        return None
    return tuple(s // size for s in strides)


def flat_view(a: np.ndarray, writeable: bool) -> tuple[np.ndarray, int]:
    """A 1-D C-contiguous array over ``a``'s memory span, and the element offset of ``a[0, ...]``.

    ``writeable=False`` gives a read-only view; otherwise it follows ``a``. (The kernels never
    write the input, but numba types read-only arrays apart: a writable input shares the compiled
    loops of the engine's own buffers.)
    """
    if a.flags.c_contiguous:  # the common case, and ~20x cheaper than the interface below
        flat = a.reshape(-1)
        if not writeable:
            flat = flat.view()
            flat.flags.writeable = False
        return flat, 0
    step = steps(a)
    assert step is not None and a.dtype.isnative and a.size > 0
    low = sum(min(0, (n - 1) * s) for n, s in zip(a.shape, step))
    high = sum(max(0, (n - 1) * s) for n, s in zip(a.shape, step))
    pointer = a.__array_interface__["data"][0] + low * a.itemsize
    interface = {
        "data": (pointer, not writeable or not a.flags.writeable),
        "shape": (high - low + 1,),
        "typestr": a.dtype.str,
        "version": 3,
    }
    flat = np.asarray(_Memory(interface, a))
    if not writeable:
        flat.flags.writeable = False
    return flat, -low


def rows_contiguous(a: np.ndarray, axis: int) -> bool:
    """True if axes ``axis .. ndim-1`` form one C-contiguous block with a unit inner stride."""
    step = steps(a)
    if step is None or not a.dtype.isnative:
        return False
    expected = 1
    for n, s in zip(a.shape[axis:][::-1], step[axis:][::-1]):
        if n != 1 and s != expected:
            return False
        expected *= n
    return True


def bases(a: np.ndarray, offset: int, dims: list[int],
          sources: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """Element offsets of ``a[i_0, i_1, ...]`` (C order over ``dims``, other indices 0).

    ``sources[d]`` maps output index -> source index along ``d`` (a border table slice); a -1
    there marks the constant, and every offset it reaches is -1.
    """
    step = steps(a)
    assert step is not None
    return bases_of(a.shape, step, offset, dims, sources)


def bases_of(shape: tuple[int, ...], step: tuple[int, ...], offset: int, dims: list[int],
             sources: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """:func:`bases` from an array's shape and element strides."""
    if not dims:
        return np.full(1, offset, dtype=np.int64)
    total = np.full(1, offset, dtype=np.int64)
    outside = np.zeros(1, dtype=bool)
    for d in dims:
        index = np.arange(shape[d], dtype=np.int64)
        if sources is not None and d in sources:
            index = sources[d]
        total = (total[:, None] + index[None, :] * step[d]).ravel()
        outside = (outside[:, None] | (index < 0)[None, :]).ravel()
    total[outside] = -1
    return total


def size_of(shape: tuple[int, ...], dims: range | list[int]) -> int:
    return math.prod(shape[d] for d in dims)
