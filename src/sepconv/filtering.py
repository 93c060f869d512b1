"""Public filters: correlate, convolve and their separable forms (validation, then dispatch).

Semantics are scipy.ndimage's (modes, ``origin``, even-sized kernels), plus ``mode='valid'``.
``correlate`` does not flip the kernel (OpenCV's ``filter2D``); ``convolve`` does.

Border modes (canonical names are scipy's)::

    reflect   (d c b a | a b c d | d c b a)  OpenCV BORDER_REFLECT      default
    mirror    (d c b | a b c d | c b a)      OpenCV BORDER_REFLECT_101
    nearest   (a a a | a b c d | d d d)      OpenCV BORDER_REPLICATE
    constant  (k k k | a b c d | k k k)      OpenCV BORDER_CONSTANT, k = cval
    wrap      (b c d | a b c d | a b c)      OpenCV BORDER_WRAP
    valid     no padding: each filtered axis shrinks by k - 1

Aliases: symmetric→reflect, reflect101/reflect_101→mirror, replicate/edge→nearest,
circular→wrap, zeros→constant with cval 0.

Dtypes: float32 in, float32 out; float64 in, float64 out; float16 is computed in float32 and
returned as float16; integer input gives float32 unless ``output`` names a dtype. Integer output
rounds half to even and saturates. ``output`` may also be an array to fill.

A ``dask.array.Array`` input gives a lazy dask array, filtered chunk by chunk with exact seams
(``sepconv.dask``); dask is imported only then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import _checks, _plan
from ._errors import SepconvError, bad_argument
from .decompose import LowRankKernel, SeparableKernel

KernelLike = np.ndarray | SeparableKernel | LowRankKernel | Sequence


def _kernel_object(kernel: object) -> _plan.Kernel:
    if isinstance(kernel, (SeparableKernel, LowRankKernel)):
        for i, f in enumerate(f for t in _factor_lists(kernel) for f in t):
            _checks.as_kernel(f, name=f"kernel factor {i}")
        return kernel
    return _checks.as_kernel(kernel)


def _factor_lists(kernel: SeparableKernel | LowRankKernel) -> list[tuple[np.ndarray, ...]]:
    if isinstance(kernel, SeparableKernel):
        return [kernel.factors]
    return [t.factors for t in kernel.terms]


def _permute(kernel: _plan.Kernel, order: Sequence[int]) -> _plan.Kernel:
    """Reorder the kernel's axes (so that filtered axes are ascending)."""
    if isinstance(kernel, SeparableKernel):
        return SeparableKernel(tuple(kernel.factors[i] for i in order))
    if isinstance(kernel, LowRankKernel):
        terms = tuple(_permute(t, order) for t in kernel.terms)
        return LowRankKernel(terms, kernel.singular_values, kernel.residual)  # type: ignore[arg-type]
    return np.transpose(kernel, order)


def _flip(kernel: _plan.Kernel) -> _plan.Kernel:
    if isinstance(kernel, SeparableKernel):
        return SeparableKernel(tuple(f[::-1].copy() for f in kernel.factors))
    if isinstance(kernel, LowRankKernel):
        terms = tuple(_flip(t) for t in kernel.terms)
        return LowRankKernel(terms, kernel.singular_values, kernel.residual)  # type: ignore[arg-type]
    return kernel[(slice(None, None, -1),) * kernel.ndim].copy()


def _shape(kernel: _plan.Kernel) -> tuple[int, ...]:
    return tuple(kernel.shape)


@dataclass(frozen=True, eq=False)
class _Request:
    """A validated call: kernel flipped (convolve) and permuted so that ``axes`` ascend."""

    kernel: _plan.Kernel
    axes: tuple[int, ...]
    origins: tuple[int, ...]
    mode: str
    cval: float
    method: str
    out_shape: tuple[int, ...]
    dtype: np.dtype  # computed in
    final: np.dtype  # returned
    target: np.ndarray | None


def _validate(shape: tuple[int, ...], in_dtype: np.dtype, kernel: _plan.Kernel, *, mode: object,
              cval: object, origin: object, axes: object, output: object, method: object,
              flip: bool) -> _Request:
    """Check every argument against an input of this shape and dtype (no data is read)."""
    canonical = _checks.canonical_mode(mode)
    cval_ = _checks.cval_for(mode, cval)
    method_ = _checks.check_method(method)
    kshape = _shape(kernel)
    if len(kshape) > len(shape):
        raise bad_argument(
            "kernel", f"at most {len(shape)} dimensions for a {len(shape)}-D input",
            f"a {len(kshape)}-D kernel of shape {kshape}", "use a kernel with fewer dimensions",
        )
    axes_ = _checks.normalize_axes(axes, len(shape), len(kshape), what=f"a {len(kshape)}-D kernel")
    origins = _checks.normalize_origins(origin, kshape, canonical)
    if flip:  # scipy's convolve: flip, negate the origin, shift even sizes by one
        kernel = _flip(kernel)
        origins = tuple(-o - (1 - k % 2) for o, k in zip(origins, kshape))
    order = [int(i) for i in np.argsort(axes_)]
    kernel = _permute(kernel, order)
    axes_ = tuple(axes_[i] for i in order)
    origins = tuple(origins[i] for i in order)
    out_shape = _output_shape(shape, axes_, _shape(kernel), canonical)
    out_dtype, target = _checks.output_spec(output, out_shape)
    dtype = _checks.compute_dtype(in_dtype, out_dtype)
    if method_ == "fft" and out_dtype is not None and out_dtype.kind in "iu":
        raise bad_argument(
            "method", "a direct method for integer output", "method='fft'",
            "use method='auto' (FFT rounding errors would flip rounded integers)",
        )
    final = out_dtype if out_dtype is not None else _checks.result_dtype(in_dtype)
    return _Request(kernel, axes_, origins, canonical, cval_, method_, out_shape, dtype, final, target)


def _run(x: np.ndarray, request: _Request) -> np.ndarray:
    """Plan and execute a validated request on a NumPy array."""
    if x.size == 0 or 0 in request.out_shape:
        empty = np.zeros(request.out_shape, dtype=request.dtype)
        return _checks.store(empty, request.final, request.target)
    plan = _plan.make_plan(request.kernel, request.method, request.dtype, shape=x.shape,
                           axes=request.axes, integer_output=request.final.kind in "iu")
    result = _plan.execute(x, plan, request.axes, request.mode, request.cval, request.origins,
                           request.dtype)
    return _checks.store(result, request.final, request.target)


def _is_dask_array(input: object) -> bool:
    """A dask array, recognised without importing dask (a NumPy input never touches dask)."""
    return type(input).__module__.startswith("dask.") and hasattr(input, "chunks")


def _filter(input: object, kernel: _plan.Kernel, *, mode: object, cval: object, origin: object,
            axes: object, output: object, method: object, flip: bool) -> np.ndarray:
    if _is_dask_array(input):
        from . import dask as lazy  # only a dask input imports dask

        return lazy.filter_array(input, kernel, mode=mode, cval=cval,  # type: ignore[arg-type, return-value]
                                 origin=origin, axes=axes, output=output, method=method, flip=flip)
    x = _checks.as_input(input)
    request = _validate(x.shape, x.dtype, kernel, mode=mode, cval=cval, origin=origin, axes=axes,
                        output=output, method=method, flip=flip)
    return _run(x, request)


def _output_shape(shape: tuple[int, ...], axes: tuple[int, ...], kshape: tuple[int, ...],
                  mode: str) -> tuple[int, ...]:
    if mode != "valid":
        return shape
    out = list(shape)
    for axis, k in zip(axes, kshape):
        if k > shape[axis] and shape[axis] > 0:
            raise bad_argument(
                "mode", f"a kernel no longer than the input along axis {axis} for mode='valid'",
                f"kernel size {k} > input size {shape[axis]}",
                "use a padding mode such as 'reflect', or a smaller kernel",
            )
        out[axis] = max(shape[axis] - k + 1, 0)
    return tuple(out)


def correlate(input: object, kernel: KernelLike, *, mode: str = "reflect", cval: float = 0.0,
              origin: int | Sequence[int] = 0, axes: int | Sequence[int] | None = None,
              output: object = None, method: str = "auto") -> np.ndarray:
    """Correlate ``input`` with an N-D ``kernel`` (no flip), as ``scipy.ndimage.correlate``.

    ``kernel`` may be an array, a :class:`~sepconv.SeparableKernel` or a
    :class:`~sepconv.LowRankKernel`. ``method='auto'`` applies a separable kernel as one 1-D pass
    per axis and a low-rank one as a sum of separable terms when that is cheaper; ``'direct'``,
    ``'separable'``, ``'lowrank'`` and ``'fft'`` force a method. Without ``axes`` the kernel needs
    one dimension per input axis; ``axes`` names the filtered axes, others are left alone.

    >>> x = np.arange(16.0).reshape(4, 4)
    >>> correlate(x, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])[1]
    array([4., 8., 8., 4.])
    """
    return _filter(input, _kernel_object(kernel), mode=mode, cval=cval, origin=origin, axes=axes,
                   output=output, method=method, flip=False)


def convolve(input: object, kernel: KernelLike, *, mode: str = "reflect", cval: float = 0.0,
             origin: int | Sequence[int] = 0, axes: int | Sequence[int] | None = None,
             output: object = None, method: str = "auto") -> np.ndarray:
    """Convolve (flip the kernel, then correlate), as ``scipy.ndimage.convolve``."""
    return _filter(input, _kernel_object(kernel), mode=mode, cval=cval, origin=origin, axes=axes,
                   output=output, method=method, flip=True)


def _separable_object(kernels_1d: object) -> SeparableKernel:
    if isinstance(kernels_1d, SeparableKernel):
        return _kernel_object(kernels_1d)  # type: ignore[return-value]
    if isinstance(kernels_1d, np.ndarray) and kernels_1d.ndim == 1:
        kernels_1d = [kernels_1d]
    if not isinstance(kernels_1d, (Sequence, np.ndarray)) or isinstance(kernels_1d, str):
        raise bad_argument("kernels_1d", "a sequence of 1-D kernels", kernels_1d,
                           "pass e.g. [[1, 2, 1], [-1, 0, 1]]")
    if len(kernels_1d) == 0:
        raise bad_argument("kernels_1d", "at least one 1-D kernel", "an empty sequence",
                           "pass one 1-D kernel per filtered axis")
    factors = []
    for i, k in enumerate(kernels_1d):
        arr = _checks.as_kernel(k, name=f"kernels_1d[{i}]")
        if arr.ndim != 1:
            raise bad_argument(f"kernels_1d[{i}]", "a 1-D kernel", f"shape {arr.shape}",
                               "use correlate() for N-D kernels, or pass 1-D factors")
        factors.append(arr)
    return SeparableKernel(tuple(factors))


def correlate_separable(input: object, kernels_1d: object, *, axes: int | Sequence[int] | None = None,
                        mode: str = "reflect", cval: float = 0.0, origin: int | Sequence[int] = 0,
                        output: object = None) -> np.ndarray:
    """Correlate with the outer product of 1-D kernels, one pass per axis.

    ``kernels_1d[i]`` filters ``axes[i]`` (all axes in order when ``axes`` is None).

    >>> x = np.arange(16.0).reshape(4, 4)
    >>> correlate_separable(x, [[1, 2, 1], [-1, 0, 1]])[1]
    array([4., 8., 8., 4.])
    """
    return _filter(input, _separable_object(kernels_1d), mode=mode, cval=cval, origin=origin,
                   axes=axes, output=output, method="separable", flip=False)


def convolve_separable(input: object, kernels_1d: object, *, axes: int | Sequence[int] | None = None,
                       mode: str = "reflect", cval: float = 0.0, origin: int | Sequence[int] = 0,
                       output: object = None) -> np.ndarray:
    """Convolve with the outer product of 1-D kernels (each flipped), one pass per axis."""
    return _filter(input, _separable_object(kernels_1d), mode=mode, cval=cval, origin=origin,
                   axes=axes, output=output, method="separable", flip=True)


__all__ = ["SepconvError", "convolve", "convolve_separable", "correlate", "correlate_separable"]
