"""SpatialSeparableConv2d: a kh×1 convolution then a 1×kw convolution (Inception's factorization).

>>> import torch
>>> from sepconv.nn import SpatialSeparableConv2d
>>> layer = SpatialSeparableConv2d(3, 16, 7, padding="same")
>>> layer(torch.randn(2, 3, 20, 20)).shape
torch.Size([2, 16, 20, 20])
>>> tuple(layer.vertical.weight.shape), tuple(layer.horizontal.weight.shape)
((16, 3, 7, 1), (16, 16, 1, 7))
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sepconv.nn import _script
from sepconv.nn import functional as SF
from sepconv.nn._args import (
    Padding,
    check_padding,
    check_padding_mode,
    int_tuple,
    positive_int,
)
from sepconv.nn._init import uniform_fan_in_
from sepconv.nn._modules import (
    Device,
    check_between,
    check_channels,
    new_parameters,
    options_repr,
)

__all__ = ["SpatialSeparableConv2d"]


class ConvFactor(nn.Module):
    """The weight (and bias) of one step of a :class:`SpatialSeparableConv2d`.

    It has no ``forward`` of its own: the steps run together in the parent's forward, which
    knows the padding, stride and dilation of each axis.
    """

    bias: nn.Parameter | None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, int],
        bias: bool,
        device: Device = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        shape = (out_channels, in_channels, *kernel_size)
        self.weight, bias_parameter = new_parameters(shape, bias, device, dtype)
        self.register_parameter("bias", bias_parameter)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-b, b), b = 1/sqrt(fan_in), fan_in = in_channels · kernel taps."""
        in_channels, kh, kw = self.weight.shape[1:]
        uniform_fan_in_(self.weight, self.bias, int(in_channels * kh * kw))

    def extra_repr(self) -> str:
        out_channels, in_channels, kh, kw = self.weight.shape
        bias = "" if self.bias is not None else ", bias=False"
        return f"{in_channels}, {out_channels}, kernel_size={(kh, kw)}{bias}"


class SpatialSeparableConv2d(nn.Module):
    """A kh×1 convolution C → mid (no bias), then a 1×kw convolution mid → N (with bias).

    ``mid_channels`` defaults to ``out_channels`` (as in Inception's factorized blocks).
    Stride, padding and dilation are given per axis (an int applies to both) and split:
    ``.vertical`` (weight (mid, C, kh, 1)) strides, dilates and pads along H,
    ``.horizontal`` (weight (N, mid, 1, kw), bias (N,)) along W. 'same' follows
    TensorFlow's rule per axis. With ``between=None`` the layer equals one dense kh×kw
    convolution of rank ≤ mid; an optional ``between`` module (e.g. BatchNorm + ReLU) runs
    between the steps. Init: U(-b, b) with ``b = 1/sqrt(C·kh)`` (vertical) and
    ``b = 1/sqrt(mid·kw)`` (horizontal weight and bias).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        mid_channels: int | None = None,
        stride: int | tuple[int, int] = 1,
        padding: Padding = "valid",
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Device = None,
        dtype: torch.dtype | None = None,
        between: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self._in_channels = positive_int("in_channels", in_channels)
        self._out_channels = positive_int("out_channels", out_channels)
        mid = out_channels if mid_channels is None else mid_channels
        self.mid_channels = positive_int("mid_channels", mid)
        kh, kw = int_tuple("kernel_size", kernel_size, 2)
        self.kernel_size = (kh, kw)
        self.stride = int_tuple("stride", stride, 2)
        self.padding = check_padding(padding, 2)
        self.dilation = int_tuple("dilation", dilation, 2)
        self.padding_mode = check_padding_mode(padding_mode)
        self.vertical = ConvFactor(
            self._in_channels, self.mid_channels, (kh, 1), False, device, dtype
        )
        self.between = check_between(between, self.mid_channels)
        self.horizontal = ConvFactor(
            self.mid_channels, self._out_channels, (1, kw), bias, device, dtype
        )

    @property
    def in_channels(self) -> int:
        return self._in_channels

    @property
    def out_channels(self) -> int:
        return self._out_channels

    def reset_parameters(self) -> None:
        """Re-draw both weights and the bias (see the class docstring for the bounds)."""
        self.vertical.reset_parameters()
        self.horizontal.reset_parameters()

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"mid_channels={self.mid_channels}"
            + options_repr(
                self.stride,
                self.padding,
                self.dilation,
                self.padding_mode,
                self.horizontal.bias is not None,
            )
        )

    def __prepare_scriptable__(self) -> nn.Module:
        """What ``torch.jit.script`` compiles instead: PyTorch's path (see sepconv.nn._script)."""
        (sh, sw), (dh, dw), same = self.stride, self.dilation, self.padding == "same"
        ph, pw = (0, 0) if isinstance(self.padding, str) else self.padding
        vertical = _script.ScriptedConv(self.vertical.weight, None, (sh, 1), same,
                                        [(ph, ph), (0, 0)], (dh, 1), self.padding_mode, 1)
        horizontal = _script.ScriptedConv(self.horizontal.weight, self.horizontal.bias, (1, sw),
                                          same, [(0, 0), (pw, pw)], (1, dw), self.padding_mode, 1)
        return _script.chain(vertical, self.between, horizontal)

    def forward(self, input: Tensor) -> Tensor:
        check_channels(self, input, self.in_channels, 2)
        return SF.spatial_separable_conv2d(
            input,
            self.vertical.weight,
            self.horizontal.weight,
            self.horizontal.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.padding_mode,
            self.between,
        )
