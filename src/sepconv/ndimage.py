"""Drop-in replacements for scipy.ndimage's separable filters, on sepconv's fast engine.

Switch by changing one import: ``from sepconv import ndimage as ndi``. A ``torch.Tensor`` input
gives a tensor on its device, differentiable (see :func:`sepconv.correlate`). Signatures, border modes
(scipy's names, including ``grid-mirror``/``grid-constant``/``grid-wrap``, and per-axis mode
sequences where scipy takes them), ``cval``, ``origin``, ``truncate``/``radius``, ``axes`` and
``output`` behave as in scipy.ndimage; the results match scipy to float rounding.

Output dtypes follow scipy: the result has the input's dtype (integer input gives integer
output) unless ``output`` names a dtype or an array. ``size`` 0 or 1 (``uniform_filter``) and
``sigma`` 0 (``gaussian_filter``, ``gaussian_laplace``) leave that axis alone, and every
per-axis argument takes one value or one per filtered axis, as in scipy.

The documented differences, all sepconv's dtype rules (DESIGN.md):

* float32 input is computed in float32 (scipy uses float64 inside); float16 input is accepted
  (computed in float32, returned as float16), where scipy refuses it;
* integer results are rounded half to even and saturated to the type's range once per call,
  where scipy truncates toward zero and wraps around after every 1-D pass of its composite
  filters (``sobel`` of a uint8 image: scipy wraps negative slopes to large values, sepconv
  clips them to 0; ask for ``output=np.int16`` or ``np.float32`` to keep the sign).

The core functions (``sepconv.correlate`` ...) keep their own rule: integer input gives float32.
Integer output goes through the core's ``output=`` dtype, so it is produced the same way.

With ``mode='constant'`` and a non-zero ``cval`` these filters pad every pass with ``cval``, as
scipy's sequence of 1-D filters does (sepconv's own ``correlate_separable`` pads later passes with
the constant filtered so far, which equals the dense kernel); that case runs one pass at a time.

>>> import numpy as np
>>> from sepconv import ndimage
>>> ndimage.uniform_filter1d(np.array([2.0, 8, 0, 4, 1, 9, 9, 0]), size=3)
array([4.        , 3.33333333, 4.        , 1.66666667, 4.66666667, 6.33333333,
       6.        , 3.        ])
>>> ndimage.uniform_filter1d(np.array([2, 8, 0, 4, 1, 9, 9, 0], dtype=np.uint8), size=3)
array([4, 3, 4, 2, 5, 6, 6, 3], dtype=uint8)
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from . import _checks, _lru, kernels
from ._errors import SepconvError, bad_argument
from ._tensor import as_array, flip_1d, is_tensor
from .decompose import LowRankKernel, SeparableKernel
from .filtering import correlate as _correlate
from .filtering import correlate_separable, filter_separable

# scipy's extra names for filters (scipy.ndimage._ni_support._extend_mode_to_code)
_SCIPY_MODES = {"grid-mirror": "reflect", "grid-constant": "constant", "grid-wrap": "wrap"}


_SCALARS = frozenset((int, float, type(None)))


def _output(x: Any, output: Any) -> Any:
    """scipy's rule: without ``output``, integer input returns its own dtype (rounded, saturated).

    A tensor follows the same rule (its own torch dtype).
    """
    if output is not None:
        return output
    if is_tensor(x):
        kind = x.dtype
        integer = not (kind.is_floating_point or kind.is_complex) and str(kind) != "torch.bool"
        return kind if integer else None
    return x.dtype if x.dtype.kind in "iu" else None


def _mode(mode: object) -> object:
    return _SCIPY_MODES.get(mode, mode) if isinstance(mode, str) else mode


def _per_axis(value: Any, count: int, name: str) -> list[Any]:
    """A scalar repeated, or a sequence of exactly ``count`` values (scipy's rule)."""
    if type(value) in _SCALARS or isinstance(value, (str, bytes)):
        return [value] * count
    if not isinstance(value, (Sequence, np.ndarray)):
        return [value] * count
    values = list(value)
    if len(values) != count:
        raise _like_scipy(RuntimeError, bad_argument(
            name, f"one value or {count} (one per filtered axis)", value,
            f"give a single {name} or one per axis (scipy: sequence argument must have length "
            "equal to input rank)"))
    return values


class _TypeError(SepconvError, TypeError):
    """A SepconvError that scipy.ndimage raises as a TypeError (code catching either works)."""


class _RuntimeError(SepconvError, RuntimeError):
    """A SepconvError that scipy.ndimage raises as a RuntimeError."""


def _like_scipy(kind: type[Exception], error: SepconvError) -> SepconvError:
    """``error`` as a class that is both a SepconvError and the exception scipy raises."""
    cls = {TypeError: _TypeError, RuntimeError: _RuntimeError}[kind]
    return cls(*error.args)


def _axes(input: np.ndarray, axes: object) -> list[int]:
    """scipy's ``axes``: None means every axis; negative axes count from the end."""
    if axes is not None:
        seq = axes if isinstance(axes, (Sequence, np.ndarray)) else (axes,)
        if any(isinstance(a, (float, np.floating)) for a in seq):
            raise _like_scipy(TypeError, bad_argument(
                "axes", "integers", axes, "float axes cannot be interpreted as an integer"))
        ndim = input.ndim
        if any(isinstance(a, (int, np.integer)) and not -ndim <= a < ndim for a in seq):
            raise bad_argument("axes", f"axes in range [-{ndim}, {ndim})", axes,
                               "an axis is out of range: name existing input axes")
        if len({int(a) % ndim for a in seq if isinstance(a, (int, np.integer))}) != len(seq):
            raise bad_argument("axes", "distinct axes", axes, "axes must be unique: name each once")
    return list(_checks.normalize_axes(axes, input.ndim, None, what="the filter"))


def _constant(values: list[float]) -> np.ndarray:
    weights = np.array(values, dtype=np.float64)
    weights.setflags(write=False)
    return weights


_IDENTITY = _constant([1.0])
_DERIVATIVE = _constant([-1.0, 0.0, 1.0])
_SOBEL = _constant([1.0, 2.0, 1.0])
_PREWITT = _constant([1.0, 1.0, 1.0])
_KERNELS: dict[tuple[int, ...], SeparableKernel] = {}


def _kernel(factors: list[np.ndarray]) -> SeparableKernel:
    """The SeparableKernel of sepconv's own read-only factors, made once per tuple of factors.

    Keyed by the factors' ids: an entry holds its factors, so their ids are not reused while it
    lives, and a hit is checked by identity.
    """
    key = tuple(map(id, factors))
    kernel = _KERNELS.get(key)
    if kernel is None or not all(map(operator.is_, kernel.factors, factors)):
        kernel = SeparableKernel(tuple(factors))
        if not any(f.flags.writeable for f in factors):
            if len(_KERNELS) > 512:
                _KERNELS.clear()
            _KERNELS[key] = kernel
            _lru.remember_key(kernel)  # sepconv's own read-only weights: they never change
    return kernel


#: gaussian_filter calls by (input ndim, every argument but the image and output) -> the one fused
#: call they make (kernel, axes, mode, origins): a repeated call skips the argument handling
_FUSED: dict[Hashable, tuple[SeparableKernel, list[int], object, list[int]]] = {}


def _separable(input: Any, factors: list[np.ndarray], axes: list[int], modes: list[object],
               cval: float, origins: list[int], output: Any, remember: Hashable | None = None,
               ) -> np.ndarray:
    """One fused call when it equals scipy's sequence of 1-D passes, else one pass per axis.

    ``factors`` are sepconv's own (finite float arrays), so their checks are skipped. With
    ``remember``, a fused call is kept in ``_FUSED`` under that key.
    """
    x = as_array(input)
    output = _output(x, output)
    keep = [i for i, f in enumerate(factors) if not (f.size == 1 and f[0] == 1 and origins[i] == 0)]
    if not keep:  # nothing to filter: scipy copies the input into the output
        return filter_separable(x, _kernel([_IDENTITY]), axes=0, mode="reflect",
                                cval=0.0, origin=0, output=output)
    factors, axes = [factors[i] for i in keep], [axes[i] for i in keep]
    modes, origins = [_mode(modes[i]) for i in keep], [origins[i] for i in keep]
    same = all(m == modes[0] for m in modes)
    if same and not (modes[0] in ("constant", "zeros") and float(cval) != 0.0 and len(keep) > 1):
        kernel = _kernel(factors)
        result = filter_separable(x, kernel, axes=axes, mode=modes[0], cval=cval, origin=origins,
                                  output=output)
        if remember is not None and not any(f.flags.writeable for f in factors):  # sepconv's own
            if len(_FUSED) > 256:
                _FUSED.clear()
            _FUSED[remember] = (kernel, axes, modes[0], origins)
        return result
    for i, (f, axis, mode, origin) in enumerate(zip(factors, axes, modes, origins)):
        last = i == len(factors) - 1
        x = filter_separable(x, _kernel([f]), axes=axis, mode=mode, cval=cval,
                             origin=origin, output=output if last else None)
    return x


def correlate1d(input: Any, weights: Any, axis: int = -1, output: Any = None,
                mode: str = "reflect", cval: float = 0.0, origin: int = 0) -> np.ndarray:
    """1-D correlation along ``axis`` (``scipy.ndimage.correlate1d``)."""
    x = as_array(input)
    return correlate_separable(x, [weights], axes=axis, mode=_mode(mode),  # type: ignore[arg-type]
                               cval=cval, origin=origin, output=_output(x, output))


def convolve1d(input: Any, weights: Any, axis: int = -1, output: Any = None,
               mode: str = "reflect", cval: float = 0.0, origin: int = 0) -> np.ndarray:
    """1-D convolution along ``axis`` (``scipy.ndimage.convolve1d``): flipped weights."""
    w = flip_1d(weights)
    # scipy: flip, negate the origin, and shift even lengths by one
    return correlate1d(input, w, axis, output, mode, cval, -origin - (1 - w.shape[0] % 2))


def _gaussian_factor(sigma: float, order: int, truncate: float, radius: int | None) -> np.ndarray:
    if _checks.as_float(sigma, "sigma") <= 1e-15:  # scipy skips such axes (even for order > 0)
        return _IDENTITY
    try:
        return _cached_gaussian(sigma, order, truncate, radius)
    except TypeError:  # an unhashable argument: kernels.gaussian_1d checks and explains it
        return kernels.gaussian_1d(sigma, order, truncate=truncate, radius=radius)


@functools.lru_cache(maxsize=256)
def _cached_gaussian(sigma: float, order: int, truncate: float, radius: int | None) -> np.ndarray:
    """A read-only Gaussian factor, computed once per (sigma, order, truncate, radius)."""
    weights = kernels.gaussian_1d(sigma, order, truncate=truncate, radius=radius)
    weights.setflags(write=False)
    return weights


def gaussian_filter1d(input: Any, sigma: float, axis: int = -1, order: int = 0,
                      output: Any = None, mode: str = "reflect", cval: float = 0.0,
                      truncate: float = 4.0, *, radius: int | None = None) -> np.ndarray:
    """1-D Gaussian filter or derivative (``scipy.ndimage.gaussian_filter1d``)."""
    try:
        weights = _cached_gaussian(sigma, order, truncate, radius)
    except TypeError:
        weights = kernels.gaussian_1d(sigma, order, truncate=truncate, radius=radius)
    x = as_array(input)
    return _separable(x, [weights], _axes(x, [axis]), [mode], cval, [0], output)


def gaussian_filter(input: Any, sigma: Any, order: Any = 0, output: Any = None,
                    mode: Any = "reflect", cval: float = 0.0, truncate: float = 4.0, *,
                    radius: Any = None, axes: Any = None) -> np.ndarray:
    """N-D Gaussian filter (``scipy.ndimage.gaussian_filter``): one fused pass over 2 axes.

    ``sigma``, ``order``, ``mode`` and ``radius`` take one value or one per filtered axis.
    """
    x = as_array(input)
    key = _lru.plain_key(x.ndim, sigma, order, mode, cval, truncate, radius, axes)
    fused = _FUSED.get(key) if key is not None else None
    if fused is not None:
        kernel, ax, mode0, origins = fused
        return filter_separable(x, kernel, axes=ax, mode=mode0, cval=cval, origin=origins,
                                output=_output(x, output))
    ax = _axes(x, axes)
    n = len(ax)
    sigmas, orders = _per_axis(sigma, n, "sigma"), _per_axis(order, n, "order")
    modes, radii = _per_axis(mode, n, "mode"), _per_axis(radius, n, "radius")
    factors = [_gaussian_factor(s, o, truncate, r) for s, o, r in zip(sigmas, orders, radii)]
    return _separable(x, factors, ax, modes, cval, [0] * n, output, remember=key)


def uniform_filter1d(input: Any, size: int, axis: int = -1, output: Any = None,
                     mode: str = "reflect", cval: float = 0.0, origin: int = 0) -> np.ndarray:
    """1-D mean over ``size`` samples (``scipy.ndimage.uniform_filter1d``)."""
    x = as_array(input)
    return _separable(x, [_box(size)], _axes(x, [axis]), [mode], cval, [int(origin)], output)


@functools.lru_cache(maxsize=64)
def _box(size: int) -> np.ndarray:
    weights = kernels.box(int(size), ndim=1).factors[0]
    weights.setflags(write=False)
    return weights


def uniform_filter(input: Any, size: Any = 3, output: Any = None, mode: Any = "reflect",
                   cval: float = 0.0, origin: Any = 0, *, axes: Any = None) -> np.ndarray:
    """N-D mean filter (``scipy.ndimage.uniform_filter``); ``size`` per axis or one for all."""
    x = as_array(input)
    ax = _axes(x, axes)
    n = len(ax)
    sizes, modes = _per_axis(size, n, "size"), _per_axis(mode, n, "mode")
    # scipy filters only the axes with size > 1: 0 and 1 leave an axis alone
    factors = [_box(s) if int(s) > 1 else _IDENTITY for s in sizes]
    return _separable(x, factors, ax, modes, cval, [int(o) for o in _per_axis(origin, n, "origin")],
                      output)


def _gradient(input: Any, axis: int, smooth: np.ndarray, output: Any, mode: Any,
              cval: float) -> np.ndarray:
    x = as_array(input)
    (axis,) = _axes(x, [axis])
    # scipy's order: the derivative first, then the smoothing along the other axes
    ax = [axis] + [a for a in range(x.ndim) if a != axis]
    factors = [_DERIVATIVE] + [smooth] * (x.ndim - 1)
    modes = _per_axis(mode, x.ndim, "mode")
    return _separable(x, factors, ax, [modes[a] for a in ax], cval, [0] * x.ndim, output)


def sobel(input: Any, axis: int = -1, output: Any = None, mode: Any = "reflect",
          cval: float = 0.0) -> np.ndarray:
    """Sobel derivative along ``axis``, [1, 2, 1] smoothing along the others (scipy's ``sobel``)."""
    return _gradient(input, axis, _SOBEL, output, mode, cval)


def prewitt(input: Any, axis: int = -1, output: Any = None, mode: Any = "reflect",
            cval: float = 0.0) -> np.ndarray:
    """Prewitt derivative along ``axis``, [1, 1, 1] along the others (scipy's ``prewitt``)."""
    return _gradient(input, axis, _PREWITT, output, mode, cval)


def gaussian_laplace(input: Any, sigma: Any, output: Any = None, mode: Any = "reflect",
                     cval: float = 0.0, *, axes: Any = None, **kwargs: Any) -> np.ndarray:
    """Laplacian of Gaussian (``scipy.ndimage.gaussian_laplace``): Σ of second derivatives.

    Runs as one low-rank pass (rank = number of axes) when a single mode applies; ``kwargs`` are
    ``truncate`` and ``radius`` as in :func:`gaussian_filter`.
    """
    x = as_array(input)
    ax = _axes(x, axes)
    n = len(ax)
    sigmas, modes = _per_axis(sigma, n, "sigma"), _per_axis(mode, n, "mode")
    truncate, radius = kwargs.pop("truncate", 4.0), kwargs.pop("radius", None)
    if kwargs:
        raise bad_argument("kwargs", "only truncate= and radius=", sorted(kwargs),
                           "drop the other keywords")
    radii = _per_axis(radius, n, "radius")
    output = _output(x, output)
    terms = [[_gaussian_factor(s, 2 if i == j else 0, truncate, r)
              for j, (s, r) in enumerate(zip(sigmas, radii))] for i in range(n)]
    mode0 = _mode(modes[0])
    if all(_mode(m) == mode0 for m in modes) and (mode0 != "constant" or float(cval) == 0.0):
        kernel = LowRankKernel(tuple(SeparableKernel(tuple(t)) for t in terms))
        return _correlate(x, kernel, axes=ax, mode=mode0, cval=cval, output=output)  # type: ignore[arg-type]
    # one term per axis, each a scipy gaussian_filter with its own mode
    total = None
    integer = _output(x, None) is not None
    partial = np.float32 if integer else None  # an integer result rounds once, at the end
    for i, term in enumerate(terms):
        part = _separable(x, term, ax, [modes[i]] * n, cval, [0] * n, partial)
        total = part if total is None else total + part
    return correlate_separable(total, [np.ones(1)], axes=0, output=output)


__all__ = [
    "convolve1d",
    "correlate1d",
    "gaussian_filter",
    "gaussian_filter1d",
    "gaussian_laplace",
    "prewitt",
    "sobel",
    "uniform_filter",
    "uniform_filter1d",
]
