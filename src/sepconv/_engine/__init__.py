"""The fast filtering engine: numba kernels behind ``_plan``. Nothing else imports numba.

Importing this package does not import numba (``import sepconv`` stays light); the first filter
call loads it, and compiled kernels are cached on disk (``cache=True``), so later processes skip
the JIT. Contract (the caller has validated everything):

* ``x``: N-D array of float32, float64, uint8, uint16 or int16, any strides; read in its dtype.
* weights in the compute dtype (float32 or float64); ``out`` has the output shape and is
  filled in place. It has the compute dtype, or (separable and low-rank kernels) an 8-, 16- or
  32-bit integer dtype: the last pass sums each row in the compute dtype while it is in L1,
  then rounds it half to even and saturates it (NaN -> 0, ±inf -> the limits). Passes before
  the last write compute-dtype arrays; only a low-rank kernel over 3+ axes keeps a full-size
  float sum, rounded at the end.
* ``mode``: reflect, mirror, nearest, constant, wrap or valid (no padding; origins must be 0);
  scipy.ndimage's anchor rule ``out[i] = Σ_j w[j] · x_ext[i + j - k//2 - origin]``. With
  'constant', the image beyond each edge is the constant filtered by the passes already applied
  (``cval · Σw``), which makes a separable filter equal the dense one.
* ``parallel=False`` runs single-threaded (dask chunks, where dask owns the threads).

Memory: a separable filter over two axes never allocates a full-size intermediate (peak is the
output plus per-thread row buffers); three or more axes run their later passes in place in
``out``. Only 'valid' over 3+ axes and low-rank kernels over 3+ axes allocate intermediates, and
an input whose innermost filtered block is not contiguous (``x[:, ::2]``, Fortran order, a
channel slice) is copied once, in its own dtype.

Layout: ``_kernels`` (all numba code of the filters), ``passes`` (one pass: geometry, tables,
threads), ``_chain`` (which passes, in which order), ``_layout``/``_tables``/``_threads`` (NumPy
and Python helpers). ``layer.py`` is the fused layer kernel of ``sepconv.nn``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np


@functools.cache
def _chain_module() -> Any:
    """The pass planner (and numba), imported on the first filter, then kept: an import
    statement on every call costs ~0.5 µs."""
    from . import _chain as chain

    return chain


def correlate_separable(x: np.ndarray, weights: Sequence[np.ndarray], axes: Sequence[int],
                        mode: str, cval: float, origins: Sequence[int], out: np.ndarray, *,
                        parallel: bool = True) -> None:
    """Correlate with the outer product of ``weights[i]`` along ``axes[i]``, into ``out``."""
    correlate_lowrank(x, [weights], axes, mode, cval, origins, out, parallel=parallel)


def correlate_lowrank(x: np.ndarray, terms: Sequence[Sequence[np.ndarray]], axes: Sequence[int],
                      mode: str, cval: float, origins: Sequence[int], out: np.ndarray, *,
                      parallel: bool = True) -> None:
    """Correlate with Σ_r (outer product of ``terms[r]``), into ``out`` (fused over 1-2 axes)."""
    _chain_module().separable(x, terms, list(axes), mode, cval, list(origins), out, parallel)


def bind_lowrank(shape: tuple[int, ...], terms: Sequence[Sequence[np.ndarray]],
                 axes: Sequence[int], mode: str, cval: float, origins: Sequence[int],
                 out_shape: tuple[int, ...], *, parallel: bool = True) -> Any:
    """:func:`correlate_lowrank` resolved once for C-contiguous inputs of ``shape`` and outputs
    of ``out_shape`` (ascending ``axes``): a callable ``run(x_flat, out_flat)`` on the arrays'
    ``reshape(-1)`` views, or None where the filter is more than one fused pass (3+ axes)."""
    return _chain_module().bind(shape, terms, list(axes), mode, cval, list(origins), out_shape,
                                parallel)


def correlate_direct(x: np.ndarray, kernel: np.ndarray, axes: Sequence[int], mode: str,
                     cval: float, origins: Sequence[int], out: np.ndarray, *,
                     parallel: bool = True) -> None:
    """Correlate with a dense kernel (``kernel.ndim == len(axes)``), into ``out``."""
    _chain_module().direct(x, kernel, list(axes), mode, cval, list(origins), out, parallel)


__all__ = ["bind_lowrank", "correlate_direct", "correlate_lowrank", "correlate_separable"]
