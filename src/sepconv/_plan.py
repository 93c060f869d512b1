"""Choose how to apply a kernel (direct, separable, low-rank, FFT) and run it on NumPy arrays.

A :class:`Plan` is made once per kernel (``make_plan``) and executed on any number of arrays
(``execute``); ``dask.py`` executes the same plan inside each chunk. All methods compute the
same correlation; they differ only in cost:

====================  ===========================  ====================================
method                multiplications per output   when ``auto`` takes it
====================  ===========================  ====================================
``separable``         Σ k_i                        the kernel has rank 1
``lowrank``           r · Σ k_i                    rank r > 1 and r · Σ k_i < Π k_i
``direct``            Π k_i                        otherwise
``fft``               —                            only when asked for (``method='fft'``)
====================  ===========================  ====================================

Low-rank plans use the exact decomposition (r = numerical rank), never an approximation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._errors import NotSeparableError, bad_argument
from .decompose import LowRankKernel, SeparableKernel, decompose, factorize, rank

# border mode -> numpy.pad mode (DESIGN.md's table)
_NUMPY_PAD = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "wrap": "wrap"}

Kernel = np.ndarray | SeparableKernel | LowRankKernel


@dataclass(frozen=True, eq=False)
class Plan:
    """How a kernel will be applied: ``terms`` holds 1-D factors of each separable term."""

    method: str
    shape: tuple[int, ...]
    dense: np.ndarray
    terms: tuple[tuple[np.ndarray, ...], ...] = ()

    @property
    def mults(self) -> int:
        """Multiplications per output value for this plan (0 stands for FFT: not per output)."""
        if self.method == "direct":
            return int(np.prod(self.shape))
        if self.method == "fft":
            return 0
        return len(self.terms) * int(sum(self.shape))


def _terms_of(kernel: Kernel) -> tuple[tuple[np.ndarray, ...], ...]:
    """The exact separable terms of a kernel (one term when it is separable)."""
    if isinstance(kernel, SeparableKernel):
        return (kernel.factors,)
    if isinstance(kernel, LowRankKernel):
        return tuple(t.factors for t in kernel.terms)
    if kernel.ndim == 1 or rank(kernel) <= 1:
        return (factorize(kernel).factors,)
    return tuple(t.factors for t in decompose(kernel).terms)


def make_plan(kernel: Kernel, method: str, dtype: np.dtype) -> Plan:
    """Pick (``method='auto'``) or check the method; cast the weights to the compute ``dtype``."""
    dense = np.asarray(kernel.dense() if not isinstance(kernel, np.ndarray) else kernel)
    shape = dense.shape
    dense = dense.astype(dtype)
    if method in ("direct", "fft"):
        return Plan(method, shape, dense)
    terms = _terms_of(kernel)
    cast = tuple(tuple(f.astype(dtype) for f in term) for term in terms)
    if method == "separable" and len(cast) > 1:
        factorize(dense)  # raises NotSeparableError with rank and residual
        raise NotSeparableError("kernel: expected a separable kernel; use method='lowrank'")
    if method in ("separable", "lowrank"):
        return Plan(method, shape, dense, cast)
    lowrank_cost = len(cast) * sum(shape)
    if len(cast) == 1 and len(shape) > 1:
        return Plan("separable", shape, dense, cast)
    if lowrank_cost < int(np.prod(shape)):
        return Plan("lowrank", shape, dense, cast)
    return Plan("direct", shape, dense)


def pad_widths(size: int, origin: int) -> tuple[int, int]:
    """Samples needed before and after: out[i] = Σ_j w[j] x[i + j - size//2 - origin]."""
    before = size // 2 + origin
    return before, size - 1 - before


def _pad(x: np.ndarray, axis: int, width: tuple[int, int], mode: str, cval: float) -> np.ndarray:
    if mode == "valid" or width == (0, 0):
        return x
    pads = [(0, 0)] * x.ndim
    pads[axis] = width
    if mode == "constant":
        return np.pad(x, pads, mode="constant", constant_values=cval)
    return np.pad(x, pads, mode=_NUMPY_PAD[mode])  # type: ignore[call-overload]


def _shift_add(padded: np.ndarray, weights: np.ndarray, axis: int, dtype: np.dtype) -> np.ndarray:
    """Valid 1-D correlation along ``axis`` by accumulating shifted slices."""
    n_out = padded.shape[axis] - weights.size + 1
    shape = list(padded.shape)
    shape[axis] = n_out
    out = np.zeros(shape, dtype=dtype)
    for j, w in enumerate(weights):
        index = [slice(None)] * padded.ndim
        index[axis] = slice(j, j + n_out)
        out += w * padded[tuple(index)]
    return out


def correlate1d(x: np.ndarray, weights: np.ndarray, axis: int, mode: str, cval: float,
                origin: int, dtype: np.dtype) -> np.ndarray:
    padded = _pad(x, axis, pad_widths(weights.size, origin), mode, cval)
    return _shift_add(padded.astype(dtype, copy=False), weights.astype(dtype), axis, dtype)


def _run_terms(x: np.ndarray, plan: Plan, axes: tuple[int, ...], mode: str, cval: float,
               origins: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    total: np.ndarray | None = None
    for term in plan.terms:
        y, c = x, cval
        for w, axis, o in zip(term, axes, origins):
            y = correlate1d(y, w, axis, mode, c, o, dtype)
            # beyond the edge the partly filtered image is the constant filtered: cval · Σw
            c = c * float(np.sum(w, dtype=np.float64))
        total = y if total is None else total + y
    assert total is not None
    return total


def _run_direct(x: np.ndarray, plan: Plan, axes: tuple[int, ...], mode: str, cval: float,
                origins: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    padded = x
    for axis, k, o in zip(axes, plan.shape, origins):
        padded = _pad(padded, axis, pad_widths(k, o), mode, cval)
    padded = padded.astype(dtype, copy=False)
    shape = list(padded.shape)
    for axis, k in zip(axes, plan.shape):
        shape[axis] -= k - 1
    out = np.zeros(shape, dtype=dtype)
    for idx in np.ndindex(*plan.shape):
        index = [slice(None)] * padded.ndim
        for axis, j in zip(axes, idx):
            index[axis] = slice(j, j + shape[axis])
        out += plan.dense[idx] * padded[tuple(index)]
    return out


def _run_fft(x: np.ndarray, plan: Plan, axes: tuple[int, ...], mode: str, cval: float,
             origins: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    if not np.all(np.isfinite(x)):
        raise bad_argument(
            "method", "finite input for method='fft'", "NaN or Inf in the input",
            "use method='auto' (FFT would spread them over the whole result)",
        )
    padded = x
    for axis, k, o in zip(axes, plan.shape, origins):
        padded = _pad(padded, axis, pad_widths(k, o), mode, cval)
    padded = padded.astype(np.float64, copy=False)
    # correlation = convolution with the flipped kernel; keep only the fully overlapping part
    flipped = plan.dense.astype(np.float64)[(slice(None, None, -1),) * len(axes)]
    kern = flipped.reshape(_ordered(flipped, axes, x.ndim))
    sizes = [padded.shape[a] for a in axes]
    spec = np.fft.rfftn(padded, s=sizes, axes=axes) * np.fft.rfftn(kern, s=sizes, axes=axes)
    full = np.fft.irfftn(spec, s=sizes, axes=axes)
    index = [slice(None)] * x.ndim
    for axis, k in zip(axes, plan.shape):
        index[axis] = slice(k - 1, padded.shape[axis])
    return full[tuple(index)].astype(dtype)


def _ordered(kernel: np.ndarray, axes: tuple[int, ...], ndim: int) -> tuple[int, ...]:
    """Shape that places the kernel's dims at ``axes`` (in sorted order) among ``ndim`` dims."""
    if list(axes) != sorted(axes):
        raise NotImplementedError  # filtering.py sorts axes before planning
    shape = [1] * ndim
    for axis, k in zip(axes, kernel.shape):
        shape[axis] = k
    return tuple(shape)


_RUNNERS = {"separable": _run_terms, "lowrank": _run_terms, "direct": _run_direct, "fft": _run_fft}


def execute(x: np.ndarray, plan: Plan, axes: tuple[int, ...], mode: str, cval: float,
            origins: tuple[int, ...], dtype: np.dtype, *, parallel: bool = True) -> np.ndarray:
    """Correlate ``x`` with the planned kernel along ``axes``; result in ``dtype``.

    ``parallel=False`` runs single-threaded kernels (dask chunks: dask owns the threads).
    """
    return _RUNNERS[plan.method](x, plan, axes, mode, cval, origins, dtype)
