"""Initialization: PyTorch's default convolution scheme, written with the true fans.

PyTorch initializes a convolution with ``kaiming_uniform_(w, a=√5)``, which is the uniform
distribution U(-b, b) with ``b = 1 / sqrt(fan_in)`` (variance ``b² / 3 = 1 / (3·fan_in)``), and its
bias with U(-1/sqrt(fan_in), 1/sqrt(fan_in)). sepconv keeps that scheme and states the fans:

============================  ==================  ==================
weight                        fan in              fan out
============================  ==================  ==================
depthwise ``(C·m, 1, *k)``    ``prod(k)``         ``prod(k)``
pointwise ``(N, C·m, 1…)``    ``C·m``             ``N``
vertical ``(mid, C, kh, 1)``  ``C·kh``            ``mid·kh``
horizontal ``(N, mid, 1, kw)``  ``mid·kw``        ``N·kw``
============================  ==================  ==================

A depthwise kernel sees only its own channel, so both of its fans are ``prod(k)``; PyTorch's
``_calculate_fan_in_and_fan_out`` gives fan out ``C·m·prod(k)`` for grouped weights
(pytorch#23854) and Keras's Glorot uses ``C·prod(k)`` (keras#11773). Only the fan in enters
the default scheme; the fan out matters to users who re-initialize with a fan-out mode.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def uniform_fan_in_(weight: Tensor, bias: Tensor | None, fan_in: int) -> None:
    """Fill ``weight`` and ``bias`` in place from U(-b, b), ``b = 1 / sqrt(fan_in)``."""
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        weight.uniform_(-bound, bound)
        if bias is not None:
            bias.uniform_(-bound, bound)


def depthwise_fans(kernel_size: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a depthwise kernel: both are the number of taps, prod(k)."""
    taps = math.prod(kernel_size)
    return taps, taps
