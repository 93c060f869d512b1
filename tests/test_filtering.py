"""sepconv's filters against scipy.ndimage (independent reference) and reference.py."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as npst

import sepconv
from sepconv import kernels, reference
from tests.helpers import MODES, TOL

METHODS = ("auto", "direct", "lowrank", "fft")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kshape", [(3, 3), (4, 2), (1, 5), (2, 2), (7, 6)])
@pytest.mark.parametrize("method", METHODS)
def test_correlate_and_convolve_match_scipy(rng, mode, kshape, method):
    x = rng.standard_normal((9, 11))
    k = rng.standard_normal(kshape)
    origin = (-(kshape[0] // 2), (kshape[1] - 1) // 2)
    for o in [(0, 0), origin]:
        got = sepconv.correlate(x, k, mode=mode, cval=1.5, origin=o, method=method)
        np.testing.assert_allclose(got, ndi.correlate(x, k, mode=mode, cval=1.5, origin=o),
                                   atol=1e-9)
        got = sepconv.convolve(x, k, mode=mode, cval=-0.5, origin=o, method=method)
        np.testing.assert_allclose(got, ndi.convolve(x, k, mode=mode, cval=-0.5, origin=o),
                                   atol=1e-9)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sizes", [(3, 3), (4, 1), (2, 5), (13, 1)])
def test_separable_matches_scipy_including_kernels_longer_than_the_axis(rng, mode, sizes):
    x = rng.standard_normal((5, 8))  # a 13-tap kernel is longer than the 5-row axis
    f0, f1 = rng.standard_normal(sizes[0]), rng.standard_normal(sizes[1])
    origin = (sizes[0] // 2 * -1, 0)
    want = ndi.correlate(x, np.outer(f0, f1), mode=mode, cval=2.0, origin=origin)
    got = sepconv.correlate_separable(x, [f0, f1], mode=mode, cval=2.0, origin=origin)
    np.testing.assert_allclose(got, want, atol=1e-9)
    got = sepconv.correlate(x, np.outer(f0, f1), mode=mode, cval=2.0, origin=origin)
    np.testing.assert_allclose(got, want, atol=1e-9)
    want = ndi.convolve(x, np.outer(f0, f1), mode=mode, cval=2.0, origin=origin)
    got = sepconv.convolve_separable(x, [f0, f1], mode=mode, cval=2.0, origin=origin)
    np.testing.assert_allclose(got, want, atol=1e-9)


@given(
    x=npst.arrays(np.float64, npst.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=9),
                  elements=st.floats(-10, 10)),
    k0=npst.arrays(np.float64, st.integers(1, 6), elements=st.floats(-3, 3)),
    k1=npst.arrays(np.float64, st.integers(1, 6), elements=st.floats(-3, 3)),
    mode=st.sampled_from(MODES),
    cval=st.floats(-2, 2),
)
def test_hypothesis_separable_and_dense_agree_with_scipy(x, k0, k1, mode, cval):
    want = ndi.correlate(x, np.outer(k0, k1), mode=mode, cval=cval)
    np.testing.assert_allclose(sepconv.correlate_separable(x, [k0, k1], mode=mode, cval=cval),
                               want, atol=1e-8)
    np.testing.assert_allclose(sepconv.correlate(x, np.outer(k0, k1), mode=mode, cval=cval),
                               want, atol=1e-8)


@pytest.mark.parametrize("mode", MODES)
def test_nd_with_axes_leaves_other_axes_alone(rng, mode):
    x = rng.standard_normal((4, 6, 5, 3))
    k = rng.standard_normal((3, 2))
    got = sepconv.correlate(x, k, axes=(1, 2), mode=mode)
    want = ndi.correlate(x, k[None, :, :, None], mode=mode)
    np.testing.assert_allclose(got, want, atol=1e-9)
    # axes in reverse order: kernel axis 0 filters input axis 2
    got = sepconv.correlate(x, k, axes=(2, 1), mode=mode)
    np.testing.assert_allclose(got, ndi.correlate(x, k.T[None, :, :, None], mode=mode), atol=1e-9)
    f = [rng.standard_normal(3), rng.standard_normal(4), rng.standard_normal(2)]
    got = sepconv.correlate_separable(x, f, axes=(0, 1, 3), mode=mode)
    dense = np.einsum("i,j,k->ijk", *f)[:, :, None, :]
    np.testing.assert_allclose(got, ndi.correlate(x, dense, mode=mode), atol=1e-9)


def test_3d_dense_and_lowrank_kernels(rng):
    x = rng.standard_normal((7, 6, 8))
    k = rng.standard_normal((3, 4, 2))
    for method in METHODS:
        np.testing.assert_allclose(sepconv.correlate(x, k, method=method), ndi.correlate(x, k),
                                   atol=1e-9)
    log3 = kernels.log(1.0, ndim=3)
    np.testing.assert_allclose(sepconv.correlate(x, log3), ndi.gaussian_laplace(x, 1.0), atol=1e-9)


def test_valid_mode_shape_and_values(rng):
    x = rng.standard_normal((12, 12))
    k = rng.standard_normal((5, 5))
    got = sepconv.correlate(x, k, mode="valid")
    assert got.shape == (8, 8)
    np.testing.assert_allclose(got, ndi.correlate(x, k)[2:-2, 2:-2], atol=1e-9)
    np.testing.assert_allclose(got, reference.correlate(x, k, mode="valid"), atol=1e-9)
    even = rng.standard_normal((2, 4))
    got = sepconv.correlate(x, even, mode="valid")
    assert got.shape == (11, 9)
    np.testing.assert_allclose(got, reference.correlate(x, even, mode="valid"), atol=1e-9)
    sep = sepconv.correlate_separable(x, [k[0], k[1]], mode="valid")
    np.testing.assert_allclose(sep, ndi.correlate(x, np.outer(k[0], k[1]))[2:-2, 2:-2], atol=1e-9)


@pytest.mark.parametrize("mode", MODES)
def test_against_reference_loops(rng, mode):
    x = rng.standard_normal((5, 6))
    k = rng.standard_normal((4, 3))
    got = sepconv.correlate(x, k, mode=mode, cval=0.7, origin=(1, -1))
    np.testing.assert_allclose(got, reference.correlate(x, k, mode, 0.7, (1, -1)), atol=1e-9)


@pytest.mark.parametrize("alias, canonical", [
    ("symmetric", "reflect"), ("reflect101", "mirror"), ("reflect_101", "mirror"),
    ("replicate", "nearest"), ("edge", "nearest"), ("circular", "wrap"), ("zeros", "constant"),
])
def test_mode_aliases(rng, alias, canonical):
    x = rng.standard_normal((6, 7))
    k = rng.standard_normal((3, 3))
    got = sepconv.correlate(x, k, mode=alias, cval=5.0)
    want = ndi.correlate(x, k, mode=canonical, cval=0.0 if alias == "zeros" else 5.0)
    np.testing.assert_allclose(got, want, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_dtypes_are_kept(rng, dtype):
    x = rng.random((10, 9)).astype(dtype)
    k = rng.random((3, 3))
    got = sepconv.correlate(x, k)
    assert got.dtype == dtype
    want = ndi.correlate(x.astype(np.float64), k)
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=TOL[np.dtype(dtype)],
                               atol=TOL[np.dtype(dtype)])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.bool_])
def test_integer_input_gives_float32(rng, dtype):
    x = (rng.random((8, 8)) * 200).astype(dtype)
    k = kernels.sobel().dense()
    got = sepconv.correlate(x, k)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ndi.correlate(x.astype(np.float64), k), atol=1e-3)


def test_integer_output_rounds_half_to_even_and_saturates():
    x = np.array([[0, 1, 2, 3, 250, 255]], dtype=np.uint8)
    got = sepconv.correlate(x, [[0.5, 0, 0.5]], output=np.uint8, mode="nearest")
    # exact values: 0.5, 1, 2, 126, 129, 252.5 → half to even: 0, 1, 2, 126, 129, 252
    assert got.tolist() == [[0, 1, 2, 126, 129, 252]]
    sat = sepconv.correlate(x, [[2.0]], output=np.uint8)
    assert sat.tolist() == [[0, 2, 4, 6, 255, 255]]
    neg = sepconv.correlate(x, [[-1.0]], output=np.int8)
    assert neg.tolist() == [[0, -1, -2, -3, -128, -128]]


def test_output_array_is_filled_and_returned(rng):
    x = rng.random((6, 6))
    out = np.empty((6, 6), dtype=np.float32)
    got = sepconv.correlate(x, np.ones((3, 3)), output=out)
    assert got is out
    np.testing.assert_allclose(out, ndi.correlate(x, np.ones((3, 3))), rtol=1e-6)
    got = sepconv.correlate(x.astype(np.uint8), np.ones((3, 3)), output=np.float64)
    assert got.dtype == np.float64


@pytest.mark.parametrize(("src", "out"), [(np.float32, np.float32), (np.uint8, np.uint8),
                                          (np.float64, np.float64), (np.uint16, np.float32)])
def test_an_output_array_is_written_by_the_engine_itself(rng, src, out, engine_writes):
    """No full-size copy afterwards: the engine's last pass writes the caller's array."""
    x = (rng.random((300, 257)) * 200).astype(src)
    k = [kernels.gaussian_1d(1.0), [-1.0, 0.0, 1.0]]
    want = sepconv.correlate_separable(x, k, mode="mirror", output=out)
    target = np.full(x.shape, 7, dtype=out)
    got = sepconv.correlate_separable(x, k, mode="mirror", output=target)
    assert got is target and np.shares_memory(engine_writes[-1], target)
    np.testing.assert_array_equal(target, want)


@pytest.mark.parametrize("mode", MODES)
def test_an_output_array_that_is_the_input_or_a_view_is_still_right(rng, mode, engine_writes):
    """Filtering in place (``output=x``) and into strided or other-dtype arrays equals the
    out-of-place result; the engine then writes a fresh array, not the overlapping one."""
    x = rng.standard_normal((64, 96)).astype(np.float32)
    k = [kernels.gaussian_1d(1.5), [0.25, 0.5, 0.25]]
    want = sepconv.correlate_separable(x, k, mode=mode, cval=0.5)
    same = x.copy()
    assert sepconv.correlate_separable(same, k, mode=mode, cval=0.5, output=same) is same
    assert not np.shares_memory(engine_writes[-1], same)
    np.testing.assert_array_equal(same, want)
    wide = np.zeros((64, 192), np.float32)
    sepconv.correlate_separable(x, k, mode=mode, cval=0.5, output=wide[:, ::2])
    np.testing.assert_array_equal(wide[:, ::2], want)
    assert not wide[:, 1::2].any()
    doubles = np.empty(x.shape, np.float64)
    sepconv.correlate_separable(x, k, mode=mode, cval=0.5, output=doubles)
    np.testing.assert_allclose(doubles, want, rtol=1e-5, atol=1e-6)  # computed in float64
    frozen = np.empty(x.shape, np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError):
        sepconv.correlate_separable(x, k, mode=mode, output=frozen)


def test_empty_input_gives_empty_output():
    for shape in [(0, 5), (3, 0)]:
        got = sepconv.correlate(np.zeros(shape, np.float32), np.ones((3, 3)))
        assert got.shape == shape and got.dtype == np.float32
    assert sepconv.correlate_separable(np.zeros((0, 4)), [[1.0], [1.0, 2.0]]).shape == (0, 4)


def test_auto_applies_kernel_objects(rng):
    x = rng.random((16, 17)).astype(np.float32)
    lk = kernels.log(1.5)
    want = ndi.gaussian_laplace(x.astype(np.float64), 1.5)
    np.testing.assert_allclose(sepconv.correlate(x, lk), want, atol=1e-6)
    np.testing.assert_allclose(sepconv.correlate(x, lk.dense(), method="lowrank"), want, atol=1e-6)
    g = kernels.gaussian(2.0, order=(1, 0))
    np.testing.assert_allclose(sepconv.correlate(x, g),
                               ndi.gaussian_filter(x.astype(np.float64), 2.0, order=(1, 0)),
                               atol=1e-6)
    np.testing.assert_allclose(sepconv.correlate_separable(x, g), sepconv.correlate(x, g.dense()),
                               atol=1e-6)


def test_separable_method_refuses_rank_2():
    with pytest.raises(sepconv.NotSeparableError, match="rank 2"):
        sepconv.correlate(np.ones((5, 5)), kernels.laplacian().dense(), method="separable")


def test_fft_refuses_integer_output_and_non_finite_input():
    with pytest.raises(sepconv.SepconvError, match="method"):
        sepconv.correlate(np.ones((5, 5)), np.ones((3, 3)), method="fft", output=np.uint8)
    x = np.ones((5, 5))
    x[2, 2] = np.nan
    with pytest.raises(sepconv.SepconvError, match="NaN"):
        sepconv.correlate(x, np.ones((3, 3)), method="fft")
    # the other methods propagate NaN locally, like scipy
    got = sepconv.correlate(x, np.ones((3, 3)))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ndi.correlate(x, np.ones((3, 3)))))


def test_auto_takes_fft_for_a_large_full_rank_kernel_and_stays_exact(rng):
    x = rng.random((300, 310)).astype(np.float32)
    k = rng.standard_normal((61, 61))
    from sepconv import _plan

    plan = _plan.make_plan(k, "auto", np.dtype(np.float32), shape=x.shape, axes=(0, 1))
    assert plan.method == "fft"
    got = sepconv.correlate(x, k)
    want = ndi.correlate(x.astype(np.float64), k)
    np.testing.assert_allclose(got, want, atol=1e-4 * np.abs(want).max())
    # integer output never takes the FFT; NaN input falls back to a direct method
    assert _plan.make_plan(k, "auto", np.dtype(np.float32), shape=x.shape, axes=(0, 1),
                           integer_output=True).method != "fft"
    x[10, 10] = np.nan
    got = sepconv.correlate(x, k)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ndi.correlate(x.astype(np.float64), k)))
