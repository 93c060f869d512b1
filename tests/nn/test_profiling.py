"""profile(): MACs and parameters equal hand counts for every kind of layer."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from sepconv import cost  # noqa: E402
from sepconv.nn import (  # noqa: E402
    DepthwiseConv2d,
    PointwiseConv2d,
    SeparableConv2d,
    SpatialSeparableConv2d,
    accelerate,
    profile,
)


def test_plain_grouped_depthwise_separable_hand_counts():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3),                          # 10×10 → 8×8
        nn.ReLU(),
        nn.Conv2d(8, 12, 3, groups=4, padding=1),    # 8×8, 2 in-channels per group
        DepthwiseConv2d(12, 3, depth_multiplier=2),  # 8×8 → 6×6, 24 channels
        PointwiseConv2d(24, 5),
        SeparableConv2d(5, 7, 3, padding="same", stride=2),  # 6×6 → 3×3
        nn.Flatten(),
        nn.Linear(7 * 9, 10),
    )
    p = profile(model, (2, 3, 10, 10))
    macs = {layer.name: layer.macs for layer in p.layers}
    assert macs["0"] == 2 * 8 * 8 * 8 * 3 * 9
    assert macs["1"] == 0
    assert macs["2"] == 2 * 8 * 8 * 12 * 2 * 9
    assert macs["3"] == 2 * 6 * 6 * 24 * 9
    assert macs["4"] == 2 * 6 * 6 * 5 * 24
    assert macs["5"] == 2 * 3 * 3 * (5 * 9 + 5 * 7)
    assert macs["7"] == 2 * 10 * 63
    assert p.macs == sum(macs.values())
    params = {layer.name: layer.params for layer in p.layers}
    assert params["0"] == 8 * 3 * 9 and params["2"] == 12 * 2 * 9 and params["5"] == 5 * 9 + 5 * 7
    assert profile(model, (2, 3, 10, 10), bias=True).params == sum(
        q.numel() for q in model.parameters())


def test_seeds_example_matches_the_cost_model():
    for padding in ("valid", "same"):
        dense = profile(nn.Conv2d(3, 256, 5, padding=padding), (1, 3, 12, 12))
        sep = profile(SeparableConv2d(3, 256, 5, padding=padding), (1, 3, 12, 12))
        assert dense.macs == cost.conv((12, 12, 3), 5, 256, padding=padding).mults
        assert sep.macs == cost.depthwise_separable((12, 12, 3), 5, 256, padding=padding).mults
        spatial = profile(SpatialSeparableConv2d(3, 256, 5, padding=padding), (1, 3, 12, 12))
        assert spatial.macs == cost.spatial_separable((12, 12, 3), 5, 256, padding=padding).mults


def test_measured_times_and_compare():
    model = nn.Sequential(nn.Conv2d(8, 16, 3), nn.ReLU())
    p = profile(model, (1, 8, 32, 32), measure=True, repeats=3)
    assert all(layer.ms is not None and layer.ms >= 0 for layer in p.layers)
    sep = profile(nn.Sequential(SeparableConv2d(8, 16, 3), nn.ReLU()), (1, 8, 32, 32), measure=True,
                  repeats=3)
    text = sep.compare(p)
    assert "predicted" in text and "measured" in text
    assert "total" in str(p) and p.to_dict()["macs"] == p.macs
    assert model.training  # profile restores the mode


def test_accelerated_models_count_each_fused_module_once():
    """accelerate's fused modules are units: counted once, with their convolutions' MACs."""
    model = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                          nn.Conv2d(16, 16, 3, 2, 1, groups=16, bias=False), nn.BatchNorm2d(16),
                          nn.ReLU6(), nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32)).eval()
    fast, _ = accelerate(model)
    original, fused = profile(model, (2, 3, 32, 32)), profile(fast, (2, 3, 32, 32))
    assert fused.macs == original.macs == 2 * 16 * 16 * (16 * 27) + 2 * 8 * 8 * 16 * (9 + 32)
    assert [layer.name for layer in fused.layers if layer.macs] == ["0", "3"]
