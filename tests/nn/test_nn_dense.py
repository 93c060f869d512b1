"""The layers against independent references: a dense convolution with the product weight on an
input padded by NumPy, nn.Conv2d's own padding, scipy.ndimage's 'mirror' mode."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sepconv.nn import (  # noqa: E402
    DepthwiseConv1d,
    DepthwiseConv2d,
    DepthwiseConv3d,
    SeparableConv1d,
    SeparableConv2d,
    SeparableConv3d,
    SpatialSeparableConv2d,
)

F = torch.nn.functional
DEPTHWISE = {1: DepthwiseConv1d, 2: DepthwiseConv2d, 3: DepthwiseConv3d}
SEPARABLE = {1: SeparableConv1d, 2: SeparableConv2d, 3: SeparableConv3d}
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
NUMPY_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def tf_same_pads(length, kernel, stride, dilation):
    """TensorFlow's 'same' rule, written out again here as the test's own reference."""
    out = math.ceil(length / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - length, 0)
    return total // 2, total - total // 2


def numpy_padded(x, pads, padding_mode):
    """Pad the spatial axes of (N, C, *spatial) with numpy.pad (independent of F.pad)."""
    width = [(0, 0), (0, 0), *pads]
    return torch.from_numpy(np.pad(x.numpy(), width, mode=NUMPY_MODE[padding_mode]))


def product_weight(depthwise, pointwise, channels):
    """W[o, c, ...] = Σ_j P[o, c·m + j] · D[c·m + j, 0, ...]."""
    spatial = depthwise.shape[2:]
    d = depthwise.reshape(channels, -1, *spatial)
    p = pointwise.reshape(pointwise.shape[0], channels, -1)
    return torch.einsum("ncm,cm...->nc...", p, d)


def block_diagonal(depthwise, channels):
    """The depthwise weight as a dense (C·m, C, *k) weight with zeros off the own channel."""
    out_channels = depthwise.shape[0]
    dense = torch.zeros(out_channels, channels, *depthwise.shape[2:], dtype=depthwise.dtype)
    for o in range(out_channels):
        dense[o, o // (out_channels // channels)] = depthwise[o, 0]
    return dense


@st.composite
def configurations(draw):
    ndim = draw(st.sampled_from([1, 2, 3]))
    top = {1: 6, 2: 4, 3: 3}[ndim]
    kernel = tuple(draw(st.integers(1, top)) for _ in range(ndim))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(ndim))
    padding = draw(st.sampled_from(["valid", "same", 0, 1, 2]))
    mode = draw(st.sampled_from(sorted(NUMPY_MODE)))
    spatial = tuple(
        (k - 1) * d + 1 + draw(st.integers(0, 5)) for k, d in zip(kernel, dilation, strict=True)
    )
    channels, multiplier = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return ndim, kernel, stride, dilation, padding, mode, spatial, channels, multiplier


def reference_pads(spatial, kernel, stride, dilation, padding):
    if padding == "same":
        return [tf_same_pads(*a) for a in zip(spatial, kernel, stride, dilation, strict=True)]
    if padding == "valid":
        return [(0, 0)] * len(spatial)
    return [(padding, padding)] * len(spatial)


@settings(max_examples=80, deadline=None)
@given(config=configurations(), out_channels=st.integers(1, 4), batch=st.integers(1, 2))
def test_separable_equals_dense_conv_with_product_weight(config, out_channels, batch):
    ndim, kernel, stride, dilation, padding, mode, spatial, channels, m = config
    pads = reference_pads(spatial, kernel, stride, dilation, padding)
    if mode == "reflect":
        assume(all(max(p) < n for p, n in zip(pads, spatial, strict=True)))
    if mode == "circular":
        assume(all(max(p) <= n for p, n in zip(pads, spatial, strict=True)))
    layer = SEPARABLE[ndim](
        channels,
        out_channels,
        kernel,
        m,
        stride,
        padding,
        dilation,
        padding_mode=mode,
        dtype=torch.float64,
    )
    x = torch.randn(batch, channels, *spatial, dtype=torch.float64)
    dw, pw = layer.depthwise.weight.detach(), layer.pointwise.weight.detach()
    dense = product_weight(dw, pw, channels)
    padded = numpy_padded(x, pads, mode)
    expected = CONV[ndim](padded, dense, layer.pointwise.bias.detach(), stride, 0, dilation)
    with torch.no_grad():
        actual = layer(x)
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-12)
    depthwise_expected = CONV[ndim](padded, block_diagonal(dw, channels), None, stride, 0, dilation)
    with torch.no_grad():
        torch.testing.assert_close(layer.depthwise(x), depthwise_expected, rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("mode", sorted(NUMPY_MODE))
@pytest.mark.parametrize("padding", [1, (2, 0), "same"])
def test_depthwise_matches_nn_conv2d_padding(mode, padding, assert_close):
    """Symmetric padding and stride-1 'same' exactly as nn.Conv2d does them (odd and even k)."""
    torch.manual_seed(0)
    for kernel in [(3, 4), (2, 5)]:
        layer = DepthwiseConv2d(3, kernel, 2, padding=padding, padding_mode=mode, dilation=(1, 2))
        conv = torch.nn.Conv2d(
            3, 6, kernel, padding=padding, dilation=(1, 2), groups=3, padding_mode=mode
        )
        with torch.no_grad():
            conv.weight.copy_(layer.weight)
            conv.bias.copy_(layer.bias)
            x = torch.randn(2, 3, 9, 10)
            assert_close(layer(x), conv(x))


@pytest.mark.parametrize(
    ("length", "kernel", "stride", "dilation", "pads"),
    [
        (7, 3, 1, 1, (1, 1)),
        (7, 4, 1, 1, (1, 2)),  # even kernel: the odd pixel at the end
        (7, 3, 2, 1, (1, 1)),
        (8, 3, 2, 1, (0, 1)),  # stride 2: total 1, all of it at the end
        (8, 4, 2, 1, (1, 1)),
        (9, 4, 3, 1, (0, 1)),
        (5, 1, 3, 1, (0, 0)),
        (6, 3, 1, 2, (2, 2)),
        (10, 5, 4, 1, (1, 2)),
    ],
)
def test_same_padding_follows_tensorflow(length, kernel, stride, dilation, pads, assert_close):
    """Hand-computed TensorFlow pads; output length ceil(L / s)."""
    assert tf_same_pads(length, kernel, stride, dilation) == pads
    layer = DepthwiseConv1d(2, kernel, stride=stride, padding="same", dilation=dilation)
    x = torch.randn(1, 2, length)
    with torch.no_grad():
        out = layer(x)
        expected = F.conv1d(F.pad(x, pads), layer.weight, layer.bias, stride, 0, dilation, 2)
    assert out.shape[-1] == math.ceil(length / stride)
    assert_close(out, expected)


@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_reflect_is_scipy_mirror(kernel):
    """padding_mode='reflect' (PyTorch) is scipy.ndimage's 'mirror' (the core's 'mirror')."""
    ndimage = pytest.importorskip("scipy.ndimage")
    torch.manual_seed(kernel)
    layer = DepthwiseConv2d(1, kernel, padding="same", padding_mode="reflect", bias=False)
    x = torch.randn(1, 1, 7, 9, dtype=torch.float32)
    with torch.no_grad():
        actual = layer(x)[0, 0].numpy()
    weights = layer.weight.detach()[0, 0].numpy()
    expected = ndimage.correlate(x[0, 0].numpy().astype(np.float64), weights, mode="mirror")
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
    differs = ndimage.correlate(x[0, 0].numpy().astype(np.float64), weights, mode="reflect")
    if kernel > 1:  # scipy's 'reflect' (numpy 'symmetric') is a different border
        assert not np.allclose(actual, differs, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(
    kernel=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    padding=st.sampled_from(["valid", "same", 1, (2, 0)]),
    mode=st.sampled_from(sorted(NUMPY_MODE)),
    mid=st.integers(1, 4),
)
def test_spatial_separable_equals_dense_rank_mid_conv(kernel, stride, dilation, padding, mode, mid):
    spatial = (11, 10)
    layer = SpatialSeparableConv2d(
        2, 3, kernel, mid, stride, padding, dilation, padding_mode=mode, dtype=torch.float64
    )
    x = torch.randn(2, 2, *spatial, dtype=torch.float64)
    vertical = layer.vertical.weight.detach()[:, :, :, 0]  # (mid, C, kh)
    horizontal = layer.horizontal.weight.detach()[:, :, 0, :]  # (N, mid, kw)
    dense = torch.einsum("nmx,mcy->ncyx", horizontal, vertical)
    if isinstance(padding, tuple):
        pads = [(p, p) for p in padding]
    else:
        pads = reference_pads(spatial, kernel, stride, dilation, padding)
    expected = F.conv2d(
        numpy_padded(x, pads, mode), dense, layer.horizontal.bias.detach(), stride, 0, dilation
    )
    with torch.no_grad():
        torch.testing.assert_close(layer(x), expected, rtol=1e-10, atol=1e-12)
