"""Initialization: PyTorch's default scheme with the true fans, checked statistically.

U(-b, b) with b = 1/sqrt(fan_in) has variance b²/3 = 1/(3·fan_in). On 10⁵ draws the sample
variance of a uniform has a relative standard error of sqrt(0.8/n) ≈ 0.3 %; the tolerance of 3 %
is about ten standard errors, yet far tighter than any wrong fan (a factor C or more).
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from sepconv.nn import (  # noqa: E402
    DepthwiseConv2d,
    DepthwiseConv3d,
    PointwiseConv2d,
    SeparableConv1d,
    SpatialSeparableConv2d,
)

RELATIVE_TOLERANCE = 0.03


def check_uniform(values, fan_in):
    bound = 1 / math.sqrt(fan_in)
    values = values.detach().double().flatten()
    assert values.abs().max() <= bound
    variance = values.var().item()
    assert variance == pytest.approx(bound**2 / 3, rel=RELATIVE_TOLERANCE)


def check_bias(bias, fan_in):
    bound = 1 / math.sqrt(fan_in)
    assert bias.abs().max() <= bound
    assert bias.abs().max() > bound / 2  # drawn over the whole range, not zeros


def test_depthwise_fan_in_is_kernel_taps():
    torch.manual_seed(0)
    layer = DepthwiseConv2d(512, 7, depth_multiplier=4)  # 100,352 weights
    check_uniform(layer.weight, 7 * 7)
    check_bias(layer.bias, 7 * 7)


def test_depthwise_3d_fan_in():
    torch.manual_seed(1)
    layer = DepthwiseConv3d(1000, (3, 5, 7))  # 105,000 weights
    check_uniform(layer.weight, 3 * 5 * 7)


def test_pointwise_fan_in_is_input_channels():
    torch.manual_seed(2)
    layer = PointwiseConv2d(300, 400)  # 120,000 weights
    check_uniform(layer.weight, 300)
    check_bias(layer.bias, 300)


def test_separable_parts_use_their_own_fans():
    torch.manual_seed(3)
    layer = SeparableConv1d(1000, 100, 9, depth_multiplier=12)  # C·m = 12,000
    check_uniform(layer.depthwise.weight, 9)
    check_uniform(layer.pointwise.weight, 12_000)
    check_bias(layer.pointwise.bias, 12_000)


def test_spatial_separable_fans():
    torch.manual_seed(4)
    layer = SpatialSeparableConv2d(100, 200, (5, 3), mid_channels=250)
    check_uniform(layer.vertical.weight, 100 * 5)
    check_uniform(layer.horizontal.weight, 250 * 3)
    check_bias(layer.horizontal.bias, 250 * 3)


def test_reset_parameters_redraws():
    layer = SeparableConv1d(4, 4, 3)
    before = [p.detach().clone() for p in layer.parameters()]
    layer.reset_parameters()
    assert not any(torch.equal(b, p) for b, p in zip(before, layer.parameters(), strict=True))
