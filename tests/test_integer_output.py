"""Integer outputs written by the engine's last pass: rounding, saturation, NaN/inf, and peers.

References: the float64 result rounded half to even and saturated (scipy.ndimage in float64),
OpenCV's fixed-point ``sepFilter2D``, and sepconv's own float result stored through NumPy
(``_checks.store``: the same arithmetic, so equality is exact).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi

import sepconv
from sepconv import _checks, _plan
from tests.helpers import MODES

INT_OUTPUTS = (np.uint8, np.int8, np.uint16, np.int16, np.int32)


def _gauss(k: int) -> np.ndarray:
    g = np.exp(-0.5 * ((np.arange(k) - k // 2) / (0.3 * ((k - 1) * 0.5 - 1) + 0.8)) ** 2)
    return g / g.sum()


def _input(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    if np.dtype(dtype).kind == "f":
        return (rng.random(shape) * 300 - 20).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, endpoint=True, dtype=dtype)


def _rounded(values: np.ndarray, dtype: type) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.nan_to_num(np.clip(np.rint(values), info.min, info.max), nan=0.0).astype(dtype)


def _float64_reference(x, weights, mode, cval=0.0):
    y = x.astype(np.float64)
    for axis, w in enumerate(weights):
        y = ndi.correlate1d(y, w, axis=axis, mode=mode, cval=cval)
        cval *= float(np.sum(w))
    return y


@pytest.mark.parametrize("mode", (*MODES, "valid"))
@pytest.mark.parametrize("out", INT_OUTPUTS)
def test_every_mode_equals_the_rounded_float_result(rng, mode, out, engine_writes):
    """Bit for bit what rounding sepconv's float result gives, and the fast path wrote it."""
    x = _input(rng, (37, 53), np.int16)
    k = sepconv.SeparableKernel((np.array([0.2, -0.7, 1.5, 0.4]), np.array([0.3, 0.5, 0.25])))
    got = sepconv.correlate(x, k, mode=mode, cval=7.5, output=out)
    floats = sepconv.correlate(x, k, mode=mode, cval=7.5,
                               output=_checks.compute_dtype(x.dtype, np.dtype(out)))
    assert got.dtype == out
    np.testing.assert_array_equal(got, _rounded(floats, out))
    assert engine_writes[0].dtype == out  # written by the engine, not converted afterwards


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("src", "out"), [(np.uint8, np.uint8), (np.uint16, np.uint16),
                                          (np.int16, np.int16), (np.int16, np.int8),
                                          (np.float32, np.uint8), (np.int32, np.int32)])
def test_within_one_of_the_float64_result(rng, mode, src, out):
    """Rounding the float64 result, ±1 where float32 arithmetic rounds the other way."""
    x = _input(rng, (41, 67), src)
    weights = [_gauss(7), np.array([-1.0, 0.0, 1.0])]
    got = sepconv.correlate_separable(x, weights, mode=mode, cval=3.0, output=out)
    want = _rounded(_float64_reference(x, weights, mode, 3.0), out)
    diff = np.abs(got.astype(np.int64) - want.astype(np.int64))
    assert diff.max() <= (0 if src == np.int32 else 1)
    assert np.mean(diff) < 0.01


def test_int32_is_exact_at_its_limits():
    x = np.array([[2**31 - 1, -(2**31), 5, 2**31 - 2]], dtype=np.int32)
    got = sepconv.correlate(x, np.array([[1.0]]), output=np.int32)
    np.testing.assert_array_equal(got, x)
    doubled = sepconv.correlate(x, np.array([[2.0]]), output=np.int32)
    np.testing.assert_array_equal(doubled, [[2**31 - 1, -(2**31), 10, 2**31 - 1]])


@pytest.mark.parametrize(("src", "out"), [*((np.float32, o) for o in INT_OUTPUTS),
                                          (np.float32, np.uint32), (np.float64, np.uint8),
                                          (np.float64, np.int16)])
def test_nan_gives_zero_and_inf_the_limits(src, out):
    """Unsigned and signed stores (two code forms in ``_store_row``), float32 and float64 rows."""
    x = np.zeros((5, 9), dtype=src)
    x[0, 0], x[2, 4], x[4, 8] = np.nan, np.inf, -np.inf
    got = sepconv.correlate_separable(x, [np.ones(1), np.ones(1)], output=out)
    info = np.iinfo(out)
    assert (got[0, 0], got[2, 4], got[4, 8]) == (0, info.max, info.min)
    spread = sepconv.correlate_separable(x, [np.ones(3) / 3, np.ones(3) / 3], output=out)
    assert spread[1, 1] == 0 and spread[0, 0] == 0  # NaN reaches its neighbours: 0 there


def test_half_to_even(rng):
    x = np.array([[0.5, 1.5, 2.5, -0.5, -1.5, 254.5, 255.5, 300.0]], dtype=np.float32)
    got = sepconv.correlate_separable(x, [np.ones(1), np.ones(1)], output=np.int16)
    np.testing.assert_array_equal(got, [[0, 2, 2, 0, -2, 254, 256, 300]])
    got8 = sepconv.correlate_separable(x, [np.ones(1), np.ones(1)], output=np.uint8)
    np.testing.assert_array_equal(got8, [[0, 2, 2, 0, 0, 254, 255, 255]])


@pytest.mark.parametrize(("shape", "dtype", "k"), [((1080, 1920), np.uint8, 3),
                                                   ((1080, 1920), np.uint8, 7),
                                                   ((333, 517), np.uint8, 15),
                                                   ((257, 300), np.uint16, 7),
                                                   ((257, 300), np.int16, 5)])
def test_within_one_of_opencv(rng, shape, dtype, k, engine_writes):
    cv = pytest.importorskip("cv2")
    x = _input(rng, shape, dtype)
    g = _gauss(k)
    want = cv.sepFilter2D(x, -1, g, g, borderType=cv.BORDER_REFLECT_101)
    got = sepconv.correlate_separable(x, [g, g], mode="mirror", output=dtype)
    assert np.abs(got.astype(np.int64) - want).max() <= 1
    assert [a.dtype for a in engine_writes] == [np.dtype(dtype)]


def test_sobel_saturates_like_opencv(rng):
    cv = pytest.importorskip("cv2")
    x = _input(rng, (240, 320), np.uint8)
    dx, sy = np.array([-1.0, 0.0, 1.0]), np.array([1.0, 2.0, 1.0])
    want = cv.sepFilter2D(x, -1, dx, sy, borderType=cv.BORDER_REFLECT_101)  # clips at 0 and 255
    got = sepconv.correlate_separable(x, [sy, dx], mode="mirror", output=np.uint8)
    np.testing.assert_array_equal(got, want)


def test_lowrank_rounds_the_sum_once(rng, engine_writes):
    """A rank-2 kernel: both terms summed in float in the row, then rounded once."""
    x = _input(rng, (120, 131), np.uint8)
    kernel = rng.random((5, 5)) - 0.3
    got = sepconv.correlate(x, kernel, method="lowrank", output=np.uint8)
    floats = sepconv.correlate(x, kernel, method="lowrank")
    np.testing.assert_array_equal(got, _rounded(floats, np.uint8))
    assert engine_writes[0].dtype == np.uint8
    assert np.abs(got.astype(int) - _rounded(ndi.correlate(x.astype(float), kernel), np.uint8)
                  ).max() <= 1


@pytest.mark.parametrize("mode", ["reflect", "constant", "valid"])
@pytest.mark.parametrize("terms", [1, 2])
def test_volumes_round_in_the_last_pass(rng, mode, terms):
    x = _input(rng, (9, 23, 40), np.uint8)
    if terms == 1:
        kernel = sepconv.SeparableKernel(tuple(_gauss(k) for k in (3, 5, 4)))
    else:
        kernel = sepconv.decompose(rng.random((3, 3, 3)) + 0.1)
    got = sepconv.correlate(x, kernel, mode=mode, cval=2.0, output=np.int16)
    floats = sepconv.correlate(x, kernel, mode=mode, cval=2.0, output=np.float32)
    np.testing.assert_array_equal(got, _rounded(floats, np.int16))


def test_float16_output_is_unchanged(rng):
    x = _input(rng, (30, 40), np.float16)
    got = sepconv.correlate_separable(x, [_gauss(5), _gauss(3)])
    want = sepconv.correlate_separable(x.astype(np.float32), [_gauss(5), _gauss(3)])
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, want.astype(np.float16))


def test_direct_kernels_still_round(rng, engine_writes):
    x = _input(rng, (50, 61), np.uint8)
    kernel = rng.random((3, 3))
    got = sepconv.correlate(x, kernel, method="direct", output=np.uint8)
    want = _rounded(ndi.correlate(x.astype(np.float64), kernel), np.uint8)
    assert np.abs(got.astype(int) - want).max() <= 1
    assert engine_writes == []  # the dense kernel goes through _checks.store


def test_output_array_is_filled(rng):
    x = _input(rng, (64, 80), np.uint8)
    target = np.empty((64, 80), dtype=np.uint8)
    got = sepconv.correlate_separable(x, [_gauss(5), _gauss(5)], output=target)
    assert got is target
    np.testing.assert_array_equal(target, sepconv.correlate_separable(x, [_gauss(5)] * 2,
                                                                      output=np.uint8))


def test_threads_and_tiles_do_not_change_a_pixel(rng):
    """Serial == threaded, a stack == its images one by one, a crop's interior == the whole."""
    import numba

    x = _input(rng, (6, 301, 257), np.uint8)
    weights = [_gauss(7), _gauss(5)]
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = sepconv.correlate_separable(x, weights, axes=(1, 2), output=np.uint8)
    finally:
        numba.set_num_threads(before)
    threaded = sepconv.correlate_separable(x, weights, axes=(1, 2), output=np.uint8)
    np.testing.assert_array_equal(threaded, serial)
    for n in range(len(x)):
        one = sepconv.correlate_separable(x[n], weights, output=np.uint8)
        np.testing.assert_array_equal(one, serial[n])
    inner = sepconv.correlate_separable(x[0, 50:250, 40:200], weights, mode="valid",
                                        output=np.uint8)
    np.testing.assert_array_equal(inner, serial[0, 53:247, 42:198])


@pytest.mark.parametrize("mode", ["reflect", "mirror", "nearest", "wrap"])
def test_dask_chunks_equal_in_memory(rng, mode):
    da = pytest.importorskip("dask.array")
    x = _input(rng, (300, 410), np.uint8)
    weights = [_gauss(7), np.array([-1.0, 2.0, 0.5])]
    want = sepconv.correlate_separable(x, weights, mode=mode, output=np.uint8)
    lazy = sepconv.correlate_separable(da.from_array(x, chunks=(70, 128)), weights, mode=mode,
                                       output=np.uint8)
    np.testing.assert_array_equal(lazy.compute(), want)


def test_plan_writes_integers_only_where_the_engine_can():
    f32, u8 = np.dtype(np.float32), np.dtype(np.uint8)
    assert _plan.engine_output("separable", f32, u8) == u8
    assert _plan.engine_output("lowrank", f32, u8) == u8
    assert _plan.engine_output("direct", f32, u8) == f32
    assert _plan.engine_output("separable", f32, np.dtype(np.float16)) == f32
    assert _plan.engine_output("separable", np.dtype(np.float64), np.dtype(np.int64)) == np.float64
