"""Dask arrays: lazy results equal to the in-memory ones, at every seam, mode and chunking."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st

import sepconv
from sepconv import _plan, kernels
from tests.helpers import MODES, TOL

da = pytest.importorskip("dask.array")
import dask  # noqa: E402  (after the importorskip)

ALL_MODES = (*MODES, "valid")
# a single chunk, ordinary chunks, chunks shorter than the kernel's reach, uneven chunks
CHUNKINGS = [(23, 17), (8, 6), (1, 2), (3, (5, 1, 11))]


def _lazy(x: np.ndarray, chunks: object) -> da.Array:
    return da.from_array(x, chunks=chunks)


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_dense_even_kernel_with_origins_matches_in_memory(rng, mode, chunks):
    x = rng.standard_normal((23, 17))
    k = rng.standard_normal((5, 4))
    origins = [(0, 0)] if mode == "valid" else [(0, 0), (-2, 1), (2, -2)]
    for origin in origins:
        for name in ("correlate", "convolve"):
            f = getattr(sepconv, name)
            got = f(_lazy(x, chunks), k, mode=mode, cval=1.5, origin=origin)
            want = f(x, k, mode=mode, cval=1.5, origin=origin)
            assert isinstance(got, da.Array)
            assert got.shape == want.shape and got.dtype == want.dtype
            np.testing.assert_allclose(got.compute(), want, atol=1e-12, err_msg=f"{name} {origin}")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("chunks", [(5, 8), (1, 3), (2, 8)])
def test_separable_kernel_longer_than_the_axis(rng, mode, chunks):
    x = rng.standard_normal((5, 8))  # the 13-tap kernel reaches past the whole 5-row axis
    f0, f1 = rng.standard_normal(13), rng.standard_normal(4)
    for name in ("correlate_separable", "convolve_separable"):
        f = getattr(sepconv, name)
        got = f(_lazy(x, chunks), [f0, f1], mode=mode, cval=2.0, origin=(-6, 1))
        want = f(x, [f0, f1], mode=mode, cval=2.0, origin=(-6, 1))
        np.testing.assert_allclose(got.compute(), want, atol=1e-12)


@pytest.mark.parametrize("method", ["auto", "direct", "lowrank", "fft"])
def test_low_rank_kernel_and_methods(rng, method):
    x = rng.standard_normal((30, 26))
    k = kernels.log(1.2)  # a LowRankKernel (rank 2)
    got = sepconv.correlate(_lazy(x, (7, 9)), k, mode="mirror", method=method)
    np.testing.assert_allclose(got.compute(), ndi.gaussian_laplace(x, 1.2, mode="mirror"), atol=1e-9)


def test_auto_fft_per_chunk_and_its_fallback_for_nan(rng):
    x = rng.standard_normal((50, 45))
    k = rng.standard_normal((21, 21))  # dense: 'auto' picks the FFT for each 16-row block
    got = sepconv.correlate(_lazy(x, 16), k, mode="reflect")
    np.testing.assert_allclose(got.compute(), ndi.correlate(x, k, mode="reflect"), atol=1e-9)
    x[3, 40] = np.nan  # NaN spreads as in the direct method (the FFT would smear it further)
    got = sepconv.correlate(_lazy(x, 16), k, mode="reflect").compute()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ndi.correlate(x, k, mode="reflect")))


@pytest.mark.parametrize("mode", ALL_MODES)
def test_nd_with_axes_keeps_other_axes_and_their_chunks(rng, mode):
    x = rng.standard_normal((4, 9, 3, 10))
    k = rng.standard_normal((3, 2))
    lazy = _lazy(x, (2, 4, 2, 3))
    got = sepconv.correlate(lazy, k, axes=(3, 1), mode=mode)
    assert got.chunks[0] == (2, 2) and got.chunks[2] == (2, 1)
    np.testing.assert_allclose(got.compute(), sepconv.correlate(x, k, axes=(3, 1), mode=mode),
                               atol=1e-12)
    f = [rng.standard_normal(3), rng.standard_normal(4), rng.standard_normal(2)]
    got = sepconv.correlate_separable(lazy, f, axes=(0, 1, 3), mode=mode)
    want = sepconv.correlate_separable(x, f, axes=(0, 1, 3), mode=mode)
    np.testing.assert_allclose(got.compute(), want, atol=1e-12)


def test_wrap_and_scipy_directly(rng):
    x = rng.standard_normal((40, 33))
    k = rng.standard_normal((7, 7))
    got = sepconv.correlate(_lazy(x, (10, 11)), k, mode="wrap").compute()
    np.testing.assert_allclose(got, ndi.correlate(x, k, mode="wrap"), atol=1e-10)


def test_chunks_are_kept_and_only_short_ones_merged(rng):
    x = _lazy(rng.standard_normal((20, 20)), ((8, 8, 1, 3), (1, 1, 18)))
    y = sepconv.correlate_separable(x, [np.ones(5), np.ones(3)])  # reaches 2 and 1
    assert y.chunks == ((8, 8, 4), (2, 18))  # every chunk holds at least reach + 1 samples


def test_valid_mode_shape_and_chunks(rng):
    x = rng.standard_normal((20, 12))
    k = rng.standard_normal((5, 4))  # reaches (2, 2) rows and (2, 1) columns
    y = sepconv.correlate(_lazy(x, (6, 4)), k, mode="valid")
    assert y.shape == (16, 9)
    assert y.chunks == ((4, 6, 6), (2, 4, 3))
    np.testing.assert_allclose(y.compute(), sepconv.correlate(x, k, mode="valid"), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), mode=st.sampled_from(ALL_MODES))
def test_hypothesis_random_chunks(data, mode):
    n = data.draw(st.integers(1, 14))
    size = data.draw(st.integers(1, 7 if mode != "valid" else n))
    origin = 0 if mode == "valid" else data.draw(st.integers(-(size // 2), (size - 1) // 2))
    cuts = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=6))
    chunks = _split(n, cuts)
    x = np.random.default_rng(n).standard_normal((n, 3))
    w = np.random.default_rng(size).standard_normal(size)
    got = sepconv.correlate(_lazy(x, (chunks, 2)), w, axes=0, mode=mode, origin=origin, cval=0.5)
    want = sepconv.correlate(x, w, axes=0, mode=mode, origin=origin, cval=0.5)
    np.testing.assert_allclose(got.compute(), want, atol=1e-12)


def _split(n: int, cuts: list[int]) -> tuple[int, ...]:
    sizes, left = [], n
    for c in cuts:
        if left <= c:
            break
        sizes.append(c)
        left -= c
    return (*sizes, left)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.uint8, np.int16, np.bool_])
def test_dtypes_follow_the_numpy_path(rng, dtype):
    x = (rng.random((12, 10)) * 50).astype(dtype)
    k = rng.random((3, 3))
    for mode in ("constant", "reflect"):
        got = sepconv.correlate(_lazy(x, 5), k, mode=mode, cval=2.5)
        want = sepconv.correlate(x, k, mode=mode, cval=2.5)
        assert got.dtype == want.dtype == got.compute().dtype
        tol = TOL.get(want.dtype, 2e-5)
        np.testing.assert_allclose(got.compute().astype(float), want.astype(float), rtol=tol, atol=tol)


def test_constant_mode_pads_an_integer_input_with_the_exact_cval(rng):
    x = rng.integers(-50, 50, (9, 8)).astype(np.int16)
    k = rng.random((3, 4))
    got = sepconv.correlate(_lazy(x, 4), k, mode="constant", cval=2.5).compute()
    want = ndi.correlate(x.astype(np.float64), k, mode="constant", cval=2.5)
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-5)


def test_integer_output_rounds_half_to_even_and_saturates():
    x = np.array([[0, 1, 2, 3, 200, 255, 255, 5]], dtype=np.uint8)
    for k in ([0.5], [2.0], [-1.0]):
        got = sepconv.correlate(_lazy(x, 3), [k], output=np.uint8).compute()
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, sepconv.correlate(x, [k], output=np.uint8))
    got = sepconv.correlate(_lazy(x, 3), [[0.5]], output="int16").compute()
    np.testing.assert_array_equal(got[0, :4], [0, 0, 1, 2])  # 0.5 and 2.5 round to even


def test_the_same_plan_runs_serially_in_every_chunk(rng, monkeypatch):
    seen = []
    execute = _plan.execute

    def spy(x, plan, *args, parallel=True, **kwargs):
        seen.append((id(plan), parallel))
        return execute(x, plan, *args, parallel=parallel, **kwargs)

    monkeypatch.setattr(_plan, "execute", spy)
    y = sepconv.correlate(_lazy(rng.standard_normal((20, 20)), 5), kernels.sobel("x"))
    assert seen == []  # nothing runs at graph-build time
    y.compute(scheduler="threads")
    assert len(seen) == 16 and len(set(seen)) == 1 and seen[0][1] is False


def test_nothing_is_computed_at_call_time():
    def explode(block):
        raise RuntimeError("computed")

    x = da.ones((30, 30), chunks=10).map_blocks(explode, meta=np.empty((0, 0)))
    for mode in ALL_MODES:
        y = sepconv.correlate_separable(x, [[1, 2, 1], [1, 0, -1]], mode=mode)
        assert y.shape == ((30, 30) if mode != "valid" else (28, 28))
    with pytest.raises(RuntimeError, match="computed"):
        y.compute()


BAD_CALLS = [
    dict(mode="reflekt"),
    dict(axes=(0, 5)),
    dict(origin=7),
    dict(mode="valid", origin=1),
    dict(output="complex64"),
    dict(method="fft", output=np.uint8),
    dict(cval="x"),
]


@pytest.mark.parametrize("kwargs", BAD_CALLS)
def test_errors_are_eager_and_word_for_word_the_numpy_ones(rng, kwargs):
    x = rng.standard_normal((6, 6))
    with pytest.raises(sepconv.SepconvError) as eager:
        sepconv.correlate(x, np.ones((3, 3)), **kwargs)
    with pytest.raises(sepconv.SepconvError) as lazy:
        sepconv.correlate(_lazy(x, 3), np.ones((3, 3)), **kwargs)
    assert str(lazy.value) == str(eager.value)


def test_input_errors_match_too():
    for bad, kernel in [(np.ones(6, dtype=complex), [1.0]), (np.ones((4, 4)), np.ones((3, 3, 3)))]:
        with pytest.raises(sepconv.SepconvError) as eager:
            sepconv.correlate(bad, kernel)
        with pytest.raises(sepconv.SepconvError) as lazy:
            sepconv.correlate(_lazy(bad, 2), kernel)
        assert str(lazy.value) == str(eager.value)


def test_array_output_and_unknown_chunks_are_refused(rng):
    x = _lazy(rng.standard_normal((6, 6)), 3)
    with pytest.raises(sepconv.SepconvError, match=r"output: expected None or a dtype .*dask\.array\.store"):
        sepconv.correlate(x, np.ones((3, 3)), output=np.empty((6, 6)))
    unknown = x[x[:, 0] > -10]
    with pytest.raises(sepconv.SepconvError, match="compute_chunk_sizes"):
        sepconv.correlate(unknown, np.ones((3, 3)))


def test_empty_input_gives_empty_lazy_output():
    y = sepconv.correlate(da.zeros((0, 5), chunks=2, dtype=np.uint8), np.ones((3, 3)))
    assert isinstance(y, da.Array) and y.shape == (0, 5) and y.dtype == np.float32


def test_numpy_input_and_import_never_load_dask():
    code = (
        "import sys, numpy as np, sepconv; assert 'dask' not in sys.modules;"
        "sepconv.correlate(np.ones((5, 5)), np.ones((3, 3)));"
        "sepconv.correlate_separable(np.ones((5, 5)), [[1, 2, 1], [1, 0, -1]]);"
        "assert not [m for m in sys.modules if m == 'dask' or m.startswith(('dask.', 'sepconv.dask'))]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_threads_scheduler_with_two_workers_matches(rng):
    x = rng.standard_normal((64, 48)).astype(np.float32)
    k = kernels.gaussian(1.5)
    with dask.config.set(scheduler="threads", num_workers=2):
        got = sepconv.correlate(_lazy(x, 16), k).compute()
    np.testing.assert_allclose(got, sepconv.correlate(x, k), atol=1e-6)


def _on_local_cluster(processes: bool, n_workers: int) -> None:
    distributed = pytest.importorskip("distributed")
    x = np.random.default_rng(3).standard_normal((40, 30))
    k = [[1.0, 2.0, 3.0], [1.0, -1.0]]
    lazy = sepconv.correlate_separable(_lazy(x, (7, 9)), k, mode="wrap")
    with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        got = lazy.compute()
    np.testing.assert_allclose(got, sepconv.correlate_separable(x, k, mode="wrap"), atol=1e-12)


def test_distributed_local_cluster_threads():
    _on_local_cluster(processes=False, n_workers=1)


@pytest.mark.slow
def test_distributed_local_cluster_two_processes():
    _on_local_cluster(processes=True, n_workers=2)


@pytest.mark.parametrize("shape, axes, kernel", [
    ((300, 517), (0, 1), kernels.gaussian(2.0)),
    ((3, 130, 90), (1, 2), kernels.sobel("y")),
    ((4, 70, 50), (0, 1, 2), kernels.gaussian(1.0, ndim=3)),
    ((90, 70, 3), (0, 1), kernels.box(3)),
])
def test_filter_tiff_reads_and_writes_chunk_by_chunk(rng, tmp_path, shape, axes, kernel):
    tifffile = pytest.importorskip("tifffile")
    pytest.importorskip("zarr")
    from sepconv.dask import filter_tiff

    x = rng.integers(0, 255, shape).astype(np.uint8)
    rgb = shape[-1] == 3
    tifffile.imwrite(tmp_path / "in.tif", x, tile=(64, 64), compression="zlib",
                     photometric="rgb" if rgb else "minisblack")
    given_axes = axes if len(axes) == 3 else None  # default: the series' Y and X axes
    written = filter_tiff(tmp_path / "in.tif", tmp_path / "out.tif", kernel, axes=given_axes,
                          chunks=48, tile=(32, 32), mode="mirror", output=np.int16 if not rgb else None)
    got = tifffile.imread(tmp_path / "out.tif")
    assert written == got.shape == shape
    want = sepconv.correlate(x, kernel, axes=axes, mode="mirror", output=np.int16 if not rgb else None)
    np.testing.assert_array_equal(got, want)
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.pages[0].is_tiled and tif.series[0].axes.endswith("YXS" if rgb else "YX")
        assert len(tif.pages) == (1 if rgb else int(np.prod(shape[:-2])))
