"""to_depthwise_separable / to_spatial_separable / convert_model against independent SVDs."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import sepconv  # noqa: E402
from sepconv.nn import (  # noqa: E402
    SeparableConv2d,
    SpatialSeparableConv2d,
    convert_model,
    to_depthwise_separable,
    to_spatial_separable,
)

CONVS = [
    (nn.Conv2d, dict(in_channels=3, out_channels=5, kernel_size=3), (2, 3, 11, 12)),
    (nn.Conv2d, dict(in_channels=2, out_channels=4, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0),
                     dilation=(1, 2)), (1, 2, 13, 12)),
    (nn.Conv2d, dict(in_channels=3, out_channels=4, kernel_size=3, padding="same",
                     padding_mode="reflect"), (1, 3, 9, 10)),
    (nn.Conv2d, dict(in_channels=2, out_channels=3, kernel_size=4, padding=2, padding_mode="circular",
                     bias=False), (1, 2, 9, 9)),
    (nn.Conv1d, dict(in_channels=3, out_channels=4, kernel_size=5, stride=2, padding=2), (2, 3, 17)),
    (nn.Conv3d, dict(in_channels=2, out_channels=3, kernel_size=(2, 3, 3), padding=1,
                     padding_mode="replicate"), (1, 2, 5, 6, 7)),
]


def _conv(cls, kwargs):
    torch.manual_seed(0)
    return cls(**kwargs, dtype=torch.float64)


def _product_weight(layer):
    """Dense weight W[o, c, ...] = Σ_j P[o, c·m+j] D[c·m+j] of a SeparableConv."""
    d = layer.depthwise.weight.detach()
    p = layer.pointwise.weight.detach().flatten(1)
    c, m = layer.in_channels, layer.depth_multiplier
    d = d.reshape(c, m, *d.shape[2:])
    p = p.reshape(p.shape[0], c, m)
    return torch.einsum("ocj,cj...->oc...", p, d)


@pytest.mark.parametrize("cls, kwargs, shape", CONVS)
def test_full_rank_depthwise_conversion_reproduces_outputs(cls, kwargs, shape):
    conv = _conv(cls, kwargs)
    o, k = conv.out_channels, math.prod(conv.kernel_size)
    sep = to_depthwise_separable(conv, depth_multiplier=min(o, k))
    x = torch.randn(shape, dtype=torch.float64)
    torch.testing.assert_close(sep(x), conv(x), atol=1e-9, rtol=1e-9)
    assert sep.stride == conv.stride and sep.dilation == conv.dilation
    assert (sep.pointwise.bias is None) == (conv.bias is None)


@pytest.mark.parametrize("m", [1, 2])
def test_truncated_depthwise_error_is_the_svd_tail(m):
    conv = _conv(nn.Conv2d, dict(in_channels=4, out_channels=6, kernel_size=3))
    w = conv.weight.detach().numpy()
    tail = 0.0
    for c in range(4):
        s = np.linalg.svd(w[:, c].reshape(6, 9), compute_uv=False)
        tail += float(np.sum(s[m:] ** 2))
    sep = to_depthwise_separable(conv, depth_multiplier=m)
    err = float(torch.linalg.vector_norm(_product_weight(sep) - conv.weight.detach()))
    assert err == pytest.approx(math.sqrt(tail), rel=1e-9)
    # and the layer computes exactly the dense conv with that product weight
    x = torch.randn(1, 4, 8, 8, dtype=torch.float64)
    want = nn.functional.conv2d(x, _product_weight(sep), conv.bias)
    torch.testing.assert_close(sep(x), want, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("cls, kwargs, shape", [c for c in CONVS if c[0] is nn.Conv2d])
def test_full_rank_spatial_conversion_reproduces_outputs(cls, kwargs, shape):
    conv = _conv(cls, kwargs)
    o, c, kh, kw = conv.weight.shape
    sep = to_spatial_separable(conv, rank=min(c * kh, o * kw))
    assert isinstance(sep, SpatialSeparableConv2d)
    x = torch.randn(shape, dtype=torch.float64)
    torch.testing.assert_close(sep(x), conv(x), atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("rank", [1, 3, 5])
def test_truncated_spatial_error_is_the_svd_tail(rank):
    conv = _conv(nn.Conv2d, dict(in_channels=3, out_channels=4, kernel_size=3))
    w = conv.weight.detach().numpy()  # (O, C, kh, kw) → rows (c, y), columns (o, x)
    s = np.linalg.svd(w.transpose(1, 2, 0, 3).reshape(9, 12), compute_uv=False)
    sep = to_spatial_separable(conv, rank)
    v = sep.vertical.weight.detach()[..., 0]  # (R, C, kh)
    h = sep.horizontal.weight.detach()[:, :, 0]  # (O, R, kw)
    dense = torch.einsum("rcy,orx->ocyx", v, h)
    err = float(torch.linalg.vector_norm(dense - conv.weight.detach()))
    assert err == pytest.approx(float(np.sqrt(np.sum(s[rank:] ** 2))), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("call, pattern", [
    (lambda: to_depthwise_separable(nn.Linear(3, 4)), "conv: expected an nn.Conv1d"),
    (lambda: to_depthwise_separable(nn.Conv2d(4, 4, 3, groups=2)), "groups=1"),
    (lambda: to_depthwise_separable(nn.Conv2d(4, 4, 1)), "larger than 1×1"),
    (lambda: to_depthwise_separable(nn.ConvTranspose2d(4, 4, 3)), "conv: expected"),
    (lambda: to_depthwise_separable(nn.Conv2d(4, 4, 3), 0), r"depth_multiplier: expected an int in \[1, 4\]"),
    (lambda: to_depthwise_separable(nn.Conv2d(4, 8, 3), 10), r"in \[1, 8\]"),
    (lambda: to_spatial_separable(nn.Conv2d(4, 4, 3), 0), r"rank: expected an int in \[1, 12\]"),
    (lambda: to_spatial_separable(nn.Conv2d(4, 4, 3), 13), "rank"),
    (lambda: to_spatial_separable(nn.Conv1d(4, 4, 3), 1), "conv: expected an nn.Conv2d"),
    (lambda: convert_model(nn.Conv2d(2, 2, 3), form="tucker"), "form: expected one of"),
    (lambda: convert_model(nn.Conv2d(2, 2, 3), budget=0.5), "input_shape"),
    (lambda: convert_model(nn.Conv2d(2, 2, 3), energy=1.5), "energy"),
    (lambda: convert_model(nn.Conv2d(2, 2, 3), depth_multiplier=0), "depth_multiplier"),
    (lambda: convert_model(nn.Conv2d(2, 2, 3), form="spatial"), "rank"),
    (lambda: convert_model(nn.Conv2d(2, 2, 3), energy=0.9, depth_multiplier=1), "at most one"),
    (lambda: convert_model(nn.Conv2d(2, 2, 3), cost="seconds"), "cost: expected one of"),
    (lambda: convert_model(nn.Conv2d(2, 2, 3), cost="time", depth_multiplier=2), "cost"),
])
def test_bad_input(call, pattern):
    with pytest.raises(sepconv.SepconvError, match=pattern):
        call()


class Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2), nn.ReLU(),
            nn.Conv2d(16, 16, 1), nn.Conv2d(16, 16, 3, groups=4),
        )
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3)))


def test_convert_model_fixed_energy_budget_and_report():
    torch.manual_seed(1)
    model = Small()
    x = torch.randn(4, 3, 16, 16)
    new, report = convert_model(model, depth_multiplier=1, calibration=x, speed_guard=False)
    assert [r.name for r in report.layers] == ["features.0", "features.2"]  # 1×1 and grouped stay
    assert isinstance(new.features[0], SeparableConv2d) and isinstance(model.features[0], nn.Conv2d)
    assert report.layers[0].old_macs == 16 * 16 * 8 * 3 * 9 * 4
    assert report.layers[0].new_macs == 4 * 16 * 16 * 3 * (9 + 8)
    assert all(0 < r.output_error < 2 for r in report.layers) and report.model_output_error > 0
    d = report.to_dict()
    assert d["layers"][0]["choice"] == 1 and "features.0" in str(report)
    _, rep = convert_model(model, energy=1.0, calibration=x, speed_guard=False)
    assert rep.model_output_error < 1e-5
    _, rep = convert_model(model, energy=0.9)
    assert all(r.weight_error <= math.sqrt(0.1) + 1e-9 for r in rep.layers)
    assert rep.layers[0].old_macs is None
    _, rep = convert_model(model, budget=0.25, input_shape=(1, 3, 16, 16), speed_guard=False)
    totals = rep.totals()
    assert totals["new_macs"] <= 0.25 * totals["old_macs"]
    _, loose = convert_model(model, budget=0.6, input_shape=(1, 3, 16, 16), speed_guard=False)
    assert sum(r.choice for r in loose.layers) >= sum(r.choice for r in rep.layers)
    _, everything = convert_model(model, budget=1.0, input_shape=(1, 3, 16, 16), speed_guard=False)
    # a budget never makes a layer dearer than the convolution it replaces
    assert all(r.new_macs <= r.old_macs for r in everything.layers)


def test_converted_model_trains():
    torch.manual_seed(2)
    new, _ = convert_model(Small(), form="spatial", rank=2)
    loss = new(torch.randn(2, 3, 16, 16)).square().sum()
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in new.parameters())


def test_convert_a_bare_conv():
    conv = nn.Conv2d(3, 4, 3)
    new, report = convert_model(conv, depth_multiplier=3)
    assert isinstance(new, SeparableConv2d) and report.layers[0].name == ""


def test_speed_guard_keeps_the_faster_convolution(monkeypatch):
    """The guard's decision follows the measured times (faked here: tests never assert time)."""
    import importlib

    module = importlib.import_module("sepconv.nn.convert_model")  # the module, not the function

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
    timings = iter([(1.0, 2.0), (2.0, 1.0)])  # layer 0: separable 2× slower; layer 2: 2× faster
    monkeypatch.setattr(module, "time_pair", lambda old, new, shape: next(timings))
    new, report = convert_model(model, depth_multiplier=1, input_shape=(1, 3, 16, 16))
    assert isinstance(new[0], nn.Conv2d) and isinstance(new[2], SeparableConv2d)
    first, second = report.layers
    assert first.kept_dense is not None and "0.50×" in first.kept_dense and first.measured_speedup == 0.5
    assert second.kept_dense is None and second.measured_speedup == 2.0
    assert first.predicted_speedup == first.old_macs / first.new_macs
    assert report.totals()["new_macs"] == first.old_macs + second.new_macs
    assert "kept dense" in str(report)
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(new[0](x), model[0](x))
    unguarded, plain = convert_model(model, depth_multiplier=1, input_shape=(1, 3, 16, 16),
                                     speed_guard=False)
    assert isinstance(unguarded[0], SeparableConv2d) and plain.layers[0].measured_speedup is None


def test_speed_guard_times_both_layers_on_the_input_shape():
    from sepconv.nn.profiling import time_pair

    calls = []

    class Spy(nn.Module):
        def forward(self, x):
            calls.append(tuple(x.shape))
            return x

    old, new = nn.Conv2d(3, 3, 1), Spy()
    old_s, new_s = time_pair(old, new, (2, 3, 5, 5))
    assert old_s > 0 and new_s > 0 and calls == [(2, 3, 5, 5)] * 6


def test_a_time_budget_spends_measured_seconds(monkeypatch):
    """cost='time' allocates by the timings of each layer and of its separable forms (a fake,
    deterministic clock here: the convolution takes 10, the separable form 1 + 2·m)."""
    import importlib

    module = importlib.import_module("sepconv.nn.convert_model")  # the module, not the function

    def fake_time_pair(old, new, input_shape, rounds=5):
        m = new.depthwise.weight.shape[0] // new.depthwise.in_channels
        return 10.0, 1.0 + 2.0 * m

    monkeypatch.setattr(module, "time_pair", fake_time_pair)
    conv = nn.Sequential(nn.Conv2d(4, 16, 3, padding=1))
    for budget, m in ((0.3, 1), (0.5, 2), (0.75, 3), (0.95, 4)):
        _, report = convert_model(conv, budget=budget, cost="time", input_shape=(1, 4, 12, 12))
        assert [r.choice for r in report.layers] == [m]  # the largest m with 1 + 2m <= 10·budget
        assert report.layers[0].measured_speedup == pytest.approx(10.0 / (1.0 + 2.0 * m))
    # by MACs the same budget buys another multiplier: the costs really are the timings
    _, by_macs = convert_model(conv, budget=0.75, input_shape=(1, 4, 12, 12), speed_guard=False)
    assert by_macs.layers[0].choice == 4  # 14,400·m MACs <= 0.75 · 82,944 (time: m = 3)


@pytest.mark.parametrize("training", [False, True])
def test_converted_layers_keep_the_models_mode_and_are_timed_in_it(monkeypatch, training):
    """An eval model's separable layers are built (and timed by the speed guard) in eval mode,
    where they take the eval paths; a training model's in training mode."""
    import importlib

    module = importlib.import_module("sepconv.nn.convert_model")
    timed_modes = []

    def spy_time_pair(old, new, input_shape, rounds=5):
        timed_modes.append((old.training, new.training))
        return 2.0, 1.0

    monkeypatch.setattr(module, "time_pair", spy_time_pair)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3)).train(training)
    converted, _ = convert_model(model, depth_multiplier=2, input_shape=(1, 3, 12, 12))
    assert timed_modes == [(training, training)] * 2
    new = [m for m in converted.modules() if isinstance(m, SeparableConv2d)]
    assert len(new) == 2 and all(m.training == training for m in converted.modules())
