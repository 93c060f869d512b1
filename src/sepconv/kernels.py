"""Named kernels, for correlation (``sepconv.correlate``), as SeparableKernel or LowRankKernel.

Axis names: "x" is the last axis (columns), "y" the one before (rows), "z" the one before that.
Derivative kernels are oriented for correlation, like OpenCV's ``filter2D`` and
``scipy.ndimage.sobel``: the response is positive where the image increases along the axis.

>>> sobel().dense()
array([[-1.,  0.,  1.],
       [-2.,  0.,  2.],
       [-1.,  0.,  1.]])
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

import numpy as np

from ._checks import as_float, require_int
from ._errors import bad_argument
from .decompose import LowRankKernel, SeparableKernel, decompose

_AXIS_NAMES = {"x": -1, "y": -2, "z": -3}


def _axis(axis: int | str, ndim: int) -> int:
    a = _AXIS_NAMES.get(axis, axis) if isinstance(axis, str) else axis
    if isinstance(a, str) or isinstance(a, bool) or not isinstance(a, (int, np.integer)):
        raise bad_argument("axis", "an int or one of 'x', 'y', 'z'", axis, "e.g. axis='x'")
    if not -ndim <= a < ndim:
        raise bad_argument("axis", f"an axis of a {ndim}-D kernel", axis, f"use -{ndim}..{ndim - 1}")
    return int(a) % ndim


def _per_axis(value: object, ndim: int, name: str) -> list:
    if isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str):
        seq = list(value)
        if len(seq) != ndim:
            raise bad_argument(name, f"a scalar or {ndim} values", value, "give one per axis")
        return seq
    return [value] * ndim


def _derivative(smooth: np.ndarray, deriv: np.ndarray, axis: int | str, ndim: int) -> SeparableKernel:
    ndim = require_int(ndim, "ndim")
    a = _axis(axis, ndim)
    return SeparableKernel(tuple(deriv if i == a else smooth for i in range(ndim)))


def binomial_1d(size: int) -> np.ndarray:
    """Binomial coefficients, e.g. ``[1, 2, 1]`` (not normalized)."""
    n = require_int(size, "size")
    return np.array([comb(n - 1, i) for i in range(n)], dtype=np.float64)


def sobel(axis: int | str = "x", size: int = 3, *, ndim: int = 2) -> SeparableKernel:
    """Sobel derivative along ``axis``: binomial smoothing across, central difference along.

    Sizes 3, 5, 7 as OpenCV's ``getDerivKernels`` (5: ``[-1, -2, 0, 2, 1]`` ⊗ ``[1, 4, 6, 4, 1]``).
    """
    if size not in (3, 5, 7):
        raise bad_argument("size", "3, 5 or 7", size, "use one of the Sobel sizes")
    deriv = np.convolve([-1.0, 0.0, 1.0], binomial_1d(size - 2))
    return _derivative(binomial_1d(size), deriv, axis, ndim)


def scharr(axis: int | str = "x", *, ndim: int = 2) -> SeparableKernel:
    """Scharr derivative: ``[3, 10, 3]`` smoothing, ``[-1, 0, 1]`` difference."""
    return _derivative(np.array([3.0, 10.0, 3.0]), np.array([-1.0, 0.0, 1.0]), axis, ndim)


def prewitt(axis: int | str = "x", *, ndim: int = 2) -> SeparableKernel:
    """Prewitt derivative: ``[1, 1, 1]`` smoothing, ``[-1, 0, 1]`` difference."""
    return _derivative(np.ones(3), np.array([-1.0, 0.0, 1.0]), axis, ndim)


def box(size: int | Sequence[int] = 3, *, ndim: int = 2, normalize: bool = True) -> SeparableKernel:
    """A box (mean) filter; ``normalize=True`` makes it sum to 1 (``uniform_filter``)."""
    sizes = [require_int(s, "size") for s in _per_axis(size, require_int(ndim, "ndim"), "size")]
    return SeparableKernel(tuple(np.ones(n) / (n if normalize else 1) for n in sizes))


def binomial(size: int | Sequence[int] = 3, *, ndim: int = 2, normalize: bool = True) -> SeparableKernel:
    """Binomial smoothing (``[1, 2, 1]/4`` for size 3), the discrete Gaussian."""
    sizes = [require_int(s, "size") for s in _per_axis(size, require_int(ndim, "ndim"), "size")]
    factors = [binomial_1d(n) for n in sizes]
    return SeparableKernel(tuple(f / f.sum() if normalize else f for f in factors))


def gaussian_1d(
    sigma: float, order: int = 0, *, truncate: float = 4.0, radius: int | None = None
) -> np.ndarray:
    """The 1-D Gaussian (or its ``order``-th derivative) for correlation, as scipy.ndimage uses.

    Radius ``int(truncate * sigma + 0.5)`` unless given. Samples exp(-x²/2σ²) normalized to sum 1,
    times the derivative's polynomial; no zero-sum correction (scipy's ``gaussian_filter1d``).
    """
    s = as_float(sigma, "sigma")
    if not s > 0:
        raise bad_argument("sigma", "a positive number", sigma, "e.g. sigma=1.5")
    order = require_int(order, "order", minimum=0)
    if radius is None:
        t = as_float(truncate, "truncate")
        if not t > 0:
            raise bad_argument("truncate", "a positive number", truncate, "e.g. truncate=4.0")
        radius = int(t * s + 0.5)
    r = require_int(radius, "radius", minimum=0)
    x = np.arange(-r, r + 1, dtype=np.float64)
    phi = np.exp(-0.5 * x * x / (s * s))
    phi /= phi.sum()
    # q is the polynomial with d^n/dx^n exp(-x²/2σ²) = q(x) exp(-x²/2σ²): q' - x q / σ².
    q = np.zeros(order + 1)
    q[0] = 1.0
    for _ in range(order):
        q = np.append(q[1:] * np.arange(1, q.size), 0.0) - np.concatenate(([0.0], q[:-1])) / (s * s)
    poly = np.polynomial.polynomial.polyval(x, q)
    # scipy correlates with the reversed kernel; reversing gives a correlation kernel.
    return (poly * phi)[::-1].copy()


def gaussian(
    sigma: float | Sequence[float],
    *,
    order: int | Sequence[int] = 0,
    truncate: float = 4.0,
    radius: int | Sequence[int] | None = None,
    ndim: int | None = None,
) -> SeparableKernel:
    """Gaussian (or derivative) kernel, per-axis ``sigma`` and ``order``; 2-D unless told.

    Matches ``scipy.ndimage.gaussian_filter`` exactly: ``correlate(x, gaussian(s))`` equals
    ``gaussian_filter(x, s)``.
    """
    if ndim is None:
        lengths = [len(v) for v in (sigma, order, radius) if isinstance(v, Sequence)]
        ndim = lengths[0] if lengths else 2
    n = require_int(ndim, "ndim")
    sig, ords, rads = (
        _per_axis(v, n, name) for v, name in ((sigma, "sigma"), (order, "order"), (radius, "radius"))
    )
    return SeparableKernel(
        tuple(gaussian_1d(s, o, truncate=truncate, radius=r) for s, o, r in zip(sig, ords, rads))
    )


def _sum_of_terms(per_axis: list[tuple[np.ndarray, np.ndarray]]) -> LowRankKernel:
    """Σ_i (d_i along axis i, s_j along every other axis j), e.g. a Laplacian."""
    n = len(per_axis)
    terms = tuple(
        SeparableKernel(tuple(per_axis[j][1] if j == i else per_axis[j][0] for j in range(n)))
        for i in range(n)
    )
    dense = sum((t.dense() for t in terms), start=np.zeros(terms[0].shape))
    # the weights reported are those of the exact decomposition (the SVD's in 2-D)
    return LowRankKernel(terms, decompose(dense).singular_values, 0.0)


def laplacian(*, ndim: int = 2) -> LowRankKernel:
    """The discrete Laplacian ``[1, -2, 1]`` summed over axes (rank ``ndim``; scipy's ``laplace``)."""
    n = require_int(ndim, "ndim")
    return _sum_of_terms([(np.array([0.0, 1.0, 0.0]), np.array([1.0, -2.0, 1.0]))] * n)


def log(
    sigma: float | Sequence[float],
    *,
    truncate: float = 4.0,
    radius: int | None = None,
    ndim: int = 2,
    zero_sum: bool = False,
) -> LowRankKernel:
    """Laplacian of Gaussian: the sampled ∇²G = Σ_i G''(x_i) Π_j≠i G(x_j), exactly rank ``ndim``.

    Equals ``scipy.ndimage.gaussian_laplace``. The sampled kernel sums to a small non-zero value;
    ``zero_sum=True`` subtracts ``sum(G'') · G`` from each second-derivative factor, which makes
    the kernel sum to zero (no response to flat regions) and keeps it exactly rank ``ndim``.
    """
    n = require_int(ndim, "ndim")
    pairs = []
    for s in _per_axis(sigma, n, "sigma"):
        g = gaussian_1d(s, 0, truncate=truncate, radius=radius)
        d2 = gaussian_1d(s, 2, truncate=truncate, radius=radius)
        if zero_sum:
            d2 = d2 - d2.sum() * g
        pairs.append((g, d2))
    return _sum_of_terms(pairs)


__all__ = [
    "binomial",
    "binomial_1d",
    "box",
    "gaussian",
    "gaussian_1d",
    "laplacian",
    "log",
    "prewitt",
    "scharr",
    "sobel",
]
