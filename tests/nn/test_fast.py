"""The fused CPU path (sepconv.nn.fast): equal to the plain composition, forward and backward.

The reference everywhere is PyTorch's own depthwise + pointwise convolutions on F.pad-ed input.
"""

from __future__ import annotations

import pickle
import random
import threading

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from sepconv.nn import DepthwiseConv2d, SeparableConv2d, _fused, fast  # noqa: E402
from sepconv.nn import functional as SF  # noqa: E402

DEFAULT_MIN_MACS, DEFAULT_MIN_AREA = fast.MIN_MACS, fast.MIN_AREA


@pytest.fixture(autouse=True)
def fast_path_for_small_shapes(monkeypatch):
    """The tests use small shapes, which the layers would otherwise leave to PyTorch."""
    monkeypatch.setattr(fast, "MIN_MACS", {"depthwise": 0, "separable": 0})
    monkeypatch.setattr(fast, "MIN_AREA", {"depthwise": 0, "separable": 0})


def reference(x, depthwise, pointwise, bias, pads, dilation):
    """conv(pad(x), depthwise, groups=C) then the 1×1 conv; pads = (top, bottom, left, right)."""
    top, bottom, left, right = pads
    mid = F.conv2d(F.pad(x, (left, right, top, bottom)), depthwise, None, 1, 0, dilation, x.shape[1])
    return mid if pointwise is None else F.conv2d(mid, pointwise, bias)


def random_case(seed):
    """A random shape, multiplier, kernel, dilation and (asymmetric, possibly wide) zero padding."""
    rng = random.Random(seed)
    c, m = rng.randint(1, 5), rng.choice([1, 1, 2, 3])
    kh, kw = rng.randint(1, 5), rng.randint(1, 5)
    dh, dw = rng.choice([1, 1, 2]), rng.choice([1, 1, 3])
    h, w = rng.randint((kh - 1) * dh + 1, 17), rng.randint((kw - 1) * dw + 1, 17)
    pads = tuple(rng.choice([0, 0, 1, 2, 6]) for _ in range(4))
    n, out = rng.randint(1, 3), rng.randint(1, 6)
    return (n, c, h, w), (c * m, 1, kh, kw), (out, c * m, 1, 1), pads, (dh, dw)


def tensors(case, dtype=torch.float32, grad=False):
    shape, dw_shape, pw_shape, pads, dilation = case
    torch.manual_seed(0)
    made = [torch.randn(s, dtype=dtype) for s in (shape, dw_shape, pw_shape, pw_shape[:1])]
    return [t.requires_grad_(grad) for t in made], pads, dilation


def grads(fn, inputs, seed=1):
    out = fn(*inputs)
    torch.manual_seed(seed)
    return [out, *torch.autograd.grad(out, inputs, torch.randn_like(out))]


@pytest.mark.parametrize("seed", range(12))
def test_separable_op_equals_composition_forward_and_backward(seed, assert_close):
    (x, dw, pw, b), pads, dil = tensors(random_case(seed), grad=True)
    ours = grads(lambda *t: fast.separable_conv2d(*t, pads, dil), [x, dw, pw, b])
    expected = grads(lambda *t: reference(*t, pads, dil), [x, dw, pw, b])
    for a, e in zip(ours, expected):
        assert_close(a, e)


@pytest.mark.parametrize("seed", range(12, 20))
def test_depthwise_op_equals_composition_forward_and_backward(seed, assert_close):
    (x, dw, _, _), pads, dil = tensors(random_case(seed), grad=True)
    b = torch.randn(dw.shape[0], requires_grad=True)

    def plain(x, dw, b):
        return reference(x, dw, None, None, pads, dil) + b[:, None, None]

    ours = grads(lambda *t: fast.depthwise_conv2d(*t, pads, dil), [x, dw, b])
    for a, e in zip(ours, grads(plain, [x, dw, b])):
        assert_close(a, e)


@pytest.mark.parametrize("op", ["separable", "depthwise"])
def test_gradcheck_float64(op):
    (x, dw, pw, b), pads, dil = tensors(random_case(3), torch.float64, grad=True)
    x = x[:1].detach().requires_grad_()
    if op == "separable":
        inputs = (x, dw, pw, b)
        fn = lambda *t: fast.separable_conv2d(*t, pads, dil)  # noqa: E731
    else:
        inputs = (x, dw, torch.randn(dw.shape[0], dtype=torch.float64, requires_grad=True))
        fn = lambda *t: fast.depthwise_conv2d(*t, pads, dil)  # noqa: E731
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("wanted", [(0,), (1,), (0, 1), (2,)])
@pytest.mark.parametrize("tile", [1 << 19, 64])
def test_some_gradients_whole_images_and_bands(wanted, tile, monkeypatch, assert_close):
    monkeypatch.setattr(_fused, "_TILE_ELEMENTS", tile)  # 64: several bands per image
    (x, dw, pw, b), pads, dil = tensors(random_case(8))
    inputs = [x, dw, pw, b]
    chosen = [inputs[i].requires_grad_() for i in wanted]
    found = torch.autograd.grad(fast.separable_conv2d(*inputs, pads, dil).square().sum(), chosen)
    expected = torch.autograd.grad(reference(*inputs, pads, dil).square().sum(), chosen)
    for a, e in zip(found, expected):
        assert_close(a, e)


def test_only_requested_gradients_and_no_bias(assert_close):
    (x, dw, pw, _), pads, dil = tensors(random_case(5))
    pw.requires_grad_()
    out = fast.separable_conv2d(x, dw, pw, None, pads, dil)
    (g,) = torch.autograd.grad(out.sum(), [pw])  # sum(): an expanded, zero-stride gradient
    pw_ref = pw.detach().requires_grad_()
    (expected,) = torch.autograd.grad(reference(x, dw, pw_ref, None, pads, dil).sum(), [pw_ref])
    assert_close(g, expected)


def test_many_bands_and_threads_agree(monkeypatch, assert_close):
    """Small tiles force several bands per image and both workers; the result must not change."""
    (x, dw, pw, b), pads, dil = tensors(((3, 4, 23, 19), (8, 1, 3, 3), (5, 8, 1, 1), (1, 1, 1, 1), (1, 1)),
                                        grad=True)
    expected = grads(lambda *t: reference(*t, pads, dil), [x, dw, pw, b])
    monkeypatch.setattr(_fused, "_TILE_ELEMENTS", 64)
    monkeypatch.setattr(_fused, "_MIN_WORK", 1)
    before = torch.get_num_threads()
    for threads in (1, 2):
        torch.set_num_threads(threads)
        try:
            ours = grads(lambda *t: fast.separable_conv2d(*t, pads, dil), [x, dw, pw, b])
        finally:
            torch.set_num_threads(before)
        for a, e in zip(ours, expected):
            assert_close(a, e)


def test_workers_leave_the_callers_thread_count_alone(monkeypatch):
    monkeypatch.setattr(_fused, "_MIN_WORK", 1)
    layer = SeparableConv2d(4, 6, 3, padding="same")
    with torch.no_grad():
        layer(torch.randn(4, 4, 16, 16))
    seen = []
    thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    assert seen == [torch.get_num_threads()]


@pytest.mark.parametrize("padding", ["same", "valid", 2, (0, 3)])
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
def test_layers_equal_composition_for_every_padding(padding, padding_mode, assert_close):
    torch.manual_seed(0)
    layer = SeparableConv2d(3, 5, (4, 3), 2, padding=padding, dilation=(1, 2), padding_mode=padding_mode)
    x = torch.randn(2, 3, 11, 10)
    with torch.no_grad():
        expected = layer.pointwise(layer.depthwise(x))
        assert_close(layer(x), expected)
        assert_close(layer(x[0]), expected[0])
        strided = torch.randn(2, 3, 22, 10)[:, :, ::2]
        assert_close(layer(strided), layer.pointwise(layer.depthwise(strided.contiguous())))


def test_fallbacks_stay_exact(assert_close):
    """channels_last, stride 2, float16, ``between`` and empty batches run PyTorch's path."""
    torch.manual_seed(0)
    layer = SeparableConv2d(4, 6, 3, padding="same")
    x = torch.randn(2, 4, 9, 9)
    with torch.no_grad():
        expected = layer.pointwise(layer.depthwise(x))
        last = layer(x.contiguous(memory_format=torch.channels_last))
        assert last.is_contiguous(memory_format=torch.channels_last)
        assert_close(last, expected)
        assert fast.usable(x, (1, 1), [layer.depthwise.weight], None)
        assert not fast.usable(x, (2, 1), [layer.depthwise.weight], None)
        assert not fast.usable(x.half(), (1, 1), [layer.depthwise.weight.half()], None)
        assert layer(x[:0]).shape == (0, 6, 9, 9)
        half = layer.half()(x.half())
        assert half.dtype == torch.float16


def test_small_layers_stay_on_pytorch(monkeypatch):
    monkeypatch.setattr(fast, "MIN_MACS", DEFAULT_MIN_MACS)
    monkeypatch.setattr(fast, "MIN_AREA", DEFAULT_MIN_AREA)
    depthwise, pointwise = torch.empty(128, 1, 3, 3), torch.empty(128, 128, 1, 1)
    assert fast.usable(torch.empty(8, 128, 56, 56), (1, 1), [depthwise, pointwise], None)
    assert fast.usable(torch.empty(1, 128, 56, 56), (1, 1), [depthwise], None)
    assert not fast.usable(torch.empty(1, 16, 16, 16), (1, 1), [depthwise[:16], pointwise[:16, :16]], None)
    assert not fast.usable(torch.empty(8, 128, 7, 7), (1, 1), [depthwise, pointwise], None)
    assert fast.usable(torch.empty(8, 512, 14, 14), (1, 1), [depthwise[:1].expand(512, 1, 3, 3),
                                                             pointwise[:1, :1].expand(512, 512, 1, 1)], None)
    assert not fast.usable(torch.empty(8, 512, 14, 14), (1, 1), [depthwise[:1].expand(512, 1, 3, 3)], None)


def test_operators_on_other_dtypes_compute_the_composition(assert_close):
    (x, dw, pw, b), pads, dil = tensors(random_case(7), torch.bfloat16)
    out = torch.ops.sepconv.separable_conv2d(x, dw, pw, b, list(pads), list(dil))
    assert_close(out, reference(x, dw, pw, b, pads, dil))
    mask = [True, False, True, True]
    found = torch.ops.sepconv.separable_conv2d_backward(
        torch.ones_like(out), x, dw, pw, list(pads), list(dil), mask)
    assert tuple(found[1].shape) == (0,)  # not asked for
    leaves = [t.requires_grad_(m) for t, m in zip((x, dw, pw, b), mask)]
    expected = torch.autograd.grad(reference(*leaves, pads, dil).sum(), [x, pw, b])
    for a, e in zip([found[0], found[2], found[3]], expected):
        assert_close(a, e)


def test_export_compile_and_pickle_keep_the_operator(assert_close):
    torch.manual_seed(0)
    layer = SeparableConv2d(4, 6, 3, depth_multiplier=2, padding="same")
    depthwise = DepthwiseConv2d(4, 5, padding=2)
    x = torch.randn(2, 4, 10, 9)
    with torch.no_grad():
        expected = layer(x)
        program = torch.export.export(layer, (x,))
        assert "sepconv.separable_conv2d" in str(program.graph)
        assert_close(program.module()(x), expected)
        assert_close(pickle.loads(pickle.dumps(layer))(x), expected)
        compiled = torch.compile(depthwise, backend="eager", fullgraph=True)
        assert_close(compiled(x), depthwise(x))
    trained = torch.compile(layer, backend="aot_eager", fullgraph=True)
    x.requires_grad_()
    (g,) = torch.autograd.grad(trained(x).square().sum(), [x])
    plain = reference(x, layer.depthwise.weight, layer.pointwise.weight, layer.pointwise.bias,
                      (1, 1, 1, 1), (1, 1))
    (e,) = torch.autograd.grad(plain.square().sum(), [x])
    assert_close(g, e)


def test_functional_uses_the_fast_operators():
    from torch.fx.experimental.proxy_tensor import make_fx

    x, depthwise, pointwise = torch.randn(1, 3, 8, 8), torch.randn(3, 1, 3, 3), torch.randn(4, 3, 1, 1)
    graph = make_fx(lambda *t: SF.separable_conv2d(*t, padding="same"))(x, depthwise, pointwise).graph
    assert "sepconv.separable_conv2d" in str(graph)
    graph = make_fx(lambda *t: SF.depthwise_conv2d(*t))(x, depthwise).graph
    assert "sepconv.depthwise_conv2d" in str(graph)


def test_profile_measures_the_fast_path():
    from sepconv.nn import profile

    model = torch.nn.Sequential(SeparableConv2d(8, 16, 3, padding="same"), torch.nn.ReLU())
    p = profile(model, (2, 8, 16, 16), measure=True, repeats=3)
    layer = p.layers[0]
    assert layer.kind == "SeparableConv2d" and layer.gmacs is not None and layer.gmacs > 0
    assert "GMAC/s" in str(p) and p.layers[1].macs == 0


def test_operators_refuse_inconsistent_shapes():
    from sepconv import SepconvError

    x, depthwise, pointwise = torch.randn(1, 3, 8, 8), torch.randn(6, 1, 3, 3), torch.randn(4, 6, 1, 1)
    bad = [
        (x, depthwise[:5], pointwise, None, [1, 1, 1, 1], [1, 1]),  # 5 is no multiple of 3
        (x, depthwise, pointwise[:, :5], None, [1, 1, 1, 1], [1, 1]),  # pointwise needs 6 inputs
        (x, depthwise, pointwise, torch.randn(5), [1, 1, 1, 1], [1, 1]),  # bias needs 4
        (x, depthwise, pointwise, None, [0, 0, 0, 0], [5, 1]),  # kernel extent 11 > 8
    ]
    for args in bad:
        with pytest.raises(SepconvError, match="shapes"):
            torch.ops.sepconv.separable_conv2d(*args)
    with pytest.raises(SepconvError, match="shapes"):
        torch.ops.sepconv.depthwise_conv2d(x, depthwise, torch.randn(2), [1, 1, 1, 1], [1, 1])
