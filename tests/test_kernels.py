"""Named kernels against scipy.ndimage and OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import scipy.ndimage as ndi

import sepconv
from sepconv import kernels


@pytest.mark.parametrize("size", [3, 5, 7])
def test_sobel_matches_opencv(size):
    kx, ky = cv2.getDerivKernels(1, 0, size)
    want = np.outer(ky.ravel(), kx.ravel())
    np.testing.assert_array_equal(kernels.sobel("x", size).dense(), want)
    np.testing.assert_array_equal(kernels.sobel("y", size).dense(), want.T)


def test_scharr_and_prewitt(rng):
    kx, ky = cv2.getDerivKernels(1, 0, cv2.FILTER_SCHARR)
    np.testing.assert_array_equal(kernels.scharr().dense(), np.outer(ky.ravel(), kx.ravel()))
    x = rng.random((9, 8))
    np.testing.assert_allclose(sepconv.correlate(x, kernels.prewitt(axis=0)),
                               ndi.prewitt(x, axis=0), atol=1e-12)
    np.testing.assert_allclose(sepconv.correlate(x, kernels.sobel(axis=-1)), ndi.sobel(x, axis=-1),
                               atol=1e-12)


def test_sobel_3d_differentiates_along_its_axis(rng):
    x = rng.random((5, 6, 7))
    for axis in range(3):
        np.testing.assert_allclose(sepconv.correlate(x, kernels.sobel(axis, ndim=3)),
                                   ndi.sobel(x, axis=axis), atol=1e-12)


@pytest.mark.parametrize("sigma, order", [(1.0, 0), (2.5, 1), ((1.5, 0.8), (2, 0)), (0.6, 3)])
def test_gaussian_matches_scipy(rng, sigma, order):
    x = rng.random((30, 31))
    got = sepconv.correlate(x, kernels.gaussian(sigma, order=order, truncate=3.0))
    np.testing.assert_allclose(got, ndi.gaussian_filter(x, sigma, order=order, truncate=3.0),
                               atol=1e-12)
    g = kernels.gaussian(2.0, radius=3)
    assert g.shape == (7, 7)


def test_box_binomial_laplacian_log(rng):
    x = rng.random((12, 13))
    np.testing.assert_allclose(sepconv.correlate(x, kernels.box(5)), ndi.uniform_filter(x, 5),
                               atol=1e-12)
    assert kernels.binomial(3).factors[0].tolist() == [0.25, 0.5, 0.25]
    assert kernels.binomial(5, normalize=False).factors[1].tolist() == [1, 4, 6, 4, 1]
    lap = kernels.laplacian()
    assert lap.dense().tolist() == [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
    np.testing.assert_allclose(sepconv.correlate(x, lap), ndi.laplace(x), atol=1e-12)
    np.testing.assert_allclose(sepconv.correlate(x, kernels.log(1.3)),
                               ndi.gaussian_laplace(x, 1.3), atol=1e-12)


def test_separable_and_low_rank_types():
    for k in (kernels.sobel(), kernels.scharr(), kernels.prewitt(), kernels.gaussian(1.0),
              kernels.box(3), kernels.binomial(5)):
        assert isinstance(k, sepconv.SeparableKernel)
        assert sepconv.rank(k.dense()) == 1
    for k in (kernels.laplacian(), kernels.log(2.0)):
        assert isinstance(k, sepconv.LowRankKernel)
        assert k.rank == 2 and k.residual == 0.0


def test_bad_kernel_arguments():
    with pytest.raises(sepconv.SepconvError, match="size: expected 3, 5 or 7"):
        kernels.sobel(size=4)
    with pytest.raises(sepconv.SepconvError, match="axis"):
        kernels.sobel(axis="w")
    with pytest.raises(sepconv.SepconvError, match="sigma: expected a positive number"):
        kernels.gaussian(0.0)
    with pytest.raises(sepconv.SepconvError, match="size"):
        kernels.box(0)
