"""The per-call caches: plans by kernel bytes, validated calls by signature (issue 13 item 2)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import scipy.ndimage as sp

import sepconv
from sepconv import _lru, _plan, filtering
from sepconv import ndimage as sc
from tests.helpers import MODES


@pytest.fixture(autouse=True)
def _empty_caches():
    _plan.PLANS.clear()
    filtering.CALLS.clear()
    filtering._CONVERTED.clear()
    sc._FUSED.clear()
    yield


def test_a_repeated_call_is_served_from_the_caches(rng):
    x = rng.random((32, 32)).astype(np.float32)
    kernel = rng.random((5, 5))  # a dense rank-5 kernel: planning runs an SVD
    first = sepconv.correlate(x, kernel)
    assert (filtering.CALLS.misses, filtering.CALLS.hits, _plan.PLANS.misses) == (1, 0, 1)
    again = sepconv.correlate(x, kernel.tolist())  # same bytes, another object
    assert (filtering.CALLS.hits, _plan.PLANS.misses) == (1, 1)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(again, sp.correlate(x.astype(np.float64), kernel), atol=1e-4)
    # another image of another shape validates again but reuses the plan of that kernel
    sepconv.correlate(x[:20], kernel, method="lowrank")
    sepconv.correlate(x[:24], kernel, method="lowrank")
    assert (filtering.CALLS.misses, _plan.PLANS.misses, _plan.PLANS.hits) == (3, 2, 1)


def test_a_kernel_changed_in_place_is_a_new_kernel(rng):
    x = rng.random((16, 16))
    kernel = np.array([[1.0, 2.0, 1.0]])
    before = sepconv.correlate(x, kernel, axes=(0, 1))
    kernel[0, 1] = -5.0
    after = sepconv.correlate(x, kernel, axes=(0, 1))
    np.testing.assert_allclose(after, sp.correlate(x, kernel, mode="reflect"), atol=1e-12)
    assert not np.allclose(before, after)


def test_array_factors_are_converted_once_and_changing_them_changes_the_result(rng):
    x = rng.random((16, 16))
    wy, wx = np.array([1.0, 2.0, 1.0]), np.array([-1.0, 0.0, 1.0], dtype=np.float32)
    before = sepconv.correlate_separable(x, [wy, wx])
    sepconv.correlate_separable(x, (wy.copy(), wx.copy()))  # equal values: the same conversion
    assert (filtering._CONVERTED.misses, filtering._CONVERTED.hits) == (1, 1)
    wy[1] = -5.0  # the cached kernel holds its own copy: the old entry is unchanged
    after = sepconv.correlate_separable(x, [wy, wx])
    np.testing.assert_allclose(after, sp.correlate(x, np.outer(wy, wx), mode="reflect"), atol=1e-5)
    again = sepconv.correlate_separable(x, [np.array([1.0, 2.0, 1.0]), wx])
    np.testing.assert_array_equal(again, before)
    with pytest.raises(sepconv.SepconvError, match="finite"):  # a bad factor is never cached
        sepconv.correlate_separable(x, [np.array([1.0, np.nan]), wx])
    with pytest.raises(sepconv.SepconvError, match="finite"):
        sepconv.correlate_separable(x, [np.array([1.0, np.nan]), wx])


@pytest.mark.parametrize("bad", [{"mode": ["wrap", "constant"]}, {"method": ["direct"]},
                                 {"output": [np.uint8]}])
def test_unhashable_arguments_get_the_validation_error(bad):
    with pytest.raises(sepconv.SepconvError, match=next(iter(bad))):
        sepconv.correlate(np.ones((5, 5)), np.ones((3, 3)), **bad)


def test_output_arrays_and_errors_are_never_cached(rng):
    x = rng.random((8, 9))
    for _ in range(2):
        out = np.empty_like(x)
        assert sepconv.correlate_separable(x, [[1, 2, 1], [1, 1]], output=out) is out
        np.testing.assert_allclose(out, sp.correlate(x, np.outer([1, 2, 1], [1, 1])), atol=1e-12)
        with pytest.raises(sepconv.SepconvError, match="origin"):
            sepconv.correlate_separable(x, [[1, 2, 1], [1, 1]], origin=5)
    assert filtering.CALLS.hits == 1


def test_cache_keys_and_the_lru_bound():
    cache = _lru.LRU(2)
    for key in "abc":
        cache.put(key, key.upper())
    assert len(cache) == 2 and cache.get("a") is None and cache.get("c") == "C"
    assert _lru.freeze([0, (1, 2)]) == (0, (1, 2))
    with pytest.raises(TypeError):
        _lru.freeze({"a": 1})
    a = np.array([1.0, 2.0])
    assert _lru.kernel_key(a) != _lru.kernel_key(a.astype(np.float32))
    assert _lru.kernel_key(a) == _lru.kernel_key(np.array([1.0, 2.0]))


def test_calls_from_many_threads_agree(rng):
    images = [rng.random((24, 24 + i % 3)).astype(np.float32) for i in range(12)]
    want = [sp.gaussian_filter(im.astype(np.float64), 1.0 + i % 2) for i, im in enumerate(images)]
    errors = []

    def work(i: int) -> None:
        for _ in range(20):
            got = sc.gaussian_filter(images[i], 1.0 + i % 2)
            if not np.allclose(got, want[i], atol=1e-5):
                errors.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and filtering.CALLS.hits > 0


def test_lists_of_numbers_are_converted_once(rng):
    x = rng.random((10, 11))
    filtering._CONVERTED.clear()
    for weights in ([[1, 2, 1], [-1, 0, 1]], [[1.0, 2.0, 1.0], [-1.0, 0.0, 1.0]]):
        got = sepconv.correlate_separable(x, weights)
        np.testing.assert_allclose(got, sp.correlate(x, np.outer([1, 2, 1], [-1, 0, 1])),
                                   atol=1e-12)
    assert (filtering._CONVERTED.misses, filtering._CONVERTED.hits) == (1, 1)
    with pytest.raises(sepconv.SepconvError, match="kernels_1d"):
        sepconv.correlate_separable(x, [])


def test_repeated_gaussian_filters_skip_argument_handling_and_stay_right(rng):
    """The second call of the same arguments is served from ``_FUSED``; every call equals scipy."""
    calls = [dict(sigma=1.0), dict(sigma=[1.0, 2.0], mode=["reflect", "reflect"]),
             dict(sigma=1.5, axes=(0,)), dict(sigma=1.0, order=[0, 1]),
             dict(sigma=1.0, mode="constant", cval=2.0)]  # per-pass branch: never remembered
    for kwargs in calls:
        for seed in (0, 1):
            for dtype in (np.float64, np.uint8):
                x = (np.random.default_rng(seed).random((20, 23)) * 200).astype(dtype)
                got = sc.gaussian_filter(x, **kwargs)
                want = sp.gaussian_filter(x.astype(np.float64), **kwargs)
                assert got.dtype == dtype
                if dtype == np.float64:
                    np.testing.assert_allclose(got, want, atol=1e-10)
                else:  # rounded once from the float result (sepconv's rule), ±1 for float32
                    np.testing.assert_allclose(got, np.clip(np.rint(want), 0, 255), atol=1)
    assert len(sc._FUSED) == 4  # the constant-cval call runs one pass at a time
    volume = rng.random((4, 20, 23))  # same arguments, another ndim: another entry
    np.testing.assert_allclose(sc.gaussian_filter(volume, 1.0), sp.gaussian_filter(volume, 1.0),
                               atol=1e-12)
    assert len(sc._FUSED) == 5


def test_a_users_read_only_kernel_made_writeable_and_changed_is_a_new_kernel(rng):
    x = rng.random((16, 16))
    a, b = np.array([1.0, 2.0, 1.0]), np.array([1.0, 0.0, -1.0])
    a.setflags(write=False)
    b.setflags(write=False)
    kernel = sepconv.SeparableKernel((a, b))
    before = sepconv.correlate(x, kernel)
    kernel.factors[0].setflags(write=True)
    kernel.factors[0][:] = [5.0, -3.0, 7.0]
    after = sepconv.correlate(x, kernel)
    np.testing.assert_allclose(after, sp.correlate(x, np.outer([5.0, -3.0, 7.0], b)), atol=1e-12)
    assert not np.allclose(before, after)


def test_a_cval_that_changes_in_place_is_never_remembered():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).random((12, 13))
    cval = torch.tensor(0.0)
    sc.gaussian_filter(x, 1.0, mode="constant", cval=cval)
    cval.fill_(3.0)  # a fused call is right for cval 0 only (per-axis passes otherwise)
    np.testing.assert_allclose(sc.gaussian_filter(x, 1.0, mode="constant", cval=cval),
                               sp.gaussian_filter(x, 1.0, mode="constant", cval=3.0), atol=1e-12)


@pytest.fixture
def paths(monkeypatch):
    """Counts of calls that took the bound fast path and the general engine path."""
    from sepconv import _engine

    count = {"fast": 0, "general": 0}
    fast, general = _plan.Bound.__call__, _engine.correlate_lowrank

    def fast_spy(self, x, into):
        count["fast"] += 1
        return fast(self, x, into)

    def general_spy(*args, **kwargs):
        count["general"] += 1
        return general(*args, **kwargs)

    monkeypatch.setattr(_plan.Bound, "__call__", fast_spy)
    monkeypatch.setattr(_engine, "correlate_lowrank", general_spy)
    return count


# (input shape, dtype, kernel factors, axes, output): each a single fused pass of the engine
_BOUND_CASES = [
    ((96, 130), np.float32, [[1, 2, 1], [-1, 0, 1]], None, None),
    ((64, 64), np.uint8, [[1, 4, 6, 4, 1], [1, 2, 1]], None, np.uint8),
    ((40, 33), np.float64, [[0.5, 0.25, 0.25, 1.0], [2.0]], None, None),
    ((5, 30, 20), np.uint16, [[1, 2, 1], [1, 1, 1]], (1, 2), np.uint16),
    ((5, 30, 20, 3), np.int16, [[1, -2, 1], [3, 1]], (1, 2), np.float32),
    ((200, 300), np.float32, [[1, 2, 3, 2, 1]], (0,), None),  # one axis, rows streamed along 0
    ((7, 40, 30), np.float32, [[1, 3, 1]], (2,), np.int16),   # one axis along the rows
    ((200,), np.float64, [[1, 0, -1, 2]], None, None),
]


@pytest.mark.parametrize("mode", [*MODES, "valid"])
@pytest.mark.parametrize(("shape", "dtype", "factors", "axes", "out"), _BOUND_CASES)
def test_a_contiguous_input_takes_the_bound_path_and_equals_the_general_one(
        rng, paths, shape, dtype, factors, axes, out, mode):
    """The fast path (one engine call resolved once) gives bit for bit what the general path
    gives on a non-contiguous view of the same values, and both agree with scipy."""
    x = (rng.random(shape) * 300 - (50 if np.dtype(dtype).kind != "u" else 0)).astype(dtype)
    origin = [0 if mode == "valid" or len(f) < 3 else 1 for f in factors]
    kw = dict(axes=axes, mode=mode, cval=2.5, origin=origin, output=out)
    fast = [sepconv.correlate_separable(x, factors, **kw) for _ in range(2)]
    assert paths == {"fast": 2, "general": 0}
    strided = np.empty((2 * shape[0], *shape[1:]), dtype)[::2]
    strided[...] = x
    general = sepconv.correlate_separable(strided, factors, **kw)
    assert paths == {"fast": 2, "general": 1}
    np.testing.assert_array_equal(fast[0], general)
    np.testing.assert_array_equal(fast[1], general)
    if mode != "valid" and np.dtype(general.dtype).kind == "f":
        filtered = axes if axes is not None else range(len(factors))
        dense = np.ones([len(factors[list(filtered).index(d)]) if d in filtered else 1
                         for d in range(len(shape))])
        for d, f in zip(filtered, factors):
            view = [1] * len(shape)
            view[d] = len(f)
            dense = dense * np.reshape(np.asarray(f, float), view)
        origins = [origin[list(filtered).index(d)] if d in filtered else 0
                   for d in range(len(shape))]
        want = sp.correlate(x.astype(np.float64), dense, mode=mode, cval=2.5, origin=origins)
        np.testing.assert_allclose(general, want, rtol=1e-5, atol=1e-3)


def test_output_arrays_take_the_bound_path_only_when_the_engine_may_write_them(rng, paths):
    x = rng.random((50, 60)).astype(np.float32)
    k = [[1, 2, 1], [1, 0, -1]]
    want = sepconv.correlate_separable(x, k)
    into = np.empty_like(x)
    assert sepconv.correlate_separable(x, k, output=into) is into
    assert paths == {"fast": 2, "general": 0}
    np.testing.assert_array_equal(into, want)
    wide = np.zeros((50, 120), np.float32)
    sepconv.correlate_separable(x, k, output=wide[:, ::2])  # strided output: general path
    same = x.copy()
    sepconv.correlate_separable(same, k, output=same)  # the input itself: general path
    assert paths == {"fast": 2, "general": 2}
    np.testing.assert_array_equal(wide[:, ::2], want)
    np.testing.assert_array_equal(same, want)


def test_calls_without_a_single_fused_pass_have_no_bound_path(rng, paths):
    """Three filtered axes, direct kernels and float16 input keep the general path."""
    volume = rng.random((6, 7, 8)).astype(np.float32)
    got = sepconv.correlate_separable(volume, [[1, 2, 1]] * 3)
    w = np.array([1.0, 2.0, 1.0])
    dense = np.multiply.outer(np.multiply.outer(w, w), w)
    np.testing.assert_allclose(got, sp.correlate(volume.astype(float), dense), rtol=1e-5)
    sepconv.correlate_separable(volume[0].astype(np.float16), [[1, 2, 1], [1, 2, 1]])
    assert paths == {"fast": 0, "general": 2}
    sepconv.correlate(volume[0], rng.random((3, 3)), method="direct")
    assert paths["fast"] == 0


def test_the_bound_path_at_image_sizes_splits_threads_and_equals_the_general_one(rng, paths,
                                                                                   monkeypatch):
    """A 1920×1080 uint8 → uint8 Gaussian (the size users filter): the bound path hands its
    rows to the thread pool like the general one and gives the same bytes."""
    from sepconv._engine import _threads

    used: list[int] = []
    original = _threads.run_bands

    def spy(band, args, items, threads):
        used.append(threads)
        return original(band, args, items, threads)

    monkeypatch.setattr(_threads, "run_bands", spy)
    x = rng.integers(0, 256, (1080, 1920), dtype=np.uint8)
    g = np.exp(-0.5 * (np.arange(7) - 3.0) ** 2 / 1.4**2)
    g /= g.sum()
    fast = sepconv.correlate_separable(x, [g, g], mode="mirror", output=np.uint8)
    strided = np.empty((1080, 3840), np.uint8)[:, ::2]
    strided[...] = x
    general = sepconv.correlate_separable(strided, [g, g], mode="mirror", output=np.uint8)
    assert paths == {"fast": 1, "general": 1}
    import numba

    assert used == [min(2, _threads._available_cpus(), numba.get_num_threads())] * 2
    np.testing.assert_array_equal(fast, general)
    want = np.rint(sp.correlate(x.astype(np.float64), np.outer(g, g), mode="mirror"))
    assert np.abs(fast.astype(int) - want).max() <= 1
