"""Exact counts: the seeds' worked examples and hand counts."""

from __future__ import annotations

import pytest

import sepconv
from sepconv import cost, kernels


def test_seeds_valid_example():
    normal = cost.conv((12, 12, 3), 5, 256)
    sep = cost.depthwise_separable((12, 12, 3), 5, 256)
    assert normal.mults == 1_228_800 and normal.output_shape == (8, 8, 256)
    assert (sep.depthwise.mults, sep.pointwise.mults, sep.mults) == (4_800, 49_152, 53_952)
    assert sep.output_shape == (8, 8, 256) and sep.depthwise.output_shape == (8, 8, 3)
    assert sep.params == 3 * 25 + 3 * 256 and normal.params == 25 * 3 * 256


def test_seeds_same_example_and_multiplier():
    normal = cost.conv((12, 12, 3), 5, 256, padding="same")
    sep = cost.depthwise_separable((12, 12, 3), 5, 256, padding="same")
    assert normal.mults == 2_764_800 and normal.output_shape == (12, 12, 256)
    assert (sep.depthwise.mults, sep.pointwise.mults, sep.mults) == (10_800, 110_592, 121_392)
    m2 = cost.depthwise_separable((12, 12, 3), 5, 256, depth_multiplier=2)
    assert m2.depthwise.output_shape == (8, 8, 6)
    assert m2.depthwise.mults == 8 * 8 * 25 * 6 and m2.pointwise.mults == 8 * 8 * 6 * 256


def test_bias_stride_and_spatial_separable():
    assert cost.conv((12, 12, 3), 5, 256, bias=True).params == 25 * 3 * 256 + 256
    assert cost.depthwise_separable((12, 12, 3), 5, 256, bias=True).params == 75 + 768 + 256
    strided = cost.conv((13, 13, 3), 3, 8, stride=2)
    assert strided.output_shape == (6, 6, 8) and strided.mults == 36 * 9 * 3 * 8
    assert cost.conv((13, 13, 3), 3, 8, stride=2, padding="same").output_shape == (7, 7, 8)
    sp = cost.spatial_separable((12, 12, 3), 5, 256)
    # 5×1 from 3 to 256 on 12×12 → 8×12, then 1×5 from 256 to 256 → 8×8
    assert sp.depthwise.mults == 8 * 12 * 5 * 3 * 256
    assert sp.pointwise.mults == 8 * 8 * 5 * 256 * 256
    assert sp.output_shape == (8, 8, 256)
    assert cost.spatial_separable((12, 12, 3), 5, 16, mid_channels=4).params == 5 * 3 * 4 + 5 * 4 * 16


def test_filter_mults():
    assert cost.filter_mults(kernels.sobel().dense()) == {"direct": 9, "separable": 6}
    assert cost.filter_mults(kernels.log(2.0)) == {"direct": 17 * 17, "lowrank": 2 * 34}
    assert cost.filter_mults(kernels.gaussian(1.0, ndim=3)) == {"direct": 9**3, "separable": 27}


@pytest.mark.parametrize("call", [
    lambda: cost.conv((12, 12, 3), 0, 256),
    lambda: cost.conv((12, -12, 3), 5, 256),
    lambda: cost.conv((12, 12, 3), 5, 0),
    lambda: cost.conv((12, 12, 3), 5, 8, stride=0),
    lambda: cost.conv((4, 4, 3), 5, 8),
    lambda: cost.conv((12, 12, 3), 5, 8, padding="full"),
    lambda: cost.depthwise_separable((12, 12, 3), 5, 8, depth_multiplier=0),
    lambda: cost.spatial_separable((12, 12, 12, 3), 5, 8),
    lambda: cost.conv(12, 5, 8),
])
def test_bad_sizes_raise(call):
    with pytest.raises(sepconv.SepconvError):
        call()
