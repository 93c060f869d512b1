"""sepconv.nn.Filter: module == function, learnable weights, pipelines, compile, trace, ONNX."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

import sepconv  # noqa: E402
from sepconv import SepconvError, kernels  # noqa: E402
from sepconv._tensor import dispatch  # noqa: E402
from sepconv.nn import Filter  # noqa: E402

# torch 2.13 deprecates jit.trace (still widely used for deployment); shape checks warn when traced
TRACE = pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning",
                                   "ignore:`torch.jit.trace:DeprecationWarning")


def image(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("mode", ["reflect", "mirror", "nearest", "constant", "wrap", "valid"])
@pytest.mark.parametrize("kernel", ["separable", "lowrank", "dense"])
def test_module_equals_function(mode, kernel, assert_close):
    k = {"separable": kernels.sobel("y"), "lowrank": kernels.laplacian(),
         "dense": np.random.default_rng(0).standard_normal((3, 2))}[kernel]
    x = image(2, 3, 11, 9, dtype=torch.float64)
    layer = Filter(k, mode=mode, cval=0.5, axes=(-2, -1), convolve=True, dtype=torch.float64)
    want = sepconv.convolve(x, k, mode=mode, cval=0.5, axes=(-2, -1))
    assert_close(layer(x), want)
    assert_close(layer(x.requires_grad_()), want)  # the torch route


def test_dense_kernels_are_planned_once_at_construction():
    layer = Filter(np.outer([1.0, 2.0, 1.0], [-1.0, 0.0, 1.0]))
    assert [tuple(f.shape) for f in layer.kernel_terms()[0]] == [(3,), (3,)]
    assert not list(layer.parameters()) and len(list(layer.buffers())) == 2
    assert "1 separable term" in repr(layer)


def test_learnable_factors_get_gradients_and_train():
    target = Filter(kernels.gaussian(1.0, ndim=2, radius=2), mode="mirror", axes=(-2, -1))
    layer = Filter(kernels.box(5), mode="mirror", axes=(-2, -1), learnable=True)
    assert len(list(layer.parameters())) == 2
    opt = torch.optim.Adam(layer.parameters(), lr=0.02)
    x = image(4, 1, 24, 24)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = (layer(x) - target(x)).pow(2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]


def test_learnable_dense_kernel_stays_dense_and_matches_conv2d(assert_close):
    w = image(5, 5, seed=3)
    layer = Filter(w, mode="constant", axes=(-2, -1), learnable=True)
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    x = image(2, 1, 16, 16)
    want = nn.functional.conv2d(x, w[None, None], padding=2)
    assert_close(layer(x), want)
    layer(x).sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.shape == (5, 5)


def test_in_a_sequential_pipeline_with_state_dict():
    pipe = nn.Sequential(Filter(kernels.gaussian(1.5), mode="mirror", axes=(-2, -1)), nn.ReLU())
    copy = nn.Sequential(Filter(kernels.gaussian(1.5), mode="mirror", axes=(-2, -1)), nn.ReLU())
    copy.load_state_dict(pipe.state_dict())
    x = image(1, 3, 20, 20)
    torch.testing.assert_close(copy(x), pipe(x))


def test_filter_rejects_arrays_and_bad_modes():
    with pytest.raises(SepconvError, match="input"):
        Filter(kernels.box(3))(np.ones((4, 4)))
    with pytest.raises(SepconvError, match="mode"):
        Filter(kernels.box(3), mode="bogus")


@pytest.mark.parametrize(("kernel", "mode", "convolve", "origin"), [
    ("separable", "reflect", False, 0), ("separable", "constant", True, (1, 0)),
    ("lowrank", "wrap", False, 0), ("lowrank", "valid", True, 0),
    ("dense", "mirror", True, (0, -1)), ("dense", "nearest", False, 0)])
def test_torch_compile_fullgraph_matches_eager(kernel, mode, convolve, origin, assert_close):
    """No graph break (fullgraph=True), like the layers; forward and the kernel's gradient."""
    k = {"separable": kernels.gaussian(1.0), "lowrank": kernels.log(1.0),
         "dense": np.random.default_rng(1).standard_normal((3, 4))}[kernel]
    layer = Filter(k, mode=mode, cval=0.5, origin=origin, axes=(-2, -1), convolve=convolve,
                   learnable=True, dtype=torch.float64)
    x = image(2, 3, 19, 17, dtype=torch.float64)
    torch._dynamo.reset()
    compiled = torch.compile(layer, backend="aot_eager", fullgraph=True)
    got = compiled(x)
    want = sepconv.convolve if convolve else sepconv.correlate
    assert_close(got, want(x.numpy(), k, mode=mode, cval=0.5, origin=origin, axes=(-2, -1)))
    got.sum().backward()
    grads = [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    layer(x).sum().backward()
    for g, w in zip(grads, (p.grad for p in layer.parameters())):
        assert_close(g, w)
    assert compiled(image(4, 3, 19, 17, seed=2).to(torch.float32)).dtype == torch.float32


def test_torch_compile_matches_eager_forward_and_backward(assert_close):
    # validation (NumPy on shapes) breaks the graph; the filter's torch ops are compiled
    layer = Filter(kernels.gaussian(1.5), mode="reflect", axes=(-2, -1), learnable=True)
    x = image(2, 3, 32, 32)
    compiled = torch.compile(layer, backend="aot_eager")
    assert_close(compiled(x), layer(x))
    compiled(x).sum().backward()
    grads = [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    layer(x).sum().backward()
    for got, want in zip(grads, (p.grad for p in layer.parameters())):
        assert_close(got, want)


@TRACE
def test_jit_trace_records_torch_ops_not_the_engine(monkeypatch, assert_close):
    layer = Filter(kernels.sobel("x"), mode="wrap", axes=(-2, -1))
    x = image(2, 3, 16, 16)
    traced = torch.jit.trace(layer, x)
    monkeypatch.setattr(dispatch, "_on_engine", None)  # the traced graph cannot call the engine
    assert_close(traced(image(2, 3, 16, 16, seed=5)), sepconv.correlate(
        image(2, 3, 16, 16, seed=5).numpy(), kernels.sobel("x"), mode="wrap", axes=(-2, -1)))
    other = image(5, 3, 16, 16, seed=6)  # the batch size is not baked into the trace
    assert_close(traced(other), sepconv.correlate(other.numpy(), kernels.sobel("x"), mode="wrap",
                                                  axes=(-2, -1)))


@TRACE
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning", "ignore::UserWarning")
@pytest.mark.parametrize("dynamo", [False, True])
@pytest.mark.parametrize("mode", ["reflect", "mirror", "nearest", "constant", "wrap", "valid"])
def test_onnx_export_matches_onnxruntime(tmp_path, dynamo, mode):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript" if dynamo else "onnx")
    layer = Filter(kernels.gaussian(1.2), mode=mode, cval=0.25, axes=(-2, -1))
    x = image(2, 3, 24, 20)
    path = tmp_path / "filter.onnx"
    if dynamo:  # a dynamic batch size: the exported graph must not fix it
        batch = {0: torch.export.Dim("batch")}
        torch.onnx.export(layer, (x,), dynamo=True, verbose=False,
                          dynamic_shapes=(batch,)).save(str(path))
    else:
        torch.onnx.export(layer, (x,), str(path), dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "batch"}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch_x in (x, image(5, 3, 24, 20, seed=3)):
        got = session.run(None, {session.get_inputs()[0].name: batch_x.numpy()})[0]
        want = sepconv.correlate(batch_x.numpy(), kernels.gaussian(1.2), mode=mode, cval=0.25,
                                 axes=(-2, -1))
        np.testing.assert_allclose(got, want, atol=1e-5)
