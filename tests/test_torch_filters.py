"""Filters on torch tensors: equal to the NumPy path on both routes, differentiable, like kornia."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as npst

torch = pytest.importorskip("torch")

import sepconv  # noqa: E402
from sepconv import SepconvError, kernels, ndimage  # noqa: E402
from sepconv._tensor import dispatch  # noqa: E402

MODES = ("reflect", "mirror", "nearest", "constant", "wrap", "valid")


@pytest.fixture(params=["engine", "torch"])
def route(request, monkeypatch):
    """Run a test once per route and check that the named route (and only it) ran."""
    calls = {"engine": 0, "torch": 0}
    for name, fn in (("engine", dispatch._on_engine), ("torch", dispatch._on_torch)):
        def counted(*args, _fn=fn, _name=name):
            calls[_name] += 1
            return _fn(*args)
        monkeypatch.setattr(dispatch, f"_on_{name}", counted)
    yield request.param
    assert calls[request.param] > 0 and calls[{"engine": "torch", "torch": "engine"}[request.param]] == 0


def as_tensor(x, route):
    """A tensor that takes the given route: grad forces the torch passes on CPU."""
    t = torch.as_tensor(x)
    return t.requires_grad_() if route == "torch" and t.is_floating_point() else t


def numpy(t):
    return t.detach().numpy()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["auto", "direct", "lowrank"])
@pytest.mark.parametrize("kshape", [(3, 3), (4, 2), (7, 1)])
def test_dense_kernels_equal_the_numpy_path(rng, route, mode, method, kshape):
    x = rng.standard_normal((2, 8 if mode == "valid" else 6, 9))  # 7 taps > 6 rows
    k = rng.standard_normal(kshape)
    origin = 0 if mode == "valid" else (-(kshape[0] // 2), (kshape[1] - 1) // 2)
    for fn in (sepconv.correlate, sepconv.convolve):
        want = fn(x, k, mode=mode, cval=1.5, origin=origin, axes=(1, 2), method=method)
        got = fn(as_tensor(x, route), k, mode=mode, cval=1.5, origin=origin, axes=(1, 2), method=method)
        assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
        np.testing.assert_allclose(numpy(got), want, atol=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_separable_low_rank_and_3d_with_axes_equal_the_numpy_path(rng, route, mode):
    x = rng.standard_normal((5, 6, 7)).astype(np.float32)
    f = [rng.standard_normal(n) for n in (3, 2, 5)]
    want = sepconv.convolve_separable(x, f, axes=(2, 0, 1), mode=mode, cval=-0.5)
    got = sepconv.convolve_separable(as_tensor(x, route), f, axes=(2, 0, 1), mode=mode, cval=-0.5)
    assert got.dtype == torch.float32
    np.testing.assert_allclose(numpy(got), want, atol=2e-5)
    lowrank = kernels.laplacian(ndim=2)  # a LowRankKernel of 2 terms
    want = sepconv.correlate(x, lowrank, axes=(0, 2), mode=mode, cval=2.0)
    got = sepconv.correlate(as_tensor(x, route), lowrank, axes=(0, 2), mode=mode, cval=2.0)
    np.testing.assert_allclose(numpy(got), want, atol=2e-5)
    dense = rng.standard_normal((3, 3, 2))  # rank 3: the low-rank plan on the NumPy path
    want = sepconv.correlate(x, dense, mode=mode, method="lowrank")
    got = sepconv.correlate(as_tensor(x, route), dense, mode=mode, method="lowrank")
    np.testing.assert_allclose(numpy(got), want, atol=2e-5)


@settings(deadline=None, max_examples=60)
@given(
    x=npst.arrays(np.float64, npst.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=9),
                  elements=st.floats(-10, 10)),
    k0=npst.arrays(np.float64, st.integers(1, 6), elements=st.floats(-3, 3)),
    k1=npst.arrays(np.float64, st.integers(1, 6), elements=st.floats(-3, 3)),
    mode=st.sampled_from(MODES[:-1]),
    cval=st.floats(-2, 2),
)
def test_hypothesis_torch_passes_equal_the_numpy_path(x, k0, k1, mode, cval):
    want = sepconv.correlate_separable(x, [k0, k1], mode=mode, cval=cval)
    factors = [torch.tensor(k0, requires_grad=True), torch.tensor(k1)]
    got = sepconv.correlate_separable(torch.tensor(x), factors, mode=mode, cval=cval)
    np.testing.assert_allclose(numpy(got), want, atol=1e-9)
    dense = sepconv.correlate(torch.tensor(x), torch.tensor(np.outer(k0, k1), requires_grad=True),
                              mode=mode, cval=cval)
    np.testing.assert_allclose(numpy(dense), want, atol=1e-9)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.uint8, torch.int16,
                                   torch.int32, torch.bool])
def test_dtypes_follow_the_numpy_path(rng, dtype):
    x = torch.as_tensor(rng.uniform(0, 100, (7, 8))).to(dtype)
    k = kernels.sobel("x")
    reference = x.float().numpy().astype(np.float16) if dtype == torch.bfloat16 else x.numpy()
    want = sepconv.correlate(reference, k, mode="wrap")
    expected = {torch.float16: torch.float16, torch.bfloat16: torch.bfloat16}.get(dtype, torch.float32)
    # the torch route: a kernel that requires grad
    factors = [torch.as_tensor(f, dtype=torch.float32).requires_grad_() for f in k.factors]
    for got in (sepconv.correlate(x, k, mode="wrap"),
                sepconv.correlate_separable(x, factors, mode="wrap")):
        assert got.dtype == expected
        tol = 2e-2 if dtype == torch.bfloat16 else 1e-2 if dtype == torch.float16 else 1e-4
        np.testing.assert_allclose(got.detach().float().numpy(), want.astype(np.float32),
                                   rtol=tol, atol=tol * np.abs(want).max())


def test_integer_output_rounds_half_to_even_and_saturates_on_both_routes():
    x = torch.tensor([[0.5, 1.5, 2.5, 300.0, -4.0]], dtype=torch.float64)
    one = np.ones(1)
    want = sepconv.correlate_separable(x.numpy(), [one], axes=1, output=np.uint8)
    for t in (x, x.clone().requires_grad_()):
        for out in (torch.uint8, np.uint8):
            got = sepconv.correlate_separable(t, [one], axes=1, output=out)
            assert got.dtype == torch.uint8
            np.testing.assert_array_equal(got.numpy(), want)
    assert want.tolist() == [[0, 2, 2, 255, 0]]


def test_output_tensor_is_filled_in_place_on_both_routes(rng):
    x = torch.as_tensor(rng.standard_normal((6, 6)), dtype=torch.float32)
    want = sepconv.correlate(x.numpy(), np.ones((3, 3)) / 9)
    for t in (x, x.clone().requires_grad_()):
        target = torch.empty(6, 6, dtype=torch.float64)
        got = sepconv.correlate(t, np.ones((3, 3)) / 9, output=target)
        assert got is target
        np.testing.assert_allclose(target.detach().numpy(), want, atol=1e-6)


def test_cpu_without_grad_shares_memory_with_the_engine(rng, monkeypatch):
    x = torch.as_tensor(rng.standard_normal((8, 9)), dtype=torch.float32).t()  # non-contiguous
    seen = {}
    run = sepconv._request.run

    def spy(array, request):
        seen["shares"] = np.shares_memory(array, x.numpy())
        return run(array, request)

    monkeypatch.setattr(sepconv._request, "run", spy)
    got = sepconv.correlate(x, kernels.box(3), mode="nearest")
    assert seen["shares"]
    np.testing.assert_allclose(got.numpy(), sepconv.correlate(x.numpy(), kernels.box(3), mode="nearest"),
                               atol=1e-6)


def test_a_numpy_call_stays_numpy_with_torch_loaded():
    got = sepconv.correlate(np.ones((4, 4)), np.ones((3, 3)))
    assert isinstance(got, np.ndarray)
    assert isinstance(ndimage.gaussian_filter(np.ones((4, 4)), 1.0), np.ndarray)


def test_empty_input_gives_an_empty_tensor():
    got = sepconv.correlate(torch.zeros(0, 5), np.ones((3, 3)))
    assert got.shape == (0, 5) and got.dtype == torch.float32


@pytest.mark.parametrize("mode", ["reflect", "mirror", "nearest", "constant", "wrap"])
def test_ndimage_drop_ins_take_tensors(rng, route, mode):
    x = rng.standard_normal((6, 7, 5))
    t = as_tensor(x, route)
    calls = [
        lambda a: ndimage.gaussian_filter(a, [1.0, 0.7], mode=mode, cval=1.0, axes=(0, 2)),
        lambda a: ndimage.sobel(a, axis=1, mode=mode, cval=2.0),
        lambda a: ndimage.uniform_filter(a, 3, mode=mode),
        lambda a: ndimage.gaussian_laplace(a, 1.2, mode=mode),
        lambda a: ndimage.correlate1d(a, [1.0, -2.0, 0.5, 3.0], axis=0, mode=mode, origin=1),
    ]
    for call in calls:
        got = call(t)
        assert isinstance(got, torch.Tensor)
        np.testing.assert_allclose(numpy(got), call(x), atol=1e-10)
    w = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    np.testing.assert_allclose(numpy(ndimage.convolve1d(t, w, axis=1, mode=mode)),
                               ndimage.convolve1d(x, w.numpy(), axis=1, mode=mode), atol=1e-10)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float16])
def test_ndimage_dtype_rule_is_the_numpy_paths(rng, dtype):
    """Whatever sepconv.ndimage returns for an integer or float16 array, a tensor gets the same."""
    x = rng.uniform(0, 200, (9, 8)).astype(dtype)
    for call in (lambda a: ndimage.gaussian_filter(a, 1.5), lambda a: ndimage.sobel(a, axis=0),
                 lambda a: ndimage.uniform_filter1d(a, 4),
                 lambda a: ndimage.gaussian_laplace(a, 1.0, mode=["reflect", "wrap"])):
        want, got = call(x), call(torch.as_tensor(x))
        assert got.dtype == dispatch._TORCH_DTYPES[want.dtype]
        np.testing.assert_allclose(got.numpy().astype(np.float64), want.astype(np.float64), atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_input_and_dense_kernel(rng, mode):
    x = torch.tensor(rng.standard_normal((2, 5, 4)), requires_grad=True)
    k = torch.tensor(rng.standard_normal((4, 3)), requires_grad=True)  # even: origin matters
    origin = 0 if mode == "valid" else (1, -1)

    def fn(x, k):
        return sepconv.convolve(x, k, mode=mode, cval=0.7, origin=origin, axes=(1, 2))

    assert torch.autograd.gradcheck(fn, (x, k))


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_input_and_separable_factors(rng, mode):
    x = torch.tensor(rng.standard_normal((4, 3, 5)), requires_grad=True)
    f0 = torch.tensor(rng.standard_normal(6), requires_grad=True)  # longer than the 4-sample axis
    f1 = torch.tensor(rng.standard_normal(2), requires_grad=True)
    origin = 0 if mode == "valid" else (-3, 0)

    def fn(x, f0, f1):
        return sepconv.correlate_separable(x, [f0, f1], axes=(0, 2), mode=mode, cval=-1.2,
                                           origin=origin)

    if mode == "valid":
        x = torch.tensor(rng.standard_normal((7, 3, 5)), requires_grad=True)
    assert torch.autograd.gradcheck(fn, (x, f0, f1))


def test_gradients_are_the_adjoint_of_the_numpy_filter(rng):
    """<A x, y> = <x, A^T y>: the backward of 'reflect' equals an explicit adjoint built column by column."""
    x = torch.tensor(rng.standard_normal(5), requires_grad=True)
    w = rng.standard_normal(3)
    matrix = np.stack([sepconv.correlate_separable(e, [w], mode="reflect") for e in np.eye(5)], axis=1)
    y = rng.standard_normal(5)
    (sepconv.correlate_separable(x, [w], mode="reflect") * torch.tensor(y)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), matrix.T @ y, atol=1e-12)


def test_a_grad_kernel_with_method_separable_still_checks_separability(rng):
    k = torch.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    with pytest.raises(sepconv.NotSeparableError):
        sepconv.correlate(torch.ones(5, 5, dtype=torch.float64), k, method="separable")


kornia = pytest.importorskip("kornia")


@pytest.mark.parametrize("grad", [False, True])
def test_gaussian_blur_equals_kornia_reflect(rng, grad):
    x = torch.rand(2, 3, 64, 48, generator=torch.Generator().manual_seed(0)).requires_grad_(grad)
    want = kornia.filters.gaussian_blur2d(x, (7, 7), (1.5, 1.5), border_type="reflect")
    g = kernels.gaussian_1d(1.5, radius=3)
    got = sepconv.correlate_separable(x, [g, g], axes=(-2, -1), mode="mirror")
    torch.testing.assert_close(got, want, rtol=0, atol=1e-4)


@pytest.mark.parametrize(("border", "mode"), [("replicate", "nearest"), ("circular", "wrap"),
                                              ("constant", "constant")])
def test_filter2d_borders_equal_kornia(rng, border, mode):
    x = torch.rand(1, 2, 20, 17, generator=torch.Generator().manual_seed(1))
    k = torch.tensor(rng.standard_normal((5, 3)), dtype=torch.float32)
    want = kornia.filters.filter2d(x, k[None], border_type=border)
    got = sepconv.correlate(x, k, axes=(-2, -1), mode=mode)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_bad_tensor_arguments_raise_sepconv_errors():
    x = torch.ones(4, 4)
    cases = [
        (lambda: sepconv.correlate(torch.ones(4, 4, dtype=torch.complex64), np.ones((3, 3))), "input"),
        (lambda: sepconv.correlate(x, torch.ones(3, 3, device="meta")), "kernel"),
        (lambda: sepconv.correlate(x, torch.tensor([[1.0, float("nan")]])), "kernel"),
        (lambda: sepconv.correlate(x, np.ones((3, 3)), output=np.empty((4, 4))), "output"),
        (lambda: sepconv.correlate(x, np.ones((3, 3)), output=torch.empty(3, 3)), "output"),
        (lambda: sepconv.correlate_separable(x, [torch.ones(3, 3)]), "kernels_1d[0]"),
        (lambda: sepconv.correlate(x, torch.ones(3, 3), mode="bogus"), "mode"),
        (lambda: sepconv.correlate(x, torch.ones(3)), "axes"),
        (lambda: sepconv.correlate(torch.eye(4).to_sparse(), np.ones((3, 3))), "input"),
        # a NumPy input cannot give a gradient: the kernel that wants one is refused, not numpy()'d
        (lambda: sepconv.correlate(np.ones((4, 4)), torch.ones(3, 3, requires_grad=True)), "kernel"),
        (lambda: sepconv.correlate_separable(np.ones((4, 4)), [torch.ones(3, requires_grad=True)]),
         "kernels_1d[0]"),
    ]
    for call, name in cases:
        with pytest.raises(SepconvError, match=name.replace("[", r"\[")):
            call()


def test_bfloat16_output_rounds_once_from_float32_on_both_routes():
    """bfloat16 has float32's range: a result of 1e6 must not pass through float16 (max 65504)."""
    k = np.full((3, 3), 1 / 9, dtype=np.float32)
    x = torch.full((6, 7), 1e6) + torch.rand(6, 7)
    want = torch.as_tensor(sepconv.correlate(x.numpy(), k, output=np.float32)).bfloat16()
    for t in (x, x.clone().requires_grad_()):
        got = sepconv.correlate(t, k, output=torch.bfloat16)
        assert got.dtype == torch.bfloat16
        torch.testing.assert_close(got.detach(), want, rtol=0, atol=0)
        target = torch.empty(6, 7, dtype=torch.bfloat16)
        sepconv.correlate(t, k, output=target)
        torch.testing.assert_close(target, want, rtol=0, atol=0)


@pytest.mark.parametrize("form", ["dense", "separable", "lowrank"])
def test_constant_borders_with_a_large_cval_are_exact_on_the_torch_route(rng, form):
    """Padding with cval itself: no cancellation of digits in the interior (float32, cval 1e6)."""
    x = torch.as_tensor(rng.random((2, 16, 17)), dtype=torch.float32)
    k = {"dense": rng.random((3, 4)), "separable": kernels.gaussian(1.0),
         "lowrank": kernels.log(1.0)}[form]
    want = sepconv.correlate(x.numpy(), k, mode="constant", cval=1e6, axes=(-2, -1))
    got = sepconv.correlate(x.clone().requires_grad_(), k, mode="constant", cval=1e6, axes=(-2, -1))
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-6, atol=1e-6 * abs(want).max())
    inner = (slice(None), slice(5, -5), slice(5, -5))  # beyond the kernels' reach of the border
    free = sepconv.correlate(x.numpy(), k, mode="constant", cval=0.0, axes=(-2, -1))
    np.testing.assert_allclose(got.detach().numpy()[inner], free[inner], rtol=1e-5, atol=1e-5)
