"""A validated filter call: the request that the public filters and the Dask path share.

``validate`` checks every argument against an input's shape and dtype without reading data, and
returns a :class:`Request` whose kernel is flipped (convolve) and permuted so that ``axes``
ascend. :mod:`sepconv.filtering` (NumPy) and :mod:`sepconv.dask` (chunked) both start from it;
neither imports the other for it. ``planned``, ``execute`` and ``run`` plan and run a request on a
NumPy array (the public filters and the NumPy views of torch tensors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import _checks, _plan
from ._errors import bad_argument
from .decompose import LowRankKernel, SeparableKernel


def kernel_object(kernel: object) -> _plan.Kernel:
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
class Request:
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


def validate(shape: tuple[int, ...], in_dtype: np.dtype, kernel: _plan.Kernel, *, mode: object,
              cval: object, origin: object, axes: object, output: object, method: object,
              flip: bool) -> Request:
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
    out_shape = output_shape(shape, axes_, _shape(kernel), canonical)
    out_dtype, target = _checks.output_spec(output, out_shape)
    dtype = _checks.compute_dtype(in_dtype, out_dtype)
    if method_ == "fft" and out_dtype is not None and out_dtype.kind in "iu":
        raise bad_argument(
            "method", "a direct method for integer output", "method='fft'",
            "use method='auto' (FFT rounding errors would flip rounded integers)",
        )
    final = out_dtype if out_dtype is not None else _checks.result_dtype(in_dtype)
    return Request(kernel, axes_, origins, canonical, cval_, method_, out_shape, dtype, final, target)


def is_dask_array(input: object) -> bool:
    """A dask array, recognised without importing dask (a NumPy input never touches dask)."""
    return type(input).__module__.startswith("dask.") and hasattr(input, "chunks")


def output_shape(shape: tuple[int, ...], axes: tuple[int, ...], kshape: tuple[int, ...],
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


class Prepared(NamedTuple):
    """What a call needs once validated and planned (``sepconv.filtering`` caches it per call)."""

    plan: _plan.Plan
    axes: tuple[int, ...]
    origins: tuple[int, ...]
    mode: str
    cval: float
    dtype: np.dtype
    final: np.dtype
    fast: _plan.Bound | None  # the engine call resolved once for C-contiguous inputs


def planned(x: np.ndarray, request: Request) -> Prepared | np.ndarray:
    """Plan a validated request; an empty input gives its (empty) result at once."""
    if x.size == 0 or 0 in request.out_shape:
        empty = np.zeros(request.out_shape, dtype=request.dtype)
        return _checks.store(empty, request.final, request.target)
    plan = _plan.make_plan(request.kernel, request.method, request.dtype, shape=x.shape,
                           axes=request.axes, integer_output=request.final.kind in "iu")
    fast = _plan.bind(x.shape, x.dtype, plan, request.axes, request.mode, request.cval,
                      request.origins, request.dtype, request.final)
    return Prepared(plan, request.axes, request.origins, request.mode, request.cval,
                    request.dtype, request.final, fast)


def execute(x: np.ndarray, p: Prepared, target: np.ndarray | None) -> np.ndarray:
    """Run a prepared call on ``x``, into ``target`` when given."""
    if p.fast is not None and p.fast.fits(x, target):
        return p.fast(x, target)
    result = _plan.execute(x, p.plan, p.axes, p.mode, p.cval, p.origins, p.dtype, final=p.final,
                           into=target)
    return target if result is target else _checks.store(result, p.final, target)


def run(x: np.ndarray, request: Request) -> np.ndarray:
    """Plan and execute a validated request (the NumPy views of torch tensors come here)."""
    prepared = planned(x, request)
    if isinstance(prepared, np.ndarray):
        return prepared
    return execute(x, prepared, request.target)
