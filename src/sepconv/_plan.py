"""Choose how to apply a kernel (direct, separable, low-rank, FFT) and run it on NumPy arrays.

A :class:`Plan` is made once per kernel (``make_plan``) and executed on any number of arrays
(``execute``); ``dask.py`` executes the same plan inside each chunk. All methods compute the
same correlation; they differ only in cost:

====================  ===========================  =========================================
method                multiplications per output   run by
====================  ===========================  =========================================
``separable``         Σ k_i                        the engine: one fused pass over 2 axes
``lowrank``           r · Σ k_i                    the engine: r terms summed in that pass
``direct``            Π k_i                        the engine: dense kernel
``fft``               —                            NumPy's FFT (float64)
====================  ===========================  =========================================

``method='auto'`` takes the cheapest by the cost model below (calibrated with
``benchmarks/cost_model.py``, see ``docs/benchmarks/cost_model.md``). Low-rank plans use the exact
decomposition (r = numerical rank), never an approximation. FFT is considered only when the
input ``shape`` is known and the output is not integer, and an automatic FFT plan falls back to
the best direct method when the input holds NaN or Inf.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _lru
from ._errors import NotSeparableError, bad_argument
from .decompose import LowRankKernel, SeparableKernel, decompose, factorize, rank

# border mode -> numpy.pad mode (DESIGN.md's table)
_NUMPY_PAD = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "wrap": "wrap"}

Kernel = np.ndarray | SeparableKernel | LowRankKernel

# Cost model, nanoseconds per output value with the default threads, fitted by
# benchmarks/cost_model.py on a 2048² float32 image (fit and check: docs/benchmarks/cost_model.md):
# a 1-D pass costs PASS + TAP·k; a direct kernel DIRECT_PASS plus, per kernel row,
# DIRECT_ROW + DIRECT_TAP·k along the last axis; an FFT costs FFT per output and log2 of the
# transform length (numpy, float64, three transforms). Only ratios between methods matter.
_TAP = 0.010
_PASS = 0.24
_DIRECT_TAP = 0.013
_DIRECT_PASS = 0.28
_DIRECT_ROW = 0.055
_FFT = 1.33

# dtypes the engine reads directly; others are converted once (see _engine_input)
_ENGINE_DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.uint8, np.uint16, np.int16))
# integer dtypes the engine's last pass rounds and saturates into (64-bit ones go through
# _checks.store: float64 cannot hold their limits)
_ENGINE_OUTPUTS = tuple(np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.uint32,
                                              np.int32))


#: plans by (kernel bytes, method, dtype, shape class, integer output); see make_plan
PLANS = _lru.LRU(256)


@dataclass(frozen=True, eq=False)
class Plan:
    """How a kernel will be applied: ``terms`` holds 1-D factors of each separable term.

    ``fallback`` is set on automatic FFT plans: the method used when the input is not finite.
    """

    method: str
    shape: tuple[int, ...]
    dense: np.ndarray
    terms: tuple[tuple[np.ndarray, ...], ...] = ()
    fallback: str | None = None

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


def separable_cost(terms: int, shape: Sequence[int]) -> float:
    """Modelled ns per output of ``terms`` separable terms (one 1-D pass per axis each)."""
    return terms * sum(_PASS + _TAP * k for k in shape)


def direct_cost(shape: Sequence[int]) -> float:
    """Modelled ns per output of a dense kernel."""
    taps = math.prod(shape)
    return _DIRECT_PASS + _DIRECT_ROW * (taps // shape[-1]) + _DIRECT_TAP * taps


def fast_length(n: int) -> int:
    """The smallest 2^a·3^b·5^c >= n: FFT lengths with large prime factors are many times slower
    (2048 + 8 = 2056 = 8·257 takes ~3x the time of 2160)."""
    best = 1 << max(n - 1, 0).bit_length()  # a power of two
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def fft_cost(shape: Sequence[int], axes: Sequence[int], kshape: Sequence[int]) -> float:
    """Modelled ns per output of the FFT method on an input of ``shape``."""
    padded = list(shape)
    for axis, k in zip(axes, kshape):
        padded[axis] = fast_length(padded[axis] + k - 1)
    length = math.prod(padded[axis] for axis in axes)
    return _FFT * math.log2(max(length, 2)) * math.prod(padded) / max(math.prod(shape), 1)


def make_plan(kernel: Kernel, method: str, dtype: np.dtype, *,
              shape: Sequence[int] | None = None, axes: Sequence[int] | None = None,
              integer_output: bool = False) -> Plan:
    """Pick (``method='auto'``) or check the method; cast the weights to the compute ``dtype``.

    ``shape`` (the input's) and ``axes`` (the filtered ones, default: the last ``kernel.ndim``)
    let 'auto' weigh the FFT, which it never picks for ``integer_output``.

    Plans are cached (``PLANS``, an LRU safe under threads) by the kernel's bytes, the method,
    the dtype and, only where 'auto' may pick the FFT, the input's shape and axes: a plan for a
    dense kernel costs an SVD, a cached one a dictionary look-up. A plan owns its weights (cast
    copies), so a kernel changed in place later never changes a cached plan.
    """
    fft_possible = method == "auto" and shape is not None and not integer_output
    where = (tuple(shape), None if axes is None else tuple(axes)) if fft_possible else None  # type: ignore[arg-type]
    key = (_lru.kernel_key(kernel), method, np.dtype(dtype).str, where, integer_output)
    plan = PLANS.get(key)
    if plan is None:
        plan = _make_plan(kernel, method, dtype, shape=shape, axes=axes,
                          integer_output=integer_output)
        PLANS.put(key, plan)
    return plan


def _make_plan(kernel: Kernel, method: str, dtype: np.dtype, *,
               shape: Sequence[int] | None = None, axes: Sequence[int] | None = None,
               integer_output: bool = False) -> Plan:
    dense = np.asarray(kernel.dense() if not isinstance(kernel, np.ndarray) else kernel)
    kshape = dense.shape
    dense = dense.astype(dtype)
    if method in ("direct", "fft"):
        return Plan(method, kshape, dense)
    terms = _terms_of(kernel)
    cast = tuple(tuple(f.astype(dtype) for f in term) for term in terms)
    if method == "separable" and len(cast) > 1:
        factorize(dense)  # raises NotSeparableError with rank and residual
        raise NotSeparableError("kernel: expected a separable kernel; use method='lowrank'")
    if method in ("separable", "lowrank"):
        return Plan(method, kshape, dense, cast)
    best = _cheapest(len(cast), kshape)
    plan = Plan(best, kshape, dense, cast if best != "direct" else ())
    if shape is None or integer_output:
        return plan
    axes = tuple(axes) if axes is not None else tuple(range(len(shape) - len(kshape), len(shape)))
    own = separable_cost(len(cast), kshape) if best != "direct" else direct_cost(kshape)
    if fft_cost(shape, axes, kshape) < own:
        return Plan("fft", kshape, dense, plan.terms, fallback=best)
    return plan


def _cheapest(terms: int, kshape: tuple[int, ...]) -> str:
    """separable, lowrank or direct: whichever the cost model says is fastest.

    Rank 1 is always separable: the fused pass reads and writes the same memory as a direct
    kernel with k_a + k_b taps instead of k_a·k_b (benchmarks/filters.py, 4096², 3×3: direct
    was 1.5x slower, although a line fitted through all sizes puts them level).
    """
    if len(kshape) == 1 or terms == 1:
        return "separable"
    return "lowrank" if separable_cost(terms, kshape) <= direct_cost(kshape) else "direct"


def pad_widths(size: int, origin: int) -> tuple[int, int]:
    """Samples needed before and after: out[i] = Σ_j w[j] x[i + j - size//2 - origin]."""
    before = size // 2 + origin
    return before, size - 1 - before


def pad_array(x: np.ndarray, pads: Sequence[tuple[int, int]], mode: str, cval: float) -> np.ndarray:
    """``numpy.pad`` with sepconv's border mode names (``pads``: (before, after) per axis)."""
    if mode == "constant":
        return np.pad(x, pads, mode="constant", constant_values=cval)
    return np.pad(x, pads, mode=_NUMPY_PAD[mode])  # type: ignore[call-overload]


def _pad(x: np.ndarray, axis: int, width: tuple[int, int], mode: str, cval: float) -> np.ndarray:
    if mode == "valid" or width == (0, 0):
        return x
    pads = [(0, 0)] * x.ndim
    pads[axis] = width
    return pad_array(x, pads, mode, cval)


def _engine_input(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The input as the engine reads it: its own dtype when supported, else one cast copy."""
    if x.dtype in _ENGINE_DTYPES:
        return x
    if x.dtype == np.bool_:
        return x.view(np.uint8)
    if x.dtype == np.int8:
        return x.astype(np.int16)
    return x.astype(dtype)  # float16, wide integers


def _output_shape(shape_in: tuple[int, ...], plan: Plan, axes: tuple[int, ...],
                  mode: str) -> list[int]:
    shape = list(shape_in)
    if mode == "valid":
        for axis, k in zip(axes, plan.shape):
            shape[axis] -= k - 1
    return shape


def engine_output(method: str, dtype: np.dtype, final: np.dtype | None) -> np.dtype:
    """The dtype the engine writes: ``final`` when its last pass can round into it, else
    the compute ``dtype`` (``_checks.store`` converts afterwards: float16, 64-bit integers,
    direct kernels)."""
    if final is not None and final in _ENGINE_OUTPUTS and method in ("separable", "lowrank"):
        return final
    return dtype


_ENGINE: Any = None  # sepconv._engine once loaded (an import statement per call costs ~0.5 µs)


def _load_engine() -> Any:
    """Import the engine (and numba) on the first filter, not at ``import sepconv``."""
    global _ENGINE
    from . import _engine

    _ENGINE = _engine
    return _engine


def _writable_into(into: np.ndarray, x: np.ndarray, shape: list[int], dtype: np.dtype) -> bool:
    """Whether the engine may write straight into the caller's ``output`` array: right shape
    and dtype, writeable, not overlapping the input (a 512² float32 copy afterwards cost ~40 µs,
    a third of the filter)."""
    return (into.shape == tuple(shape) and into.dtype == dtype and into.flags.writeable
            and not np.may_share_memory(into, x))


def _run_engine(x: np.ndarray, plan: Plan, axes: tuple[int, ...], mode: str, cval: float,
                origins: tuple[int, ...], dtype: np.dtype, parallel: bool, method: str,
                final: np.dtype | None, into: np.ndarray | None = None) -> np.ndarray:
    _engine = _ENGINE or _load_engine()
    shape = _output_shape(x.shape, plan, axes, mode)
    out_dtype = engine_output(method, dtype, final)
    if into is not None and _writable_into(into, x, shape, out_dtype):
        out = into
    else:
        out = np.empty(shape, dtype=out_dtype)
    if method == "direct":
        _engine.correlate_direct(_engine_input(x, dtype), plan.dense, axes, mode, cval, origins,
                                 out, parallel=parallel)
    else:
        _engine.correlate_lowrank(_engine_input(x, dtype), plan.terms, axes, mode, cval, origins,
                                  out, parallel=parallel)
    return out


class Bound:
    """A planned separable or low-rank filter resolved once for C-contiguous inputs of one shape
    and dtype (``bind``): calling it allocates the output (or takes ``into``) and makes one
    engine call. The public filters keep one per cached call: it skips ~6 µs of geometry and
    dispatch that an 8×8 filter (3 µs of arithmetic) used to pay on every call."""

    __slots__ = ("dtype", "run", "shape")

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, run: Any) -> None:
        self.shape, self.dtype, self.run = shape, dtype, run

    def fits(self, x: np.ndarray, into: np.ndarray | None) -> bool:
        """Whether this call may take the fast path: ``x`` C-contiguous (its shape and dtype are
        the bound ones) and ``into`` None or a C-contiguous array the engine may write."""
        return x.flags.c_contiguous and (into is None or (
            into.flags.c_contiguous and _writable_into(into, x, list(self.shape), self.dtype)))

    def __call__(self, x: np.ndarray, into: np.ndarray | None) -> np.ndarray:
        out = np.empty(self.shape, dtype=self.dtype) if into is None else into
        self.run(x.reshape(-1), out.reshape(-1))
        return out


def bind(shape: tuple[int, ...], in_dtype: np.dtype, plan: Plan, axes: tuple[int, ...],
         mode: str, cval: float, origins: tuple[int, ...], dtype: np.dtype,
         final: np.dtype) -> Bound | None:
    """The fast path of a repeated call (see :class:`Bound`), or None where there is none: FFT
    and direct plans, inputs the engine converts first, outputs ``_checks.store`` finishes,
    three or more filtered axes."""
    if (plan.method not in ("separable", "lowrank") or in_dtype not in _ENGINE_DTYPES
            or not in_dtype.isnative or engine_output(plan.method, dtype, final) != final):
        return None
    out_shape = tuple(_output_shape(shape, plan, axes, mode))
    run = (_ENGINE or _load_engine()).bind_lowrank(shape, plan.terms, axes, mode, cval, origins,
                                                   out_shape)
    return None if run is None else Bound(out_shape, final, run)


def _run_fft(x: np.ndarray, plan: Plan, axes: tuple[int, ...], mode: str, cval: float,
             origins: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    padded = x
    for axis, k, o in zip(axes, plan.shape, origins):
        padded = _pad(padded, axis, pad_widths(k, o), mode, cval)
    padded = padded.astype(np.float64, copy=False)
    # correlation = convolution with the flipped kernel; keep only the fully overlapping part
    flipped = plan.dense.astype(np.float64)[(slice(None, None, -1),) * len(axes)]
    shape = [1] * x.ndim
    for axis, k in zip(axes, plan.shape):
        shape[axis] = k
    kern = flipped.reshape(shape)  # filtering.py sorts axes before planning
    sizes = [fast_length(padded.shape[a]) for a in axes]  # zero padding: the kept part is exact
    spec = np.fft.rfftn(padded, s=sizes, axes=axes) * np.fft.rfftn(kern, s=sizes, axes=axes)
    full = np.fft.irfftn(spec, s=sizes, axes=axes)
    index = [slice(None)] * x.ndim
    for axis, k in zip(axes, plan.shape):
        index[axis] = slice(k - 1, padded.shape[axis])
    return full[tuple(index)].astype(dtype)


def execute(x: np.ndarray, plan: Plan, axes: tuple[int, ...], mode: str, cval: float,
            origins: tuple[int, ...], dtype: np.dtype, *, parallel: bool = True,
            final: np.dtype | None = None, into: np.ndarray | None = None) -> np.ndarray:
    """Correlate ``x`` with the planned kernel along ``axes``, computing in ``dtype``.

    The result is in ``final`` where the engine writes it directly (integer outputs of the
    separable and low-rank methods, rounded and saturated in the last pass), else in ``dtype``;
    ``_checks.store`` finishes either; ``into`` (the caller's ``output`` array) is written
    directly where ``_writable_into`` allows. ``parallel=False`` runs single-threaded kernels (dask
    chunks: dask owns the threads).
    """
    method = plan.method
    if method == "fft":
        if np.all(np.isfinite(x)):
            return _run_fft(x, plan, axes, mode, cval, origins, dtype)
        if plan.fallback is None:
            raise bad_argument(
                "method", "finite input for method='fft'", "NaN or Inf in the input",
                "use method='auto' (FFT would spread them over the whole result)",
            )
        method = plan.fallback
    return _run_engine(x, plan, axes, mode, cval, origins, dtype, parallel, method, final, into)
