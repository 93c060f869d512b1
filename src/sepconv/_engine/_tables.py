"""Border handling as index tables, built once per axis in NumPy (never in the hot loops).

For an axis of length ``n``, a kernel of size ``k`` and an ``origin``, output ``i`` and tap ``t``
read the extended input at position ``i + t - (k//2 + origin)`` (scipy.ndimage's rule). The table
maps ``s = i + t`` to the source index in ``[0, n)``, or -1 where mode 'constant' puts ``cval``.
Kernels longer than the axis extend periodically as scipy does: reflect has period 2n, mirror
2n - 2 (a single sample repeats), wrap n.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def left_pad(k: int, origin: int, mode: str) -> int:
    """Extended positions before the first sample: k//2 + origin, none for 'valid'."""
    return 0 if mode == "valid" else k // 2 + origin


def output_length(n: int, k: int, mode: str) -> int:
    return n - k + 1 if mode == "valid" else n


@lru_cache(maxsize=256)
def index_table(n: int, k: int, origin: int, mode: str) -> np.ndarray:
    """Source index (int64, -1 for the constant) of each of the ``n_out + k - 1`` positions.

    Cached (read-only): the same image size and kernel come back call after call.
    """
    table = _index_table(n, k, origin, mode)
    table.flags.writeable = False
    return table


def _index_table(n: int, k: int, origin: int, mode: str) -> np.ndarray:
    left = left_pad(k, origin, mode)
    positions = np.arange(output_length(n, k, mode) + k - 1, dtype=np.int64) - left
    return extend(positions, n, mode)


def extend(e: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Map positions ``e`` (any integers) into ``[0, n)`` following the border ``mode``."""
    if mode == "valid":
        return e
    if mode == "constant":
        return np.where((e >= 0) & (e < n), e, -1)
    if mode == "nearest":
        return np.clip(e, 0, n - 1)
    if mode == "wrap":
        return e % n
    if mode == "reflect":  # d c b a | a b c d | d c b a
        r = e % (2 * n)
        return np.where(r >= n, 2 * n - 1 - r, r)
    if mode == "mirror":  # d c b | a b c d | c b a
        if n == 1:
            return np.zeros_like(e)
        r = e % (2 * n - 2)
        return np.where(r >= n, 2 * n - 2 - r, r)
    raise ValueError(f"mode: unknown border mode {mode!r}")
