"""rank / factorize / decompose: exact outer products, SVD-optimal truncation, N-D."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as npst

import sepconv
from sepconv import kernels

small_ints = npst.arrays(np.int64, st.integers(1, 6), elements=st.integers(-9, 9)).filter(
    lambda a: np.any(a != 0)
)
floats = npst.arrays(np.float64, st.integers(1, 7), elements=st.floats(-5, 5)).filter(
    lambda a: np.abs(a).max() > 1e-3
)


def test_sobel_factors_are_the_seeds():
    sk = sepconv.factorize([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    assert [f.tolist() for f in sk.factors] == [[1, 2, 1], [-1, 0, 1]]
    sky = sepconv.factorize(kernels.sobel("y").dense())
    assert [f.tolist() for f in sky.factors] == [[-1, 0, 1], [1, 2, 1]]


@given(a=small_ints, b=small_ints)
def test_integer_outer_products_give_integer_factors(a, b):
    k = np.outer(a, b)
    sk = sepconv.factorize(k)
    np.testing.assert_array_equal(sk.dense(), k)
    for f in sk.factors:
        np.testing.assert_array_equal(f, np.round(f))
    # the second factor is primitive: its entries have no common divisor
    assert np.gcd.reduce(sk.factors[1].astype(np.int64)) == 1


@given(a=floats, b=floats, c=floats)
def test_nd_outer_products_factorize_exactly(a, b, c):
    k = np.einsum("i,j,k->ijk", a, b, c)
    assert sepconv.rank(k) == 1
    sk = sepconv.factorize(k)
    assert sk.shape == k.shape
    np.testing.assert_allclose(sk.dense(), k, atol=1e-9 * np.abs(k).max())


def test_smoothing_factors_sum_to_one_after_the_first():
    g = kernels.gaussian(1.2)
    sk = sepconv.factorize(g.dense())
    assert sk.factors[1].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(sk.factors[0], g.factors[0], atol=1e-12)


def test_non_separable_error_gives_rank_and_best_fit_error():
    lap = kernels.laplacian().dense()
    with pytest.raises(sepconv.NotSeparableError, match=r"rank 2.*relative error 0\.\d+"):
        sepconv.factorize(lap)
    assert issubclass(sepconv.NotSeparableError, sepconv.SepconvError)
    assert issubclass(sepconv.SepconvError, ValueError)


@given(m=npst.arrays(np.float64, st.tuples(st.integers(2, 7), st.integers(2, 7)),
                     elements=st.floats(-5, 5)), data=st.data())
def test_truncated_error_equals_svd_tail(m, data):
    s = np.linalg.svd(m, compute_uv=False)
    r = data.draw(st.integers(1, min(m.shape)))
    lk = sepconv.decompose(m, rank=r)
    assert lk.rank == r
    tail = float(np.sqrt(np.sum(s[r:] ** 2)))
    assert lk.residual == pytest.approx(tail, abs=1e-9 * max(1.0, s[0]))
    np.testing.assert_allclose(np.linalg.norm(m - lk.dense()), lk.residual, atol=1e-9)
    np.testing.assert_allclose(lk.singular_values, s[:r], atol=1e-9)


def test_full_decomposition_is_exact_2d_and_nd(rng):
    for shape in [(5, 5), (3, 7), (4, 3, 2), (2, 3, 2, 3)]:
        k = rng.standard_normal(shape)
        lk = sepconv.decompose(k)
        np.testing.assert_allclose(lk.dense(), k, atol=1e-10)
        assert lk.residual < 1e-10


def test_nd_truncation_residual_is_norm_of_dropped_terms(rng):
    k = rng.standard_normal((4, 3, 3))
    full = sepconv.decompose(k)
    for r in (1, 3, 5):
        lk = sepconv.decompose(k, rank=r)
        dropped = full.singular_values[r:]
        assert lk.residual == pytest.approx(np.sqrt(np.sum(dropped**2)), rel=1e-9)


def test_log_is_exactly_rank_two_and_decomposes_exactly():
    for zero_sum in (False, True):
        lk = kernels.log(1.4, zero_sum=zero_sum)
        dense = lk.dense()
        assert sepconv.rank(dense) == 2
        dec = sepconv.decompose(dense)
        assert dec.rank == 2
        assert dec.residual < 1e-12 * np.linalg.norm(dense)
    assert abs(kernels.log(1.4, zero_sum=True).dense().sum()) < 1e-15
    # 3-D: every unfolding has rank 2 (the definition of rank), the sum needs 3 terms
    log3 = kernels.log(1.0, ndim=3)
    assert sepconv.rank(log3.dense()) == 2 and log3.rank == 3
    assert sepconv.decompose(log3.dense()).residual < 1e-12


def test_rank_tolerance_is_relative():
    k = np.outer([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    k[0, 0] += 1e-8
    assert sepconv.rank(k) == 2
    assert sepconv.rank(k, tol=1e-6) == 1
    assert sepconv.factorize(k, tol=1e-6).shape == (3, 3)
    f32 = np.outer(kernels.gaussian_1d(1.3), kernels.gaussian_1d(0.7)).astype(np.float32)
    assert sepconv.rank(f32) == 1  # float32 kernels are judged with float32's epsilon


def test_rank_too_large_is_an_error():
    with pytest.raises(sepconv.SepconvError, match="rank: expected at most 3"):
        sepconv.decompose(np.eye(3), rank=4)
    with pytest.raises(sepconv.SepconvError, match="rank"):
        sepconv.decompose(np.eye(3), rank=0)


def test_zero_and_1d_kernels():
    assert sepconv.rank(np.zeros((3, 3))) == 0
    assert sepconv.factorize(np.zeros((2, 3))).shape == (2, 3)
    assert sepconv.rank([1.0, 2.0]) == 1
    assert sepconv.factorize([1.0, 2.0]).factors[0].tolist() == [1.0, 2.0]


def test_reprs_are_readable():
    assert "factors=([1., 2., 1.], [-1.,  0.,  1.])" in repr(sepconv.factorize(
        kernels.sobel().dense()))
    assert "rank=2" in repr(sepconv.decompose(kernels.laplacian().dense()))
