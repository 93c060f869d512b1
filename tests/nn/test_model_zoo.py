"""``accelerate`` on real model-zoo models (timm, torchvision), where they import.

timm and torchvision do not import beside the pinned CPU torch 2.13.0 of `make test` (their
wheels here are built for torch 2.14), so these tests skip there; they run in an environment
with torch 2.14.1, e.g. ``pip install torch==2.14.1 torchvision==0.29.1 timm`` then
``pip install -e '.[dev]'``. The block structures they cover are also reproduced in
tests/nn/test_accelerate.py, which always runs.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

import sepconv.nn as snn
from sepconv.nn._fold import FusedConv2d, FusedSeparable2d
from sepconv.nn._match import is_depthwise


def _zoo(library: str) -> Any:
    try:
        return pytest.importorskip(library)
    except Exception as error:  # torchvision beside a torch it was not built for raises on import
        pytest.skip(f"{library} does not import here: {error}")


def _randomized(model: nn.Module) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters (fresh ones fold to identity)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.1, 0.1)
    return model.eval()


def _check(model: nn.Module, separable_chains: int) -> None:
    depthwise = sum(is_depthwise(m) for m in model.modules())
    fast, report = snn.accelerate(model)  # the call: no example input
    fused = [m for m in fast.modules() if isinstance(m, FusedSeparable2d)]
    assert len(fused) == separable_chains, str(report)
    # every other depthwise convolution (squeeze-excitation between the steps) keeps its BN fused
    folded = [m for m in fast.modules() if isinstance(m, FusedConv2d) and is_depthwise(m.conv)]
    assert len(fused) + len(folded) == depthwise, str(report)
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        want, got = model(x), fast(x)
    assert float((got - want).abs().max() / want.abs().max()) < 1e-4


@pytest.mark.parametrize(("name", "chains"), [("mobilenetv1_100", 13), ("mobilenetv2_100", 17),
                                              ("efficientnet_b0", 0)])
def test_timm_models_are_fused_and_equal(name: str, chains: int) -> None:
    timm = _zoo("timm")
    _check(_randomized(timm.create_model(name, pretrained=False)), chains)


@pytest.mark.parametrize(("name", "chains"), [("mobilenet_v2", 0), ("mobilenet_v3_small", 0)])
def test_torchvision_models_are_fused_and_equal(name: str, chains: int) -> None:
    torchvision = _zoo("torchvision")
    _check(_randomized(getattr(torchvision.models, name)()), chains)
