"""Every bad input raises a SepconvError naming the argument, expected, received and the fix."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sepconv import SepconvError  # noqa: E402
from sepconv.nn import (  # noqa: E402
    DepthwiseConv1d,
    DepthwiseConv2d,
    PointwiseConv2d,
    SeparableConv2d,
    SpatialSeparableConv2d,
)
from sepconv.nn import functional as SF  # noqa: E402

CONSTRUCTOR_CASES = [
    ({"depth_multiplier": 0}, r"depth_multiplier: expected a positive int, received 0"),
    ({"depth_multiplier": -2}, r"depth_multiplier: .*received -2"),
    ({"depth_multiplier": True}, r"depth_multiplier: .*received True"),
    ({"depth_multiplier": 1.5}, r"depth_multiplier: .*received 1\.5"),
    ({"depth_multiplier": "2"}, r"depth_multiplier: .*received '2'"),
    ({"kernel_size": 0}, r"kernel_size: expected an int >= 1 or a tuple of 2"),
    ({"kernel_size": (3, 0)}, r"kernel_size: .*received \(3, 0\)"),
    ({"kernel_size": (3, 3, 3)}, r"kernel_size: .*tuple of 2 such ints"),
    ({"kernel_size": (3, True)}, r"kernel_size: .*received \(3, True\)"),
    ({"stride": 0}, r"stride: .*received 0; pass stride as one int or 2 ints, each >= 1"),
    ({"dilation": (1, -1)}, r"dilation: .*received \(1, -1\)"),
    ({"padding": "sme"}, r"padding: expected one of \('same', 'valid'\).*did you mean 'same'"),
    ({"padding": "vaild"}, r"did you mean 'valid'"),
    ({"padding": -1}, r"padding: expected an int >= 0 .*received -1"),
    ({"padding": (1, 2, 3)}, r"padding: .*tuple of 2 such ints, received \(1, 2, 3\)"),
    ({"padding": None}, r"padding: expected 'valid', 'same', an int"),
    ({"padding_mode": "mirror"}, r"padding_mode: .*received 'mirror'.*use 'reflect'"),
    ({"padding_mode": "reflekt"}, r"padding_mode: expected one of \('circular', 'reflect', "),
    ({"in_channels": 0}, r"in_channels: expected a positive int, received 0"),
]


@pytest.mark.parametrize(("kwargs", "message"), CONSTRUCTOR_CASES)
def test_constructor_arguments(kwargs, message):
    arguments = {"in_channels": 3, "kernel_size": 3} | kwargs
    with pytest.raises(SepconvError, match=message):
        DepthwiseConv2d(**arguments)
    separable = {"out_channels": 4} | arguments
    with pytest.raises(SepconvError, match=message):
        SeparableConv2d(**separable)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SeparableConv2d(3, 0, 3), r"out_channels: expected a positive int"),
        (lambda: PointwiseConv2d(3, -1), r"out_channels: .*received -1"),
        (lambda: SpatialSeparableConv2d(3, 4, 3, mid_channels=0), r"mid_channels: .*received 0"),
        (lambda: SpatialSeparableConv2d(3, 4, (3, 0)), r"kernel_size: .*received \(3, 0\)"),
        (lambda: SeparableConv2d(3, 4, 3, between=torch.relu), r"between: expected an nn.Module"),
    ],
)
def test_other_constructor_arguments(build, message):
    with pytest.raises(SepconvError, match=message):
        build()


def test_same_with_stride_is_allowed():
    layer = SeparableConv2d(3, 4, 4, stride=3, padding="same", dilation=1)
    assert layer(torch.randn(1, 3, 10, 11)).shape == (1, 4, 4, 4)


def test_wrong_channel_count_names_layer_and_shapes():
    layer = DepthwiseConv2d(3, 5)
    with pytest.raises(SepconvError) as info:
        layer(torch.randn(1, 4, 12, 12))
    text = str(info.value)
    assert text.startswith("input: expected shape (N, 3, H, W) for DepthwiseConv2d(3, kernel_size")
    assert "received (1, 4, 12, 12)" in text
    assert "channels (dim 1) or build the layer with in_channels=4" in text
    for layer in [SeparableConv2d(3, 8, 3), SpatialSeparableConv2d(3, 8, 3), PointwiseConv2d(3, 8)]:
        with pytest.raises(
            SepconvError, match=rf"(?s){type(layer).__name__}\(.*received \(4, 5, 5\).*\(dim 0\)"
        ):
            layer(torch.randn(4, 5, 5))  # unbatched, 4 channels


def test_wrong_input_rank_and_type():
    with pytest.raises(SepconvError, match=r"input: expected a 4-D \(N, C, H, W\) or 3-D"):
        DepthwiseConv2d(3, 3)(torch.randn(1, 1, 3, 8, 8))
    with pytest.raises(SepconvError, match=r"input: expected a 3-D .*use the 2-D layer"):
        DepthwiseConv1d(3, 3)(torch.randn(1, 3, 8, 8))
    with pytest.raises(SepconvError, match=r"input: expected a torch.Tensor, received 'ndarray'"):
        DepthwiseConv2d(3, 3)(np.zeros((1, 3, 8, 8), np.float32))


def test_kernel_larger_than_padded_input():
    with pytest.raises(SepconvError, match=r"kernel_size: .*padded length 4 of spatial axis 0"):
        DepthwiseConv2d(3, 5)(torch.randn(1, 3, 4, 12))
    with pytest.raises(SepconvError, match=r"kernel_size: .*padded length 6.*received 7"):
        DepthwiseConv2d(3, 4, padding=1, dilation=2)(torch.randn(1, 3, 12, 4))
    with pytest.raises(SepconvError, match=r"kernel_size: .*received 5"):
        SpatialSeparableConv2d(3, 4, (1, 5))(torch.randn(1, 3, 8, 4))
    DepthwiseConv2d(3, 5, padding=1)(torch.randn(1, 3, 3, 3))  # 3 + 2 >= 5: fine


def test_padding_too_wide_for_mode():
    with pytest.raises(SepconvError, match=r"padding: expected pads smaller than .* length 3"):
        DepthwiseConv2d(3, 3, padding=3, padding_mode="reflect")(torch.randn(1, 3, 3, 12))
    with pytest.raises(SepconvError, match=r"padding: expected pads at most .*'circular'"):
        DepthwiseConv1d(1, 9, padding=4, padding_mode="circular")(torch.randn(1, 1, 3))


def test_functional_weight_shapes():
    x = torch.randn(1, 3, 6, 6)
    with pytest.raises(SepconvError, match=r"weight: expected shape \(3·m, 1, k, k\)"):
        SF.depthwise_conv2d(x, torch.randn(6, 2, 3, 3))
    with pytest.raises(SepconvError, match=r"weight: .*received \(4, 1, 3, 3\)"):
        SF.depthwise_conv2d(x, torch.randn(4, 1, 3, 3))
    with pytest.raises(SepconvError, match=r"pointwise_weight: expected shape \(N, 6, 1, 1\)"):
        SF.separable_conv2d(x, torch.randn(6, 1, 3, 3), torch.randn(4, 5, 1, 1))
    with pytest.raises(SepconvError, match=r"depthwise_weight: .*received 'list'"):
        SF.separable_conv2d(x, [1.0], torch.randn(4, 3, 1, 1))
    with pytest.raises(SepconvError, match=r"weight: expected shape \(N, 3, 1, 1\)"):
        SF.pointwise_conv2d(x, torch.randn(4, 3, 3, 3))
    with pytest.raises(SepconvError, match=r"vertical_weight: expected shape \(mid, 3, kh, 1\)"):
        SF.spatial_separable_conv2d(x, torch.randn(4, 3, 1, 3), torch.randn(5, 4, 1, 3))
    with pytest.raises(SepconvError, match=r"horizontal_weight: expected shape \(N, 4, 1, kw\)"):
        SF.spatial_separable_conv2d(x, torch.randn(4, 3, 3, 1), torch.randn(5, 3, 1, 3))


def test_errors_are_value_errors():
    with pytest.raises(ValueError, match="depth_multiplier"):
        DepthwiseConv2d(3, 3, depth_multiplier=0)


def test_import_without_torch_says_how_to_install():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "try:\n    import sepconv.nn\n"
        "except ImportError as error:\n    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "sepconv.nn needs PyTorch: pip install 'sepconv[torch]'"
