"""Shapes, attributes, repr, function == module, and the kornia checklist for every layer."""

from __future__ import annotations

import copy
import pickle

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from sepconv.nn import (  # noqa: E402
    DepthwiseConv1d,
    DepthwiseConv2d,
    DepthwiseConv3d,
    PointwiseConv1d,
    PointwiseConv2d,
    PointwiseConv3d,
    SeparableConv1d,
    SeparableConv2d,
    SeparableConv3d,
    SpatialSeparableConv2d,
)
from sepconv.nn import functional as SF  # noqa: E402


def seed_input():
    """The seeds' 12×12×3 image as a PyTorch batch (N, C, H, W)."""
    return torch.randn(1, 3, 12, 12)


def test_seed_depthwise_5x5_gives_8x8x3():
    layer = DepthwiseConv2d(3, 5)
    assert layer(seed_input()).shape == (1, 3, 8, 8)
    assert layer.weight.shape == (3, 1, 5, 5)


def test_seed_depth_multiplier_2_gives_8x8x6():
    layer = DepthwiseConv2d(3, 5, depth_multiplier=2)
    assert layer(seed_input()).shape == (1, 6, 8, 8)


def test_seed_separable_to_256_filters():
    layer = SeparableConv2d(3, 256, 5, bias=False)
    assert layer(seed_input()).shape == (1, 256, 8, 8)
    assert layer.depthwise.weight.shape == (3, 1, 5, 5)
    assert layer.pointwise.weight.shape == (256, 3, 1, 1)
    assert sum(p.numel() for p in layer.parameters()) == 3 * 25 + 3 * 256


def make_layers(dtype=torch.float32):
    """One layer of each kind and dimension, with its input; odd sizes, non-default options."""
    kw = {"dtype": dtype}
    return [
        (DepthwiseConv1d(3, 4, 2, stride=2, padding="same", **kw), torch.randn(2, 3, 11)),
        (DepthwiseConv2d(3, (3, 2), 2, padding="same", padding_mode="reflect", **kw), (2, 3, 7, 6)),
        (DepthwiseConv3d(2, 3, 1, padding=1, padding_mode="circular", **kw), (1, 2, 5, 4, 3)),
        (PointwiseConv1d(3, 5, **kw), (2, 3, 7)),
        (PointwiseConv2d(3, 5, bias=False, **kw), (2, 3, 5, 4)),
        (PointwiseConv3d(3, 5, **kw), (1, 3, 3, 4, 2)),
        (SeparableConv1d(3, 4, 3, 2, padding="same", padding_mode="replicate", **kw), (2, 3, 9)),
        (SeparableConv2d(3, 4, 3, 2, stride=2, padding="same", dilation=1, **kw), (2, 3, 9, 8)),
        (SeparableConv3d(2, 3, (1, 2, 3), 2, dilation=(1, 2, 1), **kw), (1, 2, 4, 5, 6)),
        (SpatialSeparableConv2d(3, 4, (3, 5), 2, (2, 1), "same", **kw), (2, 3, 9, 7)),
    ]


def layers_and_inputs(dtype=torch.float32):
    torch.manual_seed(0)
    for layer, shape in make_layers(dtype):
        x = shape if isinstance(shape, torch.Tensor) else torch.randn(shape)
        yield layer, x.to(dtype)


IDS = [type(layer).__name__ for layer, _ in make_layers()]


def call_function(layer, x):
    """The layer's computation through sepconv.nn.functional, with its own parameters."""
    if isinstance(layer, SpatialSeparableConv2d):
        return SF.spatial_separable_conv2d(
            x,
            layer.vertical.weight,
            layer.horizontal.weight,
            layer.horizontal.bias,
            layer.stride,
            layer.padding,
            layer.dilation,
            layer.padding_mode,
        )
    n = layer.ndim
    if isinstance(layer, SeparableConv1d | SeparableConv2d | SeparableConv3d):
        fn = getattr(SF, f"separable_conv{n}d")
        return fn(
            x,
            layer.depthwise.weight,
            layer.pointwise.weight,
            layer.pointwise.bias,
            layer.stride,
            layer.padding,
            layer.dilation,
            layer.padding_mode,
        )
    if isinstance(layer, PointwiseConv1d | PointwiseConv2d | PointwiseConv3d):
        return getattr(SF, f"pointwise_conv{n}d")(x, layer.weight, layer.bias)
    fn = getattr(SF, f"depthwise_conv{n}d")
    return fn(
        x, layer.weight, layer.bias, layer.stride, layer.padding, layer.dilation, layer.padding_mode
    )


def expected_shape(layer, x):
    """Output shape from the layer's options, computed independently of the code under test."""
    ones = (1,) * (x.ndim - 2)
    kernel = getattr(layer, "kernel_size", ones)
    stride = getattr(layer, "stride", ones)
    dilation = getattr(layer, "dilation", ones)
    padding = getattr(layer, "padding", "valid")
    spatial = []
    for i, length in enumerate(x.shape[2:]):
        if padding == "same":
            spatial.append(-(-length // stride[i]))
            continue
        pad = 0 if padding == "valid" else 2 * padding[i]
        extent = (kernel[i] - 1) * dilation[i] + 1
        spatial.append((length + pad - extent) // stride[i] + 1)
    return (x.shape[0], layer.out_channels, *spatial)


@pytest.mark.parametrize("index", range(len(IDS)), ids=IDS)
def test_shape_function_equals_module(index, assert_close):
    layer, x = list(layers_and_inputs())[index]
    with torch.no_grad():
        out = layer(x)
        assert out.shape == expected_shape(layer, x)
        assert_close(out, call_function(layer, x))
        unbatched = layer(x[0])
    assert_close(unbatched, out[0])


@pytest.mark.parametrize("index", range(len(IDS)), ids=IDS)
def test_gradcheck_float64(index):
    layer, x = list(layers_and_inputs(torch.float64))[index]
    x = x[:1].clone().requires_grad_(True)
    params = [p for p in layer.parameters()]

    def run(x, *values):
        replaced = dict(zip([n for n, _ in layer.named_parameters()], values, strict=True))
        return torch.func.functional_call(layer, replaced, (x,))

    assert torch.autograd.gradcheck(run, (x, *params), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("index", range(len(IDS)), ids=IDS)
def test_non_contiguous_and_channels_last_inputs(index, assert_close):
    layer, x = list(layers_and_inputs())[index]
    with torch.no_grad():
        expected = layer(x)
        spatial_flipped = x.transpose(-1, -2).contiguous().transpose(-1, -2)
        strided = torch.repeat_interleave(x, 2, dim=1)[:, ::2]
        assert not strided.is_contiguous()
        assert_close(layer(strided), expected)
        if x.ndim in (4, 5):
            assert not spatial_flipped.is_contiguous()
            assert_close(layer(spatial_flipped), expected)
            fmt = torch.channels_last if x.ndim == 4 else torch.channels_last_3d
            last = copy.deepcopy(layer).to(memory_format=fmt)
            assert_close(last(x.to(memory_format=fmt)), expected)


@pytest.mark.parametrize("index", range(len(IDS)), ids=IDS)
def test_state_dict_and_pickle_round_trip(index, assert_close):
    layer, x = list(layers_and_inputs())[index]
    fresh = copy.deepcopy(layer)
    fresh.reset_parameters()
    fresh.load_state_dict(layer.state_dict())
    restored = pickle.loads(pickle.dumps(layer))
    with torch.no_grad():
        assert_close(fresh(x), layer(x))
        assert_close(restored(x), layer(x))
    assert repr(restored) == repr(layer)


def test_separable_submodules_and_between(assert_close):
    between = nn.Sequential(nn.BatchNorm2d(6), nn.ReLU())
    layer = SeparableConv2d(3, 8, 3, 2, padding="same", between=between).eval()
    x = torch.randn(2, 3, 10, 9)
    with torch.no_grad():
        layer.between[0].running_mean.uniform_(-1, 1)
        assert_close(layer(x), layer.pointwise(between(layer.depthwise(x))))
        plain = SeparableConv2d(3, 8, 3, 2, padding="same")
        plain.load_state_dict(layer.state_dict(), strict=False)
        assert_close(plain(x), layer.pointwise(layer.depthwise(x)))
    assert set(layer.state_dict()) >= {"depthwise.weight", "pointwise.weight", "pointwise.bias"}
    assert "between.0.running_mean" in layer.state_dict()
    assert layer.depthwise.bias is None


def test_attributes_and_repr():
    layer = SeparableConv2d(3, 16, (3, 5), 2, stride=(2, 1), padding="same", bias=False)
    assert (layer.in_channels, layer.out_channels, layer.depth_multiplier) == (3, 16, 2)
    assert layer.kernel_size == (3, 5) and layer.stride == (2, 1) and layer.dilation == (1, 1)
    assert layer.padding == "same" and layer.padding_mode == "zeros"
    assert repr(layer).splitlines()[1].strip() == (
        "3, 16, kernel_size=(3, 5), depth_multiplier=2, stride=(2, 1), padding='same', bias=False"
    )
    dw = DepthwiseConv1d(4, 3, padding=2, padding_mode="circular", dilation=2)
    assert repr(dw) == (
        "DepthwiseConv1d(4, kernel_size=(3,), depth_multiplier=1, padding=(2,), dilation=(2,), "
        "padding_mode='circular')"
    )
    assert (dw.in_channels, dw.out_channels) == (4, 4)
    assert repr(PointwiseConv3d(2, 5, bias=False)) == "PointwiseConv3d(2, 5, bias=False)"
    spatial = SpatialSeparableConv2d(3, 8, (1, 7))
    assert (spatial.in_channels, spatial.out_channels, spatial.mid_channels) == (3, 8, 8)
    assert spatial.vertical.weight.shape == (8, 3, 1, 1)
    assert spatial.horizontal.weight.shape == (8, 8, 1, 7)
    assert repr(spatial).splitlines()[1].strip() == "3, 8, kernel_size=(1, 7), mid_channels=8"


def test_factory_arguments():
    layer = SeparableConv1d(2, 3, 3, device="cpu", dtype=torch.float64)
    assert {p.dtype for p in layer.parameters()} == {torch.float64}
    spatial = SpatialSeparableConv2d(2, 3, 3, dtype=torch.float16)
    assert {p.dtype for p in spatial.parameters()} == {torch.float16}


def test_torch_compile_smoke_eager_backend(assert_close):
    layer = SeparableConv2d(3, 4, 3, 2, stride=2, padding="same", padding_mode="reflect")
    x = torch.randn(2, 3, 9, 8)
    compiled = torch.compile(layer, backend="eager", fullgraph=True)
    with torch.no_grad():
        assert_close(compiled(x), layer(x))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_torch_compile_inductor(assert_close):
    layer = SeparableConv2d(3, 4, 3, 2, stride=2, padding="same")
    x = torch.randn(2, 3, 9, 8)
    compiled = torch.compile(layer, fullgraph=True)
    with torch.no_grad():
        assert_close(compiled(x), layer(x))


def test_torch_export_smoke(assert_close):
    layer = SeparableConv2d(3, 4, 4, 2, stride=2, padding="same", padding_mode="replicate")
    x = torch.randn(2, 3, 9, 8)
    program = torch.export.export(layer, (x,))
    with torch.no_grad():
        assert_close(program.module()(x), layer(x))
