"""Keras weight layouts: hand-built arrays always; real Keras layers when keras (torch backend)
imports."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sepconv import SepconvError  # noqa: E402
from sepconv.nn import (  # noqa: E402
    DepthwiseConv1d,
    DepthwiseConv2d,
    PointwiseConv2d,
    SeparableConv1d,
    SeparableConv2d,
    SeparableConv3d,
    SpatialSeparableConv2d,
    keras_weights,
    load_keras_weights,
)

# keras's Variable.numpy() trips NumPy 2's copy-keyword deprecation; not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def keras_or_skip():
    """keras 3 with the torch backend, or skip (the backend is chosen at first import)."""
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = "torch"
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras was imported with another backend")
    return keras


def distinct(shape):
    """An array whose every entry tells where it is, so a misplaced value cannot hide."""
    return np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) + 1


def test_depthwise_layout_by_hand():
    layer = DepthwiseConv2d(3, (2, 4), depth_multiplier=2)
    kernel, bias = distinct((2, 4, 3, 2)), distinct((6,))
    load_keras_weights(layer, [kernel, bias])
    w = layer.weight.detach().numpy()
    for y, x, c, j in np.ndindex(kernel.shape):
        assert w[c * 2 + j, 0, y, x] == kernel[y, x, c, j]
    np.testing.assert_array_equal(layer.bias.detach().numpy(), bias)
    back = keras_weights(layer)
    np.testing.assert_array_equal(back[0], kernel)
    np.testing.assert_array_equal(back[1], bias)


def test_separable_layout_by_hand():
    layer = SeparableConv1d(2, 5, 3, depth_multiplier=3, bias=False)
    depthwise, pointwise = distinct((3, 2, 3)), distinct((1, 6, 5))
    load_keras_weights(layer, [depthwise, pointwise])
    d = layer.depthwise.weight.detach().numpy()
    p = layer.pointwise.weight.detach().numpy()
    for k, c, j in np.ndindex(depthwise.shape):
        assert d[c * 3 + j, 0, k] == depthwise[k, c, j]
    for i, o in np.ndindex(6, 5):
        assert p[o, i, 0] == pointwise[0, i, o]
    assert [a.shape for a in keras_weights(layer)] == [(3, 2, 3), (1, 6, 5)]
    for got, given in zip(keras_weights(layer), [depthwise, pointwise], strict=True):
        np.testing.assert_array_equal(got, given)


def test_layout_round_trip_3d_and_pointwise():
    for layer in [SeparableConv3d(2, 3, (1, 2, 3), 2), PointwiseConv2d(4, 3)]:
        arrays = keras_weights(layer)
        before = [p.detach().clone() for p in layer.parameters()]
        for p in layer.parameters():
            torch.nn.init.zeros_(p)
        load_keras_weights(layer, arrays)
        for b, p in zip(before, layer.parameters(), strict=True):
            assert torch.equal(b, p.detach())


def test_hand_built_layout_computes_channels_last_correlation(assert_close):
    """Keras's definition written out: out[y, x, c·m+j] = Σ K[dy, dx, c, j] · in[y+dy, x+dx, c]."""
    rng = np.random.default_rng(0)
    image = rng.standard_normal((6, 7, 2)).astype(np.float32)
    kernel = rng.standard_normal((3, 2, 2, 2)).astype(np.float32)
    expected = np.zeros((4, 6, 4), np.float32)
    for y, x, c, j in np.ndindex(4, 6, 2, 2):
        expected[y, x, c * 2 + j] = np.sum(kernel[:, :, c, j] * image[y : y + 3, x : x + 2, c])
    layer = DepthwiseConv2d(2, (3, 2), 2, bias=False)
    load_keras_weights(layer, [kernel])
    with torch.no_grad():
        out = layer(torch.from_numpy(image).permute(2, 0, 1))
    assert_close(out.permute(1, 2, 0), torch.from_numpy(expected))


def test_bad_keras_weights():
    layer = SeparableConv2d(3, 8, 5, depth_multiplier=2)
    good = keras_weights(layer)
    with pytest.raises(SepconvError, match=r"weights: expected a list of 3 arrays"):
        load_keras_weights(layer, good[:2])
    with pytest.raises(SepconvError, match=r"weights\[0\] \(depthwise\): expected shape "):
        load_keras_weights(layer, [np.zeros((5, 5, 3, 1)), *good[1:]])
    with pytest.raises(SepconvError, match=r"weights\[1\] \(pointwise\).*\(1, 1, 6, 8\)"):
        load_keras_weights(layer, [good[0], np.zeros((1, 1, 8, 6)), good[2]])
    with pytest.raises(SepconvError, match="SpatialSeparableConv2d has no Keras counterpart"):
        keras_weights(SpatialSeparableConv2d(3, 4, 3))
    with_between = SeparableConv2d(3, 8, 5, between=torch.nn.ReLU())
    with pytest.raises(SepconvError, match=r"module\.depthwise and module\.pointwise"):
        keras_weights(with_between)
    before = [p.detach().clone() for p in layer.parameters()]
    with pytest.raises(SepconvError):
        load_keras_weights(layer, [good[0], good[1], np.zeros(7)])
    assert all(torch.equal(b, p) for b, p in zip(before, layer.parameters(), strict=True))


KERAS_2D = [
    {"padding": "valid", "strides": 1, "depth_multiplier": 1, "kernel": (5, 5)},
    {"padding": "same", "strides": 2, "depth_multiplier": 2, "kernel": (4, 3)},
    {"padding": "same", "strides": 1, "depth_multiplier": 3, "kernel": (2, 2)},
    {"padding": "valid", "strides": (2, 3), "depth_multiplier": 1, "kernel": (3, 3)},
    {"padding": "same", "dilation": 2, "depth_multiplier": 2, "kernel": (3, 2)},
]


def keras_call(keras, layer, x):
    return torch.as_tensor(keras.ops.convert_to_numpy(layer(x)))


@pytest.mark.parametrize("case", KERAS_2D)
def test_real_keras_separable_conv2d(case, assert_close):
    keras = keras_or_skip()
    kh, kw = case["kernel"]
    stride, dilation = case.get("strides", 1), case.get("dilation", 1)
    k_layer = keras.layers.SeparableConv2D(
        5,
        (kh, kw),
        strides=stride,
        padding=case["padding"],
        dilation_rate=dilation,
        depth_multiplier=case["depth_multiplier"],
        bias_initializer="random_normal",
    )
    x = np.random.default_rng(1).standard_normal((2, 11, 10, 3)).astype(np.float32)
    expected = keras_call(keras, k_layer, x)
    layer = SeparableConv2d(
        3, 5, (kh, kw), case["depth_multiplier"], stride, case["padding"], dilation
    )
    load_keras_weights(layer, k_layer.get_weights())
    with torch.no_grad():
        out = layer(torch.from_numpy(x).permute(0, 3, 1, 2))
    assert_close(out.permute(0, 2, 3, 1), expected)
    k_layer.set_weights(keras_weights(SeparableConv2d(3, 5, (kh, kw), case["depth_multiplier"])))


@pytest.mark.parametrize("case", KERAS_2D[:3])
def test_real_keras_depthwise_conv2d(case, assert_close):
    keras = keras_or_skip()
    layer = DepthwiseConv2d(
        3, case["kernel"], case["depth_multiplier"], case["strides"], case["padding"]
    )
    k_layer = keras.layers.DepthwiseConv2D(
        case["kernel"],
        case["strides"],
        case["padding"],
        depth_multiplier=case["depth_multiplier"],
    )
    x = np.random.default_rng(2).standard_normal((1, 9, 8, 3)).astype(np.float32)
    k_layer.build(x.shape)
    k_layer.set_weights(keras_weights(layer))  # the other direction: ours into Keras
    expected = keras_call(keras, k_layer, x)
    with torch.no_grad():
        out = layer(torch.from_numpy(x).permute(0, 3, 1, 2))
    assert_close(out.permute(0, 2, 3, 1), expected)


def test_real_keras_1d_layers(assert_close):
    keras = keras_or_skip()
    x = np.random.default_rng(3).standard_normal((2, 13, 3)).astype(np.float32)
    k_sep = keras.layers.SeparableConv1D(4, 4, strides=2, padding="same", depth_multiplier=2)
    k_dw = keras.layers.DepthwiseConv1D(3, padding="valid", depth_multiplier=2, use_bias=False)
    pairs = [
        (k_sep, SeparableConv1d(3, 4, 4, 2, stride=2, padding="same")),
        (k_dw, DepthwiseConv1d(3, 3, 2, bias=False)),
    ]
    for k_layer, layer in pairs:
        expected = keras_call(keras, k_layer, x)
        load_keras_weights(layer, k_layer.get_weights())
        with torch.no_grad():
            out = layer(torch.from_numpy(x).permute(0, 2, 1))
        assert_close(out.permute(0, 2, 1), expected)
