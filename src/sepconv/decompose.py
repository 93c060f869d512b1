"""Rank, factorization and low-rank decomposition of 2-D and N-D kernels.

Definitions used throughout sepconv:

- The **rank** of an N-D kernel is the largest rank of its mode unfoldings (the matrix whose rows
  are indexed by one axis and columns by all the others). Rank 1 means the kernel is an outer
  product of one 1-D kernel per axis: it is *separable*.
- Ranks are numerical: a singular value ``s`` counts when ``s > tol * s_max``. The default
  ``tol`` is ``max(unfolding.shape) * eps``, with ``eps`` of float32 for float32 kernels and of
  float64 otherwise (NumPy's ``matrix_rank`` rule).
- :func:`decompose` writes a kernel as a sum of separable terms. In 2-D it is the SVD, optimal in
  the Frobenius norm (Eckart-Young). In N-D it is the *recursive SVD*: unfold along axis 0, take
  the SVD, and decompose each right singular vector (reshaped to N-1 dimensions) the same way.
  The terms are mutually orthogonal, so keeping the largest ones leaves a residual equal to the
  root-sum-square of the dropped terms' norms; it is exact when all terms are kept, but not always
  the fewest possible terms (the minimal N-D "CP rank" is NP-hard to find).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import reduce

import numpy as np

from ._checks import as_kernel, require_int
from ._errors import NotSeparableError, bad_argument


def outer(factors: tuple[np.ndarray, ...] | list[np.ndarray]) -> np.ndarray:
    """The outer product of 1-D factors: axis i of the result is factor i."""
    return reduce(np.multiply.outer, factors)


def _fmt(values: np.ndarray) -> str:
    return np.array2string(np.asarray(values), precision=6, separator=", ", suppress_small=True)


@dataclass(frozen=True, eq=False)
class SeparableKernel:
    """A kernel that is the outer product of one 1-D factor per axis (axis 0 first).

    >>> k = SeparableKernel((np.array([1., 2., 1.]), np.array([-1., 0., 1.])))
    >>> k.shape, k.dense()[0]
    ((3, 3), array([-1.,  0.,  1.]))
    """

    factors: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        factors = tuple(np.asarray(f, dtype=np.result_type(f, np.float32)) for f in self.factors)
        if not factors or any(f.ndim != 1 or f.size == 0 for f in factors):
            raise bad_argument(
                "factors", "one non-empty 1-D array per axis", [np.shape(f) for f in factors],
                "pass a tuple of 1-D arrays",
            )
        object.__setattr__(self, "factors", factors)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(f.size for f in self.factors)

    @property
    def ndim(self) -> int:
        return len(self.factors)

    def dense(self) -> np.ndarray:
        """The full kernel, ``factors[0] ⊗ factors[1] ⊗ ...``."""
        return outer(self.factors)

    def __repr__(self) -> str:
        body = ", ".join(_fmt(f) for f in self.factors)
        return f"SeparableKernel(shape={self.shape}, factors=({body}))"


@dataclass(frozen=True, eq=False)
class LowRankKernel:
    """A kernel written as a sum of separable terms.

    ``singular_values`` are the terms' weights as found by the decomposition (the SVD's singular
    values in 2-D; the terms' Frobenius norms in N-D), largest first; ``residual`` is the
    Frobenius norm of ``kernel - dense()``: zero (to rounding) for an exact decomposition.
    """

    terms: tuple[SeparableKernel, ...]
    singular_values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    residual: float = 0.0

    @property
    def rank(self) -> int:
        return len(self.terms)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.terms[0].shape

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dense(self) -> np.ndarray:
        """The sum of the terms' outer products."""
        return sum((t.dense() for t in self.terms), start=np.zeros(self.shape))

    def __repr__(self) -> str:
        return (
            f"LowRankKernel(shape={self.shape}, rank={self.rank}, "
            f"singular_values={_fmt(self.singular_values)}, residual={self.residual:.3g})"
        )


def unfold(kernel: np.ndarray, axis: int) -> np.ndarray:
    """Mode-``axis`` unfolding: rows indexed by ``axis``, columns by the other axes in order."""
    return np.moveaxis(kernel, axis, 0).reshape(kernel.shape[axis], -1)


def _default_tol(kernel: np.ndarray, shape: tuple[int, ...]) -> float:
    eps = np.finfo(np.float32 if kernel.dtype == np.float32 else np.float64).eps
    return float(max(shape) * eps)


def _numerical_rank(s: np.ndarray, tol: float) -> int:
    if s.size == 0 or s[0] == 0:
        return 0
    return int(np.count_nonzero(s > tol * s[0]))


def _check_tol(tol: float | None, kernel: np.ndarray) -> float | None:
    if tol is None:
        return None
    value = float(tol)
    if not np.isfinite(value) or value < 0:
        raise bad_argument("tol", "a finite number >= 0", tol, "e.g. tol=1e-6 (relative)")
    return value


def rank(kernel: object, *, tol: float | None = None) -> int:
    """Numerical rank of a kernel: 1 when it is an outer product of 1-D kernels.

    For an N-D kernel it is the largest rank of its mode unfoldings; singular values count when
    they exceed ``tol`` times the largest (see the module docstring for the default).

    >>> rank([[1, 2, 1], [2, 4, 2], [1, 2, 1]]), rank([[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    (1, 2)
    """
    k = as_kernel(kernel)
    t = _check_tol(tol, k)
    if k.ndim == 1:
        return int(np.any(k != 0))
    ranks = []
    for axis in range(k.ndim):
        m = unfold(k.astype(np.float64), axis)
        s = np.linalg.svd(m, compute_uv=False)
        ranks.append(_numerical_rank(s, t if t is not None else _default_tol(k, m.shape)))
    return max(ranks)


def _primitive_integers(v: np.ndarray) -> np.ndarray | None:
    """Scale ``v`` to the smallest integer vector with the same direction, if it has one."""
    nz = v[np.abs(v) > 1e-12 * np.abs(v).max()]
    base = nz[np.argmin(np.abs(nz))]
    ratios = [Fraction(float(x / base)).limit_denominator(1000) for x in v]
    lcm = reduce(np.lcm, [r.denominator for r in ratios], 1)
    ints = np.array([int(r * lcm) for r in ratios], dtype=np.int64)
    g = reduce(np.gcd, ints.tolist(), 0)
    ints = ints // max(g, 1)
    fit = ints * (np.dot(v, ints) / np.dot(ints, ints))
    if not np.allclose(fit, v, rtol=1e-9, atol=1e-12 * np.abs(v).max()):
        return None
    return ints.astype(np.float64)


def _orient(v: np.ndarray) -> np.ndarray:
    """Sign rule: positive sum; for a zero-sum factor, the last non-zero entry positive."""
    total = v.sum()
    scale = np.abs(v).sum()
    if abs(total) > 1e-9 * scale:
        return v if total > 0 else -v
    last = v[np.flatnonzero(np.abs(v) > 1e-12 * scale)[-1]]
    return v if last > 0 else -v


def _normalize_factors(kernel: np.ndarray, directions: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Readable factors: axes 1.. are normalized, axis 0 carries the scale (see factorize)."""
    integral = bool(np.all(kernel == np.round(kernel)))
    rest = []
    for v in directions[1:]:
        ints = _primitive_integers(v) if integral else None
        if ints is not None:
            v = ints
        elif abs(v.sum()) > 1e-9 * np.abs(v).sum():
            v = v / v.sum()
        else:
            v = v / np.abs(v).max()
        rest.append(_orient(v))
    # the first factor follows exactly from the kernel and the other factors
    contracted = kernel.astype(np.float64)
    for v in reversed(rest):
        contracted = contracted @ v / np.dot(v, v)
    first = np.round(contracted) if integral else contracted
    return tuple(f + 0.0 for f in (first, *rest))  # + 0.0 turns -0.0 into 0.0


def factorize(kernel: object, *, tol: float | None = None) -> SeparableKernel:
    """Split a separable kernel into one 1-D factor per axis.

    Normalization rule (so factors are readable): every factor but the first is scaled to the
    smallest integers when the kernel holds only integers, else to sum 1 (or, if it sums to zero,
    to a largest magnitude of 1); its sign makes its sum positive, or for a zero-sum factor its
    last non-zero entry positive (a derivative increases along the axis). The first factor carries
    the kernel's scale and sign. Raises :class:`NotSeparableError` (with the rank and the relative
    error of the best rank-1 fit) for a kernel that is not an outer product.

    >>> sobel_x = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    >>> [f.tolist() for f in factorize(sobel_x).factors]
    [[1.0, 2.0, 1.0], [-1.0, 0.0, 1.0]]
    """
    k = as_kernel(kernel)
    if k.ndim == 1:
        return SeparableKernel((k.copy(),))
    r = rank(k, tol=tol)
    if r > 1:
        best = decompose(k, rank=1)
        rel = best.residual / max(float(np.linalg.norm(k)), np.finfo(float).tiny)
        raise NotSeparableError(
            f"kernel: expected a separable (rank-1) kernel, received one of rank {r} and shape "
            f"{k.shape}; the best rank-1 fit has relative error {rel:.3g}; use "
            f"sepconv.decompose(kernel) for an exact sum of {r}+ separable terms, or "
            "correlate(..., method='auto') which does that for you"
        )
    if r == 0:
        return SeparableKernel(tuple(np.zeros(n) for n in k.shape))
    directions = [np.linalg.svd(unfold(k.astype(np.float64), a))[0][:, 0] for a in range(k.ndim)]
    factors = _normalize_factors(k, directions)
    return SeparableKernel(tuple(f.astype(k.dtype) for f in factors))


def _tree_terms(k: np.ndarray, tol: float) -> list[tuple[float, list[np.ndarray]]]:
    """Recursive SVD: (norm, unit factors) for every term, exact up to ``tol``-dropped parts."""
    if k.ndim == 1:
        norm = float(np.linalg.norm(k))
        return [(norm, [k / norm])] if norm > 0 else []
    u, s, vt = np.linalg.svd(unfold(k, 0), full_matrices=False)
    keep = _numerical_rank(s, tol)
    terms = []
    for i in range(keep):
        for norm, factors in _tree_terms(vt[i].reshape(k.shape[1:]), tol):
            terms.append((float(s[i] * norm), [u[:, i], *factors]))
    return terms


def _max_terms(shape: tuple[int, ...]) -> int:
    """How many terms the recursive SVD can produce for a kernel of this shape."""
    if len(shape) == 1:
        return 1
    return min(shape[0], int(np.prod(shape[1:]))) * _max_terms(shape[1:])


def decompose(kernel: object, *, rank: int | None = None, tol: float | None = None) -> LowRankKernel:
    """Write a kernel as a sum of separable terms (SVD in 2-D, recursive SVD in N-D).

    With ``rank=None`` all terms above the relative tolerance are kept (exact to rounding);
    ``rank=r`` keeps the ``r`` largest terms, optimal in 2-D (Eckart-Young).

    >>> lk = decompose([[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    >>> lk.rank, bool(lk.residual < 1e-12)
    (2, True)
    """
    k = as_kernel(kernel)
    k64 = k.astype(np.float64)
    t = _check_tol(tol, k)
    t = t if t is not None else _default_tol(k, k.shape)
    exact_terms = _tree_terms(k64, 0.0 if rank is not None else t)
    exact_terms.sort(key=lambda term: -term[0])
    if rank is not None:
        limit = _max_terms(k.shape)
        r = require_int(rank, "rank", minimum=1)
        if r > limit:
            raise bad_argument(
                "rank", f"at most {limit} for a kernel of shape {k.shape}", r,
                f"use rank <= {limit}, or rank=None for the exact decomposition",
            )
        exact_terms = exact_terms[:r]
        zero = [np.zeros(n) for n in k.shape]
        exact_terms += [(0.0, zero)] * (r - len(exact_terms))  # exactly-zero singular values
    terms = tuple(
        SeparableKernel(tuple(_split_scale(norm, factors, k.dtype))) for norm, factors in exact_terms
    )
    if not terms:
        terms = (SeparableKernel(tuple(np.zeros(n, dtype=k.dtype) for n in k.shape)),)
    approx = sum((t_.dense().astype(np.float64) for t_ in terms), start=np.zeros(k.shape))
    residual = float(np.linalg.norm(k64 - approx))
    return LowRankKernel(terms, np.array([n for n, _ in exact_terms]), residual)


def _split_scale(norm: float, factors: list[np.ndarray], dtype: np.dtype) -> list[np.ndarray]:
    """Unit factors with a deterministic sign; the norm goes into the first factor."""
    out = []
    sign = 1.0
    for f in factors[1:]:
        g = f if f[np.argmax(np.abs(f))] > 0 else -f
        sign *= 1.0 if g is f else -1.0
        out.append(g.astype(dtype))
    return [(sign * norm * factors[0]).astype(dtype), *out]
