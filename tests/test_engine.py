"""The numba engine against scipy.ndimage: every mode, origins, dtypes, layouts, 1-D to 3-D."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given
from hypothesis import strategies as st

from sepconv import _engine

MODES = ("reflect", "mirror", "nearest", "constant", "wrap")
DTYPES = (np.float32, np.float64, np.uint8, np.uint16, np.int16)


def _input(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    if np.dtype(dtype).kind == "f":
        return rng.random(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), shape, endpoint=True).astype(dtype)


def _scipy_separable(x, weights, axes, mode, cval, origins):
    """Sequential correlate1d in float64; 'constant' beyond the edge is cval filtered so far."""
    y = x.astype(np.float64)
    for w, axis, o in zip(weights, axes, origins):
        y = ndi.correlate1d(y, np.asarray(w, np.float64), axis=axis, mode=mode, cval=cval, origin=o)
        cval = cval * float(np.sum(w, dtype=np.float64))
    return y


def _scipy_direct(x, kernel, axes, mode, cval, origins):
    shape = [1] * x.ndim
    origin = [0] * x.ndim
    order = np.argsort(axes)
    kernel = np.transpose(kernel, order)
    for axis, k, o in zip(sorted(axes), kernel.shape, np.asarray(origins)[order]):
        shape[axis] = k
        origin[axis] = o
    return ndi.correlate(x.astype(np.float64), kernel.reshape(shape).astype(np.float64),
                         mode=mode, cval=cval, origin=origin)


def _valid(full: np.ndarray, axes, sizes) -> np.ndarray:
    """'valid' = the part of a padded result that never reads the padding."""
    index = [slice(None)] * full.ndim
    for axis, k in zip(axes, sizes):
        index[axis] = slice(k // 2, k // 2 + full.shape[axis] - k + 1)
    return full[tuple(index)]


def _tolerance(out_dtype, x) -> float:
    scale = max(1.0, float(np.abs(x).max()))
    return scale * (1e-5 if out_dtype == np.float32 else 1e-12)


def _run_separable(x, weights, axes, mode, cval=0.5, origins=None, dtype=np.float32, **kw):
    origins = origins or [0] * len(axes)
    shape = list(x.shape)
    if mode == "valid":
        for axis, w in zip(axes, weights):
            shape[axis] -= len(w) - 1
    out = np.empty(shape, dtype)
    ws = [np.asarray(w, dtype) for w in weights]
    _engine.correlate_separable(x, ws, axes, mode, cval, origins, out, **kw)
    return out


def _check_separable(x, weights, axes, mode, cval=0.5, origins=None, dtype=np.float32):
    origins = origins or [0] * len(axes)
    got = _run_separable(x, weights, axes, mode, cval, origins, dtype)
    if mode == "valid":
        want = _valid(_scipy_separable(x, weights, axes, "constant", 0.0, origins), axes,
                      [len(w) for w in weights])
    else:
        want = _scipy_separable(x, weights, axes, mode, cval, origins)
    assert got.dtype == dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=_tolerance(dtype, x) * len(axes))


@pytest.mark.parametrize("mode", (*MODES, "valid"))
@pytest.mark.parametrize("dtype", DTYPES)
def test_two_axes_every_mode_and_dtype(rng, mode, dtype):
    x = _input(rng, (29, 34), dtype)
    weights = [rng.standard_normal(7), rng.standard_normal(4)]
    _check_separable(x, weights, (0, 1), mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("ka", "kb", "oa", "ob"), [(3, 3, 1, -1), (4, 6, -2, 2), (5, 2, 2, 0)])
def test_origins_and_even_kernels(rng, mode, ka, kb, oa, ob):
    x = _input(rng, (17, 19), np.float64)
    weights = [rng.standard_normal(ka), rng.standard_normal(kb)]
    _check_separable(x, weights, (0, 1), mode, origins=[oa, ob], dtype=np.float64)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_kernel_longer_than_axis(rng, mode, n):
    x = _input(rng, (n, n + 1), np.float64)
    weights = [rng.standard_normal(13), rng.standard_normal(8)]
    _check_separable(x, weights, (0, 1), mode, origins=[3, -2], dtype=np.float64)
    _check_separable(x[0], weights[:1], (0,), mode, dtype=np.float64)


@pytest.mark.parametrize("mode", (*MODES, "valid"))
@pytest.mark.parametrize(
    ("shape", "axes"),
    [((40,), (0,)), ((12, 9, 7), (0, 1, 2)), ((12, 9, 7), (2, 0, 1)), ((12, 9, 7), (0, 2)),
     ((12, 9, 7), (1,)), ((12, 9, 7), (0,)), ((12, 9, 7), (2,)), ((5, 6, 7, 3), (0, 1, 2)),
     ((300, 140), (0,))],
)
def test_axes_subsets(rng, mode, shape, axes):
    x = _input(rng, shape, np.float32)
    weights = [rng.random(k) for k in (5, 3, 4)[:len(axes)]]
    _check_separable(x, weights, axes, mode)


def _layouts(x: np.ndarray) -> dict[str, np.ndarray]:
    big = np.zeros((x.shape[0] * 2, x.shape[1] * 3), x.dtype)
    big[::2, 1::3] = x
    readonly = x.copy()
    readonly.flags.writeable = False
    return {
        "strided": big[::2, 1::3],
        "reversed": x[::-1, ::-1].copy()[::-1, ::-1],
        "fortran": np.asfortranarray(x),
        "cropped": np.pad(x, ((0, 0), (0, 5)))[:, : x.shape[1]],
        "readonly": readonly,
        "big-endian": x.astype(x.dtype.newbyteorder(">")),
    }


@pytest.mark.parametrize("layout", ["strided", "reversed", "fortran", "cropped", "readonly",
                                    "big-endian"])
@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_non_contiguous_inputs(rng, layout, dtype):
    x = _input(rng, (23, 31), dtype)
    weights = [rng.random(5), rng.random(6)]
    want = _run_separable(x, weights, (0, 1), "mirror")
    got = _run_separable(_layouts(x)[layout], weights, (0, 1), "mirror")
    np.testing.assert_array_equal(got, want)
    want1 = _run_separable(x, weights[:1], (1,), "wrap")
    np.testing.assert_array_equal(_run_separable(_layouts(x)[layout], weights[:1], (1,), "wrap"), want1)


def test_non_contiguous_output(rng):
    x = _input(rng, (20, 30), np.float32)
    weights = [rng.random(3), rng.random(3)]
    store = np.zeros((20, 40), np.float32)
    out = store[:, 5:35]
    _engine.correlate_separable(x, [w.astype(np.float32) for w in weights], (0, 1), "reflect",
                                0.0, (0, 0), out)
    np.testing.assert_array_equal(out, _run_separable(x, weights, (0, 1), "reflect"))
    assert not store[:, :5].any() and not store[:, 35:].any()


@pytest.mark.parametrize("mode", (*MODES, "valid"))
def test_lowrank_is_sum_of_terms(rng, mode):
    x = _input(rng, (33, 27), np.float64)
    terms = [[rng.standard_normal(5), rng.standard_normal(5)] for _ in range(3)]
    shape = (29, 23) if mode == "valid" else x.shape
    out = np.empty(shape)
    _engine.correlate_lowrank(x, terms, (0, 1), mode, 0.25, (0, 0), out)
    want = sum(_run_separable(x, t, (0, 1), mode, 0.25, dtype=np.float64) for t in terms)
    np.testing.assert_allclose(out, want, atol=1e-12)


@pytest.mark.parametrize("mode", (*MODES, "valid"))
@pytest.mark.parametrize(("dtype", "out_dtype"),
                         [(np.float32, np.float32), (np.uint8, np.float32), (np.float64, np.float64)])
def test_direct_2d(rng, mode, dtype, out_dtype):
    x = _input(rng, (21, 26), dtype)
    kernel = rng.standard_normal((5, 4))
    origins = [0, 0] if mode == "valid" else [1, -2]
    shape = (17, 23) if mode == "valid" else x.shape
    out = np.empty(shape, out_dtype)
    _engine.correlate_direct(x, kernel.astype(out_dtype), (0, 1), mode, 0.75, origins, out)
    if mode == "valid":
        want = _valid(_scipy_direct(x, kernel, (0, 1), "constant", 0.0, origins), (0, 1), (5, 4))
    else:
        want = _scipy_direct(x, kernel, (0, 1), mode, 0.75, origins)
    np.testing.assert_allclose(out, want, atol=_tolerance(out_dtype, x) * 4)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("shape", "axes", "ksize"),
                         [((9, 10, 11), (0, 1, 2), (3, 2, 3)), ((6, 7, 8, 2), (2, 0, 1), (3, 3, 4)),
                          ((4, 15, 16), (2, 1), (3, 5)), ((30,), (0,), (7,))])
def test_direct_nd_and_axes(rng, mode, shape, axes, ksize):
    x = _input(rng, shape, np.float64)
    kernel = rng.standard_normal(ksize)
    out = np.empty(shape)
    _engine.correlate_direct(x, kernel, axes, mode, -0.5, [0] * len(axes), out)
    np.testing.assert_allclose(out, _scipy_direct(x, kernel, axes, mode, -0.5, [0] * len(axes)),
                               atol=1e-12)


@pytest.mark.parametrize("k", [3, 7, 15, 31])
def test_float32_accuracy(rng, k):
    """Inputs in [0, 1], float32 kernels summing to 1: max error vs float64 <= 2e-6."""
    x = rng.random((256, 300)).astype(np.float32)
    g = rng.random(k).astype(np.float32)
    g /= g.sum(dtype=np.float32)
    got = _run_separable(x, [g, g], (0, 1), "reflect")
    want = _scipy_separable(x, [g.astype(np.float64)] * 2, (0, 1), "reflect", 0.0, (0, 0))
    assert np.abs(got - want).max() <= 2e-6


def test_threads_do_not_change_the_result(rng):
    x = _input(rng, (300, 257), np.float32)
    weights = [rng.random(15), rng.random(9)]
    serial = _run_separable(x, weights, (0, 1), "nearest", parallel=False)
    np.testing.assert_array_equal(_run_separable(x, weights, (0, 1), "nearest"), serial)


def test_in_place_chain_over_a_volume(rng):
    """Three axes: fused pass, then an in-place column pass over a wide trailing block."""
    x = _input(rng, (20, 64, 600), np.float32)
    weights = [rng.random(5), rng.random(3), rng.random(4)]
    _check_separable(x, weights, (0, 1, 2), "reflect")


def test_import_does_not_load_numba():
    code = "import sys, sepconv, sepconv._engine; print('numba' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


@given(
    shape=st.lists(st.integers(1, 9), min_size=1, max_size=3),
    sizes=st.lists(st.integers(1, 12), min_size=3, max_size=3),
    mode=st.sampled_from(MODES),
    data=st.data(),
)
def test_random_shapes_match_scipy(shape, sizes, mode, data):
    ndim = len(shape)
    count = data.draw(st.integers(1, ndim))
    axes = data.draw(st.permutations(range(ndim)))[:count]
    origins = [data.draw(st.integers(-(k // 2), (k - 1) // 2)) for k in sizes[:count]]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(shape)
    weights = [rng.standard_normal(k) for k in sizes[:count]]
    _check_separable(x, weights, axes, mode, cval=1.5, origins=origins, dtype=np.float64)


# --- the engine behind sepconv's planner (sepconv._plan) ---


def test_auto_plan_picks_by_cost():
    from sepconv import _plan, kernels

    f32 = np.dtype(np.float32)
    g = kernels.gaussian_1d(2.0)
    assert _plan.make_plan(np.outer(g, g), "auto", f32).method == "separable"
    log = kernels.log(2.0, radius=7).dense()
    assert _plan.make_plan(log, "auto", f32).method == "lowrank"
    full = np.random.default_rng(0).standard_normal((3, 3))
    assert _plan.make_plan(full, "auto", f32).method == "direct"


def test_auto_fft_only_for_large_float_problems_and_never_for_integers():
    from sepconv import _plan

    big = np.random.default_rng(0).standard_normal((63, 63))
    f32 = np.dtype(np.float32)
    plan = _plan.make_plan(big, "auto", f32, shape=(2048, 2048))
    assert plan.method == "fft" and plan.fallback in ("direct", "lowrank")
    assert _plan.make_plan(big, "auto", f32, shape=(2048, 2048), integer_output=True).method != "fft"
    assert _plan.make_plan(big, "auto", f32).method != "fft"  # no shape, no FFT
    assert _plan.make_plan(np.ones((3, 3)), "auto", f32, shape=(2048, 2048)).method != "fft"


def test_automatic_fft_plan_falls_back_on_non_finite_input(rng):
    from sepconv import _plan

    kernel = rng.standard_normal((9, 9))
    x = rng.random((40, 50))
    x[10, 20] = np.nan
    plan = _plan.make_plan(kernel, "auto", np.dtype(np.float64), shape=x.shape)
    plan = _plan.Plan("fft", plan.shape, plan.dense, plan.terms, fallback="direct")
    got = _plan.execute(x, plan, (0, 1), "reflect", 0.0, (0, 0), np.dtype(np.float64))
    want = ndi.correlate(x, kernel)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], atol=1e-12)


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.int32, np.float16, np.uint32])
def test_plan_converts_dtypes_the_engine_does_not_read(rng, dtype):
    import sepconv

    x = (rng.random((12, 13)) * 100).astype(dtype)
    got = sepconv.correlate_separable(x, [[1.0, 2.0, 1.0], [1.0, -1.0]])
    want = _scipy_separable(x.astype(np.float64), [[1, 2, 1], [1, -1]], (0, 1), "reflect", 0.0,
                            (0, 0))
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=2e-3 if dtype == np.float16 else 1e-6,
                               atol=1e-3)


def test_fft_lengths_are_5_smooth_and_minimal():
    from sepconv._plan import fast_length

    def smooth(m: int) -> bool:
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        return m == 1

    for n in [*range(1, 200), 2056, 4126]:
        f = fast_length(n)
        assert f >= n and smooth(f) and not any(smooth(m) for m in range(n, f))


def test_thread_count_follows_numba():
    import numba

    from sepconv._engine import _threads

    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        assert _threads.thread_count(True, 1000, 10**9) == 1
        numba.set_num_threads(before)
        assert _threads.thread_count(True, 1000, 10**9) == min(before, _threads._available_cpus())
        assert _threads.thread_count(False, 1000, 10**9) == 1
        assert _threads.thread_count(True, 1000, 10) == 1  # too little work to wake a thread
        assert _threads.thread_count(True, 1000, 512 * 512 * 6) == 1  # 512², 3 + 3 taps
    finally:
        numba.set_num_threads(before)


@pytest.fixture
def bands(monkeypatch):
    """(kernel name, work items, threads) of every threaded engine call."""
    from sepconv._engine import _threads

    calls: list[tuple[str, int, int]] = []
    original = _threads.run_bands

    def spy(band, args, items, threads):
        calls.append((band.__name__ if hasattr(band, "__name__") else str(band), items, threads))
        return original(band, args, items, threads)

    monkeypatch.setattr(_threads, "run_bands", spy)
    return calls


@pytest.mark.parametrize("shape", [(1000, 32, 32), (200, 32, 48, 3)])
def test_a_stack_is_one_call_split_over_its_images(rng, shape, bands):
    """(N, H, W[, C]) with axes=(1, 2): one fused pass whose work items span every image, so
    the threads split the stack, not the rows of one image; equal to filtering image by image."""
    import numba

    import sepconv

    x = _input(rng, shape, np.float32)
    weights = [np.array([0.05, 0.25, 0.4, 0.25, 0.05]), np.array([0.1, 0.2, 0.4, 0.2, 0.1])]
    got = sepconv.correlate_separable(x, weights, axes=(1, 2))  # ~10M multiply-adds: 2 threads
    assert len(bands) == 1 and bands[0][1] == shape[0] * shape[1]
    assert bands[0][2] > 1 or min(numba.get_num_threads(), _available()) == 1
    for n in (0, shape[0] // 2, shape[0] - 1):
        np.testing.assert_array_equal(got[n], sepconv.correlate_separable(
            x[n], weights, axes=(0, 1)))


def test_tiny_images_do_not_wake_threads(rng, bands):
    import sepconv

    sepconv.correlate_separable(_input(rng, (64, 64), np.uint8), [np.ones(7) / 7] * 2,
                                output=np.uint8)
    assert [threads for _, _, threads in bands] == [1]


def _available() -> int:
    from sepconv._engine import _threads

    return _threads._available_cpus()
