"""sepconv.ndimage against scipy.ndimage: same calls, same results, every mode."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as sp
from hypothesis import given
from hypothesis import strategies as st

import sepconv
from sepconv import ndimage as sc

MODES = ("reflect", "mirror", "nearest", "constant", "wrap", "grid-mirror", "grid-constant",
         "grid-wrap")


def _same(got, want, atol=1e-10):
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=atol)


@pytest.fixture
def image(rng):
    return rng.standard_normal((13, 17))


@pytest.fixture
def volume(rng):
    return rng.standard_normal((7, 9, 8))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("size", "origin"), [(3, 0), (4, -2), (4, 1), (6, 2), (21, 3)])
@pytest.mark.parametrize("axis", [0, -1])
def test_correlate1d_and_convolve1d(image, mode, size, origin, axis, rng):
    w = rng.standard_normal(size)
    for ours, theirs in [(sc.correlate1d, sp.correlate1d), (sc.convolve1d, sp.convolve1d)]:
        got = ours(image, w, axis=axis, mode=mode, cval=1.25, origin=origin)
        _same(got, theirs(image, w, axis=axis, mode=mode, cval=1.25, origin=origin))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sigma", [0.7, 2.0, (1.0, 3.0)])
def test_gaussian_filter(image, mode, sigma):
    _same(sc.gaussian_filter(image, sigma, mode=mode, cval=0.5),
          sp.gaussian_filter(image, sigma, mode=mode, cval=0.5))


@pytest.mark.parametrize("mode", MODES)
def test_gaussian_filter_orders_radius_axes(volume, mode):
    kw = {"mode": mode, "cval": -1.0}
    _same(sc.gaussian_filter(volume, (1.0, 0.8, 2.0), order=(1, 0, 2), **kw),
          sp.gaussian_filter(volume, (1.0, 0.8, 2.0), order=(1, 0, 2), **kw))
    _same(sc.gaussian_filter(volume, 1.5, truncate=2.0, axes=(2, 0), **kw),
          sp.gaussian_filter(volume, 1.5, truncate=2.0, axes=(2, 0), **kw))
    _same(sc.gaussian_filter(volume, (1.0, 2.0), radius=(2, 5), axes=(-1, 1), **kw),
          sp.gaussian_filter(volume, (1.0, 2.0), radius=(2, 5), axes=(-1, 1), **kw))
    _same(sc.gaussian_filter1d(volume, 1.2, axis=1, order=3, **kw),
          sp.gaussian_filter1d(volume, 1.2, axis=1, order=3, **kw))


def test_gaussian_filter_zero_sigma_and_mode_sequence(volume):
    _same(sc.gaussian_filter(volume, (0.0, 1.0, 2.0)), sp.gaussian_filter(volume, (0.0, 1.0, 2.0)))
    _same(sc.gaussian_filter(volume, 0.0), sp.gaussian_filter(volume, 0.0))
    modes = ("wrap", "constant", "mirror")
    _same(sc.gaussian_filter(volume, 1.0, mode=modes, cval=2.0),
          sp.gaussian_filter(volume, 1.0, mode=modes, cval=2.0))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("size", "origin"), [(3, 0), (4, 0), (4, -2), ((2, 5), (0, 2))])
def test_uniform_filter(image, mode, size, origin):
    _same(sc.uniform_filter(image, size, mode=mode, cval=3.0, origin=origin),
          sp.uniform_filter(image, size, mode=mode, cval=3.0, origin=origin))


@pytest.mark.parametrize("mode", MODES)
def test_uniform_filter1d_and_axes(volume, mode):
    _same(sc.uniform_filter1d(volume, 5, axis=0, mode=mode, origin=1),
          sp.uniform_filter1d(volume, 5, axis=0, mode=mode, origin=1))
    _same(sc.uniform_filter(volume, (3, 4), axes=(0, 2), mode=mode, cval=1.0),
          sp.uniform_filter(volume, (3, 4), axes=(0, 2), mode=mode, cval=1.0))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func", ["sobel", "prewitt"])
def test_sobel_and_prewitt_every_axis(volume, mode, func):
    for axis in (0, 1, 2, -1):
        _same(getattr(sc, func)(volume, axis, mode=mode, cval=0.75),
              getattr(sp, func)(volume, axis, mode=mode, cval=0.75))


@pytest.mark.parametrize("mode", MODES)
def test_gaussian_laplace(image, volume, mode):
    _same(sc.gaussian_laplace(image, 1.5, mode=mode, cval=0.5),
          sp.gaussian_laplace(image, 1.5, mode=mode, cval=0.5))
    _same(sc.gaussian_laplace(volume, (1.0, 2.0), mode=mode, axes=(0, 2), truncate=3.0),
          sp.gaussian_laplace(volume, (1.0, 2.0), mode=mode, axes=(0, 2), truncate=3.0))


def test_gaussian_laplace_mode_sequence_and_radius(image):
    kw = {"mode": ("nearest", "constant"), "cval": 1.0, "radius": 4}
    _same(sc.gaussian_laplace(image, 1.0, **kw), sp.gaussian_laplace(image, 1.0, **kw))


def test_float32_and_integer_inputs_follow_scipy_output_dtypes(rng):
    x = rng.random((30, 40)).astype(np.float32)
    got = sc.gaussian_filter(x, 2.0)
    assert got.dtype == np.float32
    _same(got, sp.gaussian_filter(x.astype(np.float64), 2.0), atol=2e-6)
    u = (rng.random((30, 40)) * 255).astype(np.uint8)
    exact = sp.uniform_filter(u.astype(np.float64), 3)
    assert sc.uniform_filter(u, 3).dtype == sp.uniform_filter(u, 3).dtype == np.uint8
    assert sc.uniform_filter1d(u, 3).dtype == np.uint8
    got = sc.uniform_filter(u, 3)
    # rounded half to even once per call (scipy truncates each pass): within 1 of the exact value
    np.testing.assert_array_equal(got, np.rint(exact))
    assert np.abs(got.astype(int) - sp.uniform_filter(u, 3)).max() <= 1
    _same(sc.uniform_filter(u, 3, output=np.float32), exact, atol=1e-4)
    # the core functions keep their own rule: integer input gives float32
    assert sepconv.correlate_separable(u, [[1, 2, 1], [1, 2, 1]]).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.int32, np.int64])
@pytest.mark.parametrize("name", ["gaussian_filter", "uniform_filter", "sobel", "prewitt",
                                  "gaussian_laplace", "correlate1d", "gaussian_filter1d"])
def test_integer_input_returns_its_dtype_rounded_and_saturated(rng, dtype, name):
    info = np.iinfo(dtype)
    lo, hi = max(info.min, -300), min(info.max, 300)
    x = rng.integers(lo, hi, (11, 12), endpoint=True).astype(dtype)
    args = {"gaussian_filter": (1.2,), "uniform_filter": (3,), "sobel": (0,), "prewitt": (1,),
            "gaussian_laplace": (1.0,), "correlate1d": ([1.0, -2.5, 1.5],),
            "gaussian_filter1d": (0.8,)}[name]
    got = getattr(sc, name)(x, *args)
    assert got.dtype == getattr(sp, name)(x, *args).dtype == dtype
    exact = getattr(sp, name)(x.astype(np.float64), *args)
    want = np.clip(np.rint(exact), info.min, info.max)
    # computed in float32: a value within float32 rounding of .5 may round the other way
    assert np.abs(got.astype(np.float64) - want).max() <= (1 if x.dtype.itemsize < 4 else 2)
    np.testing.assert_array_equal(getattr(sc, name)(x, *args, output=np.float64).dtype, np.float64)


def test_size_and_sigma_zero_or_one_are_the_identity_like_scipy(rng, volume):
    u = rng.integers(0, 255, (9, 10), dtype=np.uint8)
    for size in (0, 1, (1, 0)):
        got = sc.uniform_filter(u, size)
        np.testing.assert_array_equal(got, sp.uniform_filter(u, size))
        assert got.dtype == np.uint8 and got is not u
    _same(sc.uniform_filter(volume, (0, 3, 1)), sp.uniform_filter(volume, (0, 3, 1)))
    _same(sc.uniform_filter(volume, (2, 1, 4), mode=("wrap", "nearest", "mirror")),
          sp.uniform_filter(volume, (2, 1, 4), mode=("wrap", "nearest", "mirror")))
    np.testing.assert_array_equal(sc.gaussian_filter(u, 0), sp.gaussian_filter(u, 0))
    _same(sc.gaussian_filter(volume, (0, 1.5, 0), order=(1, 1, 0)),
          sp.gaussian_filter(volume, (0, 1.5, 0), order=(1, 1, 0)))


def test_output_array_is_filled(image):
    out = np.empty_like(image)
    assert sc.sobel(image, 0, output=out) is out
    _same(out, sp.sobel(image, 0))
    out32 = np.empty(image.shape, np.float32)
    assert sc.gaussian_laplace(image, 1.0, output=out32) is out32
    _same(out32, sp.gaussian_laplace(image, 1.0), atol=1e-5)


def test_bad_arguments_raise_sepconv_errors(image):
    with pytest.raises(sepconv.SepconvError, match="sigma"):
        sc.gaussian_filter(image, (1.0, 2.0, 3.0))
    with pytest.raises(sepconv.SepconvError, match="mode"):
        sc.uniform_filter(image, 3, mode="bogus")
    with pytest.raises(sepconv.SepconvError, match="origin"):
        sc.correlate1d(image, [1, 2, 3], origin=2)
    with pytest.raises(sepconv.SepconvError, match="kwargs"):
        sc.gaussian_laplace(image, 1.0, order=1)


@given(
    shape=st.lists(st.integers(1, 8), min_size=1, max_size=3),
    sigma=st.floats(0.3, 4.0),
    order=st.integers(0, 2),
    mode=st.sampled_from(MODES),
    cval=st.floats(-2, 2),
    seed=st.integers(0, 2**32 - 1),
)
def test_hypothesis_gaussian_filter(shape, sigma, order, mode, cval, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    _same(sc.gaussian_filter(x, sigma, order=order, mode=mode, cval=cval),
          sp.gaussian_filter(x, sigma, order=order, mode=mode, cval=cval))
