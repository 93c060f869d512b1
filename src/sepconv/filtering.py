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
(``sepconv.dask``); dask is imported only then. A ``torch.Tensor`` input gives a tensor on its
device, differentiable, with the same dtype rules (``sepconv._tensor``); the kernel may be a tensor.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from . import _checks, _lru, _plan, _request
from ._errors import SepconvError, bad_argument
from ._tensor import is_tensor
from .decompose import LowRankKernel, SeparableKernel

KernelLike = np.ndarray | SeparableKernel | LowRankKernel | Sequence


#: validated, planned calls by (input shape and dtype, kernel bytes, every argument): a repeated
#: call on an image of the same shape skips validation and planning (an LRU, safe under threads)
CALLS = _lru.LRU(256)


def _call_key(x: np.ndarray, kernel: _plan.Kernel, args: tuple) -> Hashable | None:
    """The cache key of a call, or None when an argument is not hashable (then: no caching)."""
    mode, cval, origin, axes, output, method, flip = args
    out = ("array", output.shape, output.dtype.str) if isinstance(output, np.ndarray) else output
    try:
        key = (x.shape, x.dtype.str, _lru.kernel_key(kernel), mode, _lru.freeze(cval),
               _lru.freeze(origin), _lru.freeze(axes), out, method, flip)
        hash(key)  # e.g. a list as mode: validation then explains it
    except TypeError:
        return None
    return key


def _prepare(x: np.ndarray, kernel: _plan.Kernel, args: tuple) -> _request.Prepared | np.ndarray:
    """Validate and plan a call; an empty input gives its (empty) result at once."""
    mode, cval, origin, axes, output, method, flip = args
    request = _request.validate(x.shape, x.dtype, kernel, mode=mode, cval=cval, origin=origin,
                                axes=axes, output=output, method=method, flip=flip)
    return _request.planned(x, request)


def _on_tensor(input: object, kernel: object, form: str, **kwargs: object) -> Any:
    from ._tensor.dispatch import filter_tensor  # only a tensor input loads the torch code

    return filter_tensor(input, kernel, form=form, **kwargs)  # type: ignore[arg-type]


def _filter(input: object, kernel: _plan.Kernel, *, mode: object, cval: object, origin: object,
            axes: object, output: object, method: object, flip: bool) -> np.ndarray:
    if _request.is_dask_array(input):
        from . import dask as lazy  # only a dask input imports dask

        return lazy.filter_array(input, kernel, mode=mode, cval=cval,  # type: ignore[arg-type, return-value]
                                 origin=origin, axes=axes, output=output, method=method, flip=flip)
    x = _checks.as_input(input)
    args = (mode, cval, origin, axes, output, method, flip)
    key = _call_key(x, kernel, args)
    prepared = CALLS.get(key) if key is not None else None
    if prepared is None:
        prepared = _prepare(x, kernel, args)
        if isinstance(prepared, np.ndarray):
            return prepared
        if key is not None:
            CALLS.put(key, prepared)
    return _request.execute(x, prepared, output if isinstance(output, np.ndarray) else None)


def filter_separable(input: object, kernel: SeparableKernel, *, axes: object, mode: object,
                     cval: object, origin: object, output: object) -> np.ndarray:
    """:func:`correlate_separable` for a kernel made by sepconv itself (finite float factors,
    e.g. ``sepconv.ndimage``'s cached Gaussians): the factors' checks are skipped."""
    if is_tensor(input):
        return _on_tensor(input, kernel, "separable", mode=mode, cval=cval, origin=origin,
                          axes=axes, output=output, method="separable", flip=False)
    return _filter(input, kernel, mode=mode, cval=cval, origin=origin, axes=axes, output=output,
                   method="separable", flip=False)


def correlate(input: object, kernel: KernelLike, *, mode: str = "reflect", cval: float = 0.0,
              origin: int | Sequence[int] = 0, axes: int | Sequence[int] | None = None,
              output: object = None, method: str = "auto") -> np.ndarray:
    """Correlate ``input`` with an N-D ``kernel`` (no flip), as ``scipy.ndimage.correlate``.

    ``kernel`` may be an array, a :class:`~sepconv.SeparableKernel` or a
    :class:`~sepconv.LowRankKernel`. ``method='auto'`` applies a separable kernel as one 1-D pass
    per axis and a low-rank one as a sum of separable terms when that is cheaper; ``'direct'``,
    ``'separable'``, ``'lowrank'`` and ``'fft'`` force a method. Without ``axes`` the kernel needs
    one dimension per input axis; ``axes`` names the filtered axes, others are left alone.

    ``input`` may be a NumPy array (or anything ``numpy.asarray`` takes), a ``torch.Tensor``
    (the result is a tensor on its device, differentiable; the kernel may be a tensor too) or a
    ``dask.array.Array`` (the result is a lazy dask array, equal to the in-memory one).

    >>> x = np.arange(16.0).reshape(4, 4)
    >>> correlate(x, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])[1]
    array([4., 8., 8., 4.])
    """
    if is_tensor(input):
        return _on_tensor(input, kernel, "dense", mode=mode, cval=cval, origin=origin, axes=axes,
                          output=output, method=method, flip=False)
    return _filter(input, _request.kernel_object(kernel), mode=mode, cval=cval, origin=origin, axes=axes,
                   output=output, method=method, flip=False)


def convolve(input: object, kernel: KernelLike, *, mode: str = "reflect", cval: float = 0.0,
             origin: int | Sequence[int] = 0, axes: int | Sequence[int] | None = None,
             output: object = None, method: str = "auto") -> np.ndarray:
    """Convolve (flip the kernel, then correlate), as ``scipy.ndimage.convolve``.

    Takes what :func:`correlate` takes (arrays, torch tensors, dask arrays).
    """
    if is_tensor(input):
        return _on_tensor(input, kernel, "dense", mode=mode, cval=cval, origin=origin, axes=axes,
                          output=output, method=method, flip=True)
    return _filter(input, _request.kernel_object(kernel), mode=mode, cval=cval, origin=origin, axes=axes,
                   output=output, method=method, flip=True)


#: 1-D kernels given as NumPy arrays or lists of numbers, converted once (keyed by their values;
#: the cached objects hold their own copies, so a caller changing an array later changes nothing)
_CONVERTED = _lru.LRU(128)
_LARGEST_CACHED = 4096  # taps per factor: longer ones are converted per call (hashing costs)


def _factors_key(kernels_1d: object) -> Hashable | None:
    """A key for a list/tuple of 1-D NumPy arrays or lists of numbers, else None (no caching)."""
    if not isinstance(kernels_1d, (list, tuple)) or not kernels_1d:
        return None
    parts: list[Hashable] = []
    for k in kernels_1d:
        if isinstance(k, np.ndarray):
            if k.ndim != 1 or k.size > _LARGEST_CACHED:
                return None
            parts.append((k.dtype.str, k.tobytes()))
        elif isinstance(k, (list, tuple)) and all(type(v) in (int, float) for v in k):
            parts.append(tuple(k))
        else:
            return None
    return tuple(parts)


def _separable_object(kernels_1d: object) -> SeparableKernel:
    """The validated SeparableKernel; small arrays and lists of numbers are converted once."""
    key = _factors_key(kernels_1d)
    kernel = _CONVERTED.get(key) if key is not None else None
    if kernel is None:
        kernel = _convert_separable(kernels_1d)
        if key is not None:
            kernel = SeparableKernel(tuple(np.array(f) for f in kernel.factors))  # own copies
            _lru.remember_key(kernel)  # nobody else holds these factors: key them once
            _CONVERTED.put(key, kernel)
    return kernel


def _convert_separable(kernels_1d: object) -> SeparableKernel:
    if isinstance(kernels_1d, SeparableKernel):
        return _request.kernel_object(kernels_1d)  # type: ignore[return-value]
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

    ``kernels_1d[i]`` filters ``axes[i]`` (all axes in order when ``axes`` is None). Takes what
    :func:`correlate` takes (arrays, torch tensors, dask arrays); the factors may be tensors.

    >>> x = np.arange(16.0).reshape(4, 4)
    >>> correlate_separable(x, [[1, 2, 1], [-1, 0, 1]])[1]
    array([4., 8., 8., 4.])
    """
    if is_tensor(input):
        return _on_tensor(input, kernels_1d, "separable", mode=mode, cval=cval, origin=origin,
                          axes=axes, output=output, method="separable", flip=False)
    return _filter(input, _separable_object(kernels_1d), mode=mode, cval=cval, origin=origin,
                   axes=axes, output=output, method="separable", flip=False)


def convolve_separable(input: object, kernels_1d: object, *, axes: int | Sequence[int] | None = None,
                       mode: str = "reflect", cval: float = 0.0, origin: int | Sequence[int] = 0,
                       output: object = None) -> np.ndarray:
    """Convolve with the outer product of 1-D kernels (each flipped), one pass per axis.

    Takes what :func:`correlate` takes (arrays, torch tensors, dask arrays).
    """
    if is_tensor(input):
        return _on_tensor(input, kernels_1d, "separable", mode=mode, cval=cval, origin=origin,
                          axes=axes, output=output, method="separable", flip=True)
    return _filter(input, _separable_object(kernels_1d), mode=mode, cval=cval, origin=origin,
                   axes=axes, output=output, method="separable", flip=True)


__all__ = ["SepconvError", "convolve", "convolve_separable", "correlate", "correlate_separable"]
