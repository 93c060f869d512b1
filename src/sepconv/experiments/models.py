"""The small CNN of both studies, in a normal and a depthwise separable family.

Same topology in both families, four 3×3 convolutions, each followed by BatchNorm and ReLU::

    stem  conv 1 → w
    body  conv w → w, max-pool 2, conv w → 2w, conv 2w → 2w, max-pool 2
    head  global average pool, linear 2w → classes

In the ``separable`` family the three body convolutions are ``sepconv.nn.SeparableConv2d``
(depth multiplier 1, Keras's semantics: nothing between the depthwise and pointwise steps). The
stem stays a normal convolution in both families, as in MobileNet: its input has one channel, so
a separable stem would make all w filters scaled copies of one 3×3 kernel.

>>> from sepconv.nn import profile
>>> model = small_cnn("separable", width=8, classes=10)
>>> p = profile(model, (1, 1, 8, 8))
>>> p.params, p.macs
(1016, 23072)
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from sepconv._errors import unknown_choice
from sepconv.nn import SeparableConv2d

FAMILIES = ("normal", "separable")


def conv3x3(family: str, in_channels: int, out_channels: int) -> nn.Module:
    """A 3×3 'same' convolution without bias (BatchNorm follows) of the given family."""
    if family == "normal":
        return nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
    if family == "separable":
        return SeparableConv2d(in_channels, out_channels, 3, padding="same", bias=False)
    raise unknown_choice("family", family, FAMILIES)


def block(family: str, in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(conv3x3(family, in_channels, out_channels), nn.BatchNorm2d(out_channels),
                         nn.ReLU())


def small_cnn(family: str, width: int, classes: int, in_channels: int = 1) -> nn.Sequential:
    """The network of the module docstring; ``model.body`` holds the convs the families differ in."""
    body = nn.Sequential(block(family, width, width), nn.MaxPool2d(2),
                         block(family, width, 2 * width), block(family, 2 * width, 2 * width),
                         nn.MaxPool2d(2))
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, classes))
    return nn.Sequential(OrderedDict(stem=block("normal", in_channels, width), body=body, head=head))
