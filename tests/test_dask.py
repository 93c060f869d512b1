"""Dask arrays: lazy results identical to the in-memory ones, at every seam, mode and chunking.

Three kinds of source: ``numpy`` (``da.from_array``: regions are views), ``zarr`` (one read per
region) and ``generic`` (any other dask array: ``map_overlap``).
"""

from __future__ import annotations

import ast
import contextlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st

import sepconv
from sepconv import _plan, kernels
from sepconv._engine import _threads
from tests.helpers import MODES, TOL

da = pytest.importorskip("dask.array")
import dask  # noqa: E402  (after the importorskip)
from sepconv.dask import _budget, _regions  # noqa: E402

ALL_MODES = (*MODES, "valid")
# a single chunk, ordinary chunks, chunks shorter than the kernel's reach, uneven chunks
CHUNKINGS = [(23, 17), (8, 6), (1, 2), (3, (5, 1, 11))]


KINDS = ("numpy", "zarr", "generic")


def _lazy(x: np.ndarray, chunks: object, kind: str = "numpy") -> da.Array:
    """``x`` as a dask array of the given kind of source."""
    if kind == "zarr":
        zarr = pytest.importorskip("zarr")
        z = zarr.create_array(store=zarr.storage.MemoryStore(), shape=x.shape, dtype=x.dtype,
                              chunks=tuple(max(1, min(4, n)) for n in x.shape))
        z[...] = x
        lazy = da.from_zarr(z, chunks=chunks)
    else:
        lazy = da.from_array(x, chunks=chunks)
        lazy = lazy.map_blocks(np.copy) if kind == "generic" else lazy
    return lazy


def _filtered(f, lazy: da.Array, *args, kind: str = "numpy", **kwargs) -> da.Array:
    """``f`` on ``lazy``, checking which path built the graph (one task per chunk, or overlap)."""
    y = f(lazy, *args, **kwargs)
    assert isinstance(y, da.Array)
    assert y.name.startswith("sepconv-region-") == (kind != "generic"), y.name
    return y


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_dense_even_kernel_with_origins_is_identical_to_in_memory(rng, mode, chunks, kind):
    x = rng.standard_normal((23, 17))
    k = rng.standard_normal((5, 4))
    origins = [(0, 0)] if mode == "valid" else [(0, 0), (-2, 1), (2, -2)]
    for origin in origins:
        for name in ("correlate", "convolve"):
            f = getattr(sepconv, name)
            got = _filtered(f, _lazy(x, chunks, kind), k, kind=kind, mode=mode, cval=1.5, origin=origin)
            want = f(x, k, mode=mode, cval=1.5, origin=origin)
            assert got.shape == want.shape and got.dtype == want.dtype
            np.testing.assert_array_equal(got.compute(), want, err_msg=f"{name} {origin}")
    if mode != "valid":  # and both equal scipy's, an independent reference
        np.testing.assert_allclose(got.compute(), ndi.convolve(x, k, mode=mode, cval=1.5, origin=origin),
                                   atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("chunks", [(5, 8), (1, 3), (2, 8)])
def test_separable_kernel_longer_than_the_axis(rng, mode, chunks, kind):
    x = rng.standard_normal((5, 8))  # the 13-tap kernel reaches past the whole 5-row axis
    f0, f1 = rng.standard_normal(13), rng.standard_normal(4)
    for name in ("correlate_separable", "convolve_separable"):
        f = getattr(sepconv, name)
        got = _filtered(f, _lazy(x, chunks, kind), [f0, f1], kind=kind, mode=mode, cval=2.0,
                        origin=(-6, 1))
        want = f(x, [f0, f1], mode=mode, cval=2.0, origin=(-6, 1))
        np.testing.assert_array_equal(got.compute(), want)


@pytest.mark.parametrize("kind", ["numpy", "generic"])
@pytest.mark.parametrize("method", ["auto", "direct", "lowrank", "fft"])
def test_low_rank_kernel_and_methods(rng, method, kind):
    x = rng.standard_normal((30, 26))
    k = kernels.log(1.2)  # a LowRankKernel (rank 2)
    got = _filtered(sepconv.correlate, _lazy(x, (7, 9), kind), k, kind=kind, mode="mirror",
                    method=method).compute()
    np.testing.assert_allclose(got, ndi.gaussian_laplace(x, 1.2, mode="mirror"), atol=1e-9)
    if method != "fft":  # the FFT rounds differently on differently sized blocks
        np.testing.assert_array_equal(got, sepconv.correlate(x, k, mode="mirror", method=method))


def test_auto_fft_per_chunk_and_its_fallback_for_nan(rng):
    x = rng.standard_normal((50, 45))
    k = rng.standard_normal((21, 21))  # dense: 'auto' picks the FFT for each 16-row block
    got = sepconv.correlate(_lazy(x, 16), k, mode="reflect")
    np.testing.assert_allclose(got.compute(), ndi.correlate(x, k, mode="reflect"), atol=1e-9)
    x[3, 40] = np.nan  # NaN spreads as in the direct method (the FFT would smear it further)
    got = sepconv.correlate(_lazy(x, 16), k, mode="reflect").compute()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ndi.correlate(x, k, mode="reflect")))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", ALL_MODES)
def test_nd_with_axes_keeps_other_axes_and_their_chunks(rng, mode, kind):
    x = rng.standard_normal((4, 9, 3, 10))
    k = rng.standard_normal((3, 2))
    lazy = _lazy(x, (2, 4, 2, 3), kind)
    got = _filtered(sepconv.correlate, lazy, k, kind=kind, axes=(3, 1), mode=mode)
    assert got.chunks[0] == (2, 2) and got.chunks[2] == (2, 1)
    np.testing.assert_array_equal(got.compute(), sepconv.correlate(x, k, axes=(3, 1), mode=mode))
    f = [rng.standard_normal(3), rng.standard_normal(4), rng.standard_normal(2)]
    got = _filtered(sepconv.correlate_separable, lazy, f, kind=kind, axes=(0, 1, 3), mode=mode)
    want = sepconv.correlate_separable(x, f, axes=(0, 1, 3), mode=mode)
    np.testing.assert_array_equal(got.compute(), want)


def test_wrap_and_scipy_directly(rng):
    x = rng.standard_normal((40, 33))
    k = rng.standard_normal((7, 7))
    got = sepconv.correlate(_lazy(x, (10, 11)), k, mode="wrap").compute()
    np.testing.assert_allclose(got, ndi.correlate(x, k, mode="wrap"), atol=1e-10)


@pytest.mark.parametrize("kind", ["numpy", "generic"])
def test_chunks_are_kept_and_only_short_ones_merged(rng, kind):
    x = _lazy(rng.standard_normal((20, 20)), ((8, 8, 1, 3), (1, 1, 18)), kind)
    y = _filtered(sepconv.correlate_separable, x, [np.ones(5), np.ones(3)], kind=kind)  # reaches 2, 1
    assert y.chunks == ((8, 8, 4), (2, 18))  # every chunk holds at least reach + 1 samples


@pytest.mark.parametrize("kind", ["numpy", "generic"])
def test_valid_mode_shape_and_chunks(rng, kind):
    x = rng.standard_normal((20, 12))
    k = rng.standard_normal((5, 4))  # reaches (2, 2) rows and (2, 1) columns
    y = _filtered(sepconv.correlate, _lazy(x, (6, 4), kind), k, kind=kind, mode="valid")
    assert y.shape == (16, 9)
    assert y.chunks == ((4, 6, 6), (2, 4, 3))
    np.testing.assert_array_equal(y.compute(), sepconv.correlate(x, k, mode="valid"))


@settings(max_examples=40, deadline=None)
@given(data=st.data(), mode=st.sampled_from(ALL_MODES), kind=st.sampled_from(KINDS))
def test_hypothesis_random_chunks(data, mode, kind):
    n = data.draw(st.integers(1, 14))
    size = data.draw(st.integers(1, 7 if mode != "valid" else n))
    origin = 0 if mode == "valid" else data.draw(st.integers(-(size // 2), (size - 1) // 2))
    cuts = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=6))
    chunks = _split(n, cuts)
    x = np.random.default_rng(n).standard_normal((n, 3))
    w = np.random.default_rng(size).standard_normal(size)
    got = _filtered(sepconv.correlate, _lazy(x, (chunks, 2), kind), w, kind=kind, axes=0, mode=mode,
                    origin=origin, cval=0.5)
    want = sepconv.correlate(x, w, axes=0, mode=mode, origin=origin, cval=0.5)
    np.testing.assert_array_equal(got.compute(), want)


def _split(n: int, cuts: list[int]) -> tuple[int, ...]:
    sizes, left = [], n
    for c in cuts:
        if left <= c:
            break
        sizes.append(c)
        left -= c
    return (*sizes, left)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.uint8, np.int16, np.bool_])
def test_dtypes_follow_the_numpy_path(rng, dtype, kind):
    x = (rng.random((12, 10)) * 50).astype(dtype)
    k = rng.random((3, 3))
    for mode in ("constant", "reflect", "wrap"):
        got = _filtered(sepconv.correlate, _lazy(x, 5, kind), k, kind=kind, mode=mode, cval=2.5)
        want = sepconv.correlate(x, k, mode=mode, cval=2.5)
        assert got.dtype == want.dtype == got.compute().dtype
        np.testing.assert_array_equal(got.compute(), want)
        reference = ndi.correlate(x.astype(np.float64), k, mode=mode, cval=2.5)
        tol = TOL.get(want.dtype, 2e-5)
        np.testing.assert_allclose(want.astype(float), reference, rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", ["numpy", "generic"])
def test_constant_mode_pads_an_integer_input_with_the_exact_cval(rng, kind):
    x = rng.integers(-50, 50, (9, 8)).astype(np.int16)
    k = rng.random((3, 4))
    got = _filtered(sepconv.correlate, _lazy(x, 4, kind), k, kind=kind, mode="constant", cval=2.5).compute()
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


def _spy_execute(monkeypatch) -> list[tuple[np.ndarray, _plan.Plan, int]]:
    """Record (input block, plan, engine thread cap) of every engine call."""
    seen = []
    execute = _plan.execute

    def spy(x, plan, *args, **kwargs):
        seen.append((x, plan, getattr(_threads._cap, "threads", None)))
        return execute(x, plan, *args, **kwargs)

    monkeypatch.setattr(_plan, "execute", spy)
    return seen


@pytest.mark.parametrize("mode", ["reflect", "constant", "valid"])
def test_numpy_source_one_task_per_chunk_on_views_of_the_source(rng, monkeypatch, mode):
    x = rng.standard_normal((40, 36)).astype(np.float32)
    lazy = _lazy(x, (10, 12))
    source = _regions.source_of(lazy)
    assert source is not None and np.array_equal(source, x) and not source.flags.writeable
    seen = _spy_execute(monkeypatch)
    y = _filtered(sepconv.correlate_separable, lazy, [np.ones(5), np.ones(3)], mode=mode)
    assert seen == []  # nothing runs at graph-build time
    assert len(y.dask) == y.npartitions + 1  # one task per output chunk, plus the source
    got = y.compute(scheduler="threads")
    assert len(seen) == 12 and len({id(plan) for _, plan, _ in seen}) == 1
    assert all(np.shares_memory(block, source) for block, _, _ in seen)  # views: no halo copies
    assert max(block.shape[0] for block, _, _ in seen) <= 10 + 4  # a chunk and its halo
    np.testing.assert_array_equal(got, sepconv.correlate_separable(x, [np.ones(5), np.ones(3)], mode=mode))


def test_zarr_source_reads_each_region_once(rng, monkeypatch):
    x = rng.standard_normal((30, 20))
    calls = []
    read = _regions.read
    monkeypatch.setattr(_regions, "read", lambda source, region: calls.append(region) or read(source, region))
    y = _filtered(sepconv.correlate, _lazy(x, (10, 10), "zarr"), kernels.gaussian(1.0), kind="zarr")
    np.testing.assert_array_equal(y.compute(), sepconv.correlate(x, kernels.gaussian(1.0)))
    assert len(calls) == 6 and ((6, 24), (0, 14)) in calls  # the middle row of chunks, halo 4


def test_sources_that_are_not_plain_arrays_take_the_general_path(rng):
    lazy = _lazy(rng.standard_normal((12, 12)), 4)
    for other in (lazy[1:], lazy.rechunk(6), lazy + 1, da.from_array(np.ones((12, 12)), chunks=4, lock=True)):
        assert _regions.source_of(other) is None
    assert isinstance(_regions.source_of(_lazy(np.ones((4, 4)), 4)), np.ndarray)  # a single block


@pytest.mark.parametrize("layout", ["fortran", "strided"])
def test_numpy_sources_of_any_layout(rng, layout):  # dask copies it; blocks view the copy
    x = rng.standard_normal((30, 40))
    x = np.asfortranarray(x) if layout == "fortran" else x[:, ::2]
    lazy = _lazy(x, (7, 6))
    np.testing.assert_array_equal(_regions.source_of(lazy), x)
    got = _filtered(sepconv.correlate, lazy, kernels.gaussian(1.0), mode="nearest").compute()
    np.testing.assert_array_equal(got, sepconv.correlate(x, kernels.gaussian(1.0), mode="nearest"))


def test_wrapped_regions_are_read_in_runs_from_the_other_end():
    source = np.arange(5.0)
    want = np.take(source, range(-7, 9), mode="wrap")
    np.testing.assert_array_equal(_regions.read(source, ((-7, 9),)), want)
    z = np.arange(20.0).reshape(4, 5)
    want = z.take(range(-1, 5), axis=0, mode="wrap").take(range(3, 7), axis=1, mode="wrap")
    np.testing.assert_array_equal(_regions.read(z, ((-1, 5), (3, 7))), want)


@pytest.mark.parametrize("tasks, workers, cpus, want", [
    (16, 2, 2, [1, 1]),  # many chunks, dask's threads are the parallelism
    (2, 8, 8, [4, 4]),  # two large chunks split eight cores
    (1, 8, 8, [8]),  # a lone chunk takes them all
    (100, None, 8, [1] * 8),  # no num_workers: dask's threaded default, one per CPU
])
def test_engine_threads_per_task_share_the_cpus(monkeypatch, tasks, workers, cpus, want):
    monkeypatch.setattr(_budget, "_cpus", lambda: cpus)
    budget = _budget.Budget(tasks)
    with dask.config.set(num_workers=workers), contextlib.ExitStack() as stack:
        got = [stack.enter_context(budget.share()) for _ in want]  # all running at once
    assert got == want
    with _threads.at_most(1):  # the cap reaches the engine's thread count
        assert _threads.thread_count(True, items=1000, work=1 << 30) == 1


def test_chunk_tasks_run_the_engine_with_their_share_of_threads(rng, monkeypatch):
    monkeypatch.setattr(_budget, "_cpus", lambda: 4)
    seen = _spy_execute(monkeypatch)
    x = rng.standard_normal((64, 64)).astype(np.float32)
    with dask.config.set(scheduler="sync", num_workers=4):  # one task at a time, in order
        y = sepconv.correlate(_lazy(x, 32), kernels.gaussian(1.0))  # 4 chunks on 4 "CPUs"
        y.compute()
        assert [cap for _, _, cap in seen] == [1, 1, 2, 4]  # the last ones have the CPUs to themselves
        y.compute()  # the same graph again: the count starts over
        assert [cap for _, _, cap in seen] == [1, 1, 2, 4] * 2
        seen.clear()
        sepconv.correlate(_lazy(x, (64, 32)), kernels.gaussian(1.0)).compute()  # 2 chunks
        assert [cap for _, _, cap in seen] == [2, 4]


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


@pytest.mark.parametrize("chunks", [64, 256, 1024])
def test_user_sized_float32_image_store_is_identical_and_matches_scipy(rng, chunks):
    x = rng.random((1100, 1000), dtype=np.float32)
    w = kernels.gaussian_1d(1.0, truncate=3.0)  # 7 taps
    target = np.full(x.shape, np.nan, dtype=np.float32)
    with dask.config.set(scheduler="threads", num_workers=2):
        da.store(_filtered(sepconv.correlate_separable, _lazy(x, chunks), [w, w]), target, lock=False)
    np.testing.assert_array_equal(target, sepconv.correlate_separable(x, [w, w]))
    want = ndi.gaussian_filter(x.astype(np.float64), 1.0, truncate=3.0)
    np.testing.assert_allclose(target, want, atol=2e-6)


def _module_path(name: str) -> Path | None:
    """The file of a sepconv module or package, or None (an attribute such as a function)."""
    path = Path(sepconv.__file__).parent.parent.joinpath(*name.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.exists():
            return candidate
    return None


def _sepconv_imports(name: str) -> set[str]:
    """The sepconv modules that module ``name`` imports by name (the root package left out)."""
    path = _module_path(name)
    assert path is not None, name
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = (".".join([*parts[:len(parts) - node.level + 1], node.module or ""]).rstrip(".")
                    if node.level else node.module or "")
            found |= {f"{base}.{a.name}" if _module_path(f"{base}.{a.name}") else base for a in node.names}
    return {m for m in found if m.startswith("sepconv.") and _module_path(m)}


def test_dask_does_not_import_filtering():
    """sepconv.dask and every sepconv module it imports, transitively, stay below filtering."""
    todo, seen = ["sepconv.dask"], set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_sepconv_imports(name))
    assert {"sepconv.dask._regions", "sepconv._request", "sepconv._engine._threads"} <= seen  # it walks
    assert "sepconv.filtering" not in seen, sorted(seen)
    assert "sepconv.filtering" in _sepconv_imports("sepconv.ndimage")  # and it would see one


def _on_local_cluster(processes: bool, n_workers: int) -> None:
    distributed = pytest.importorskip("distributed")
    x = np.random.default_rng(3).standard_normal((40, 30))
    k = [[1.0, 2.0, 3.0], [1.0, -1.0]]
    lazy = _filtered(sepconv.correlate_separable, _lazy(x, (7, 9)), k, mode="wrap")
    with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        got = lazy.compute()
    np.testing.assert_array_equal(got, sepconv.correlate_separable(x, k, mode="wrap"))


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
def test_filter_tiff_reads_and_writes_chunk_by_chunk(rng, tmp_path, monkeypatch, shape, axes, kernel):
    tifffile = pytest.importorskip("tifffile")
    pytest.importorskip("zarr")
    from sepconv.dask import filter_tiff

    regions = []
    read = _regions.read
    monkeypatch.setattr(_regions, "read", lambda source, where: regions.append(where) or read(source, where))

    x = rng.integers(0, 255, shape).astype(np.uint8)
    rgb = shape[-1] == 3
    tifffile.imwrite(tmp_path / "in.tif", x, tile=(64, 64), compression="zlib",
                     photometric="rgb" if rgb else "minisblack")
    given_axes = axes if len(axes) == 3 else None  # default: the series' Y and X axes
    written = filter_tiff(tmp_path / "in.tif", tmp_path / "out.tif", kernel, axes=given_axes,
                          chunks=48, tile=(32, 32), mode="mirror", output=np.int16 if not rgb else None)
    got = tifffile.imread(tmp_path / "out.tif")
    assert written == got.shape == shape
    assert regions  # the fast path: each chunk's region read from the TIFF with its halo
    assert len(axes) == 3 or len(set(regions)) == len(regions)  # each once (3 axes: once per band)
    want = sepconv.correlate(x, kernel, axes=axes, mode="mirror", output=np.int16 if not rgb else None)
    np.testing.assert_array_equal(got, want)
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.pages[0].is_tiled and tif.series[0].axes.endswith("YXS" if rgb else "YX")
        assert len(tif.pages) == (1 if rgb else int(np.prod(shape[:-2])))
