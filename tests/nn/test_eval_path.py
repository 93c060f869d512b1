"""SeparableConv2d's eval path (issue 14): BatchNorm folded, oneDNN conv + activation per step."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import sepconv.nn as snn  # noqa: E402

ONEDNN = "mkldnn::_convolution_pointwise"
ACTS = [nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.GELU]


def _layer(i: int, o: int, stride: int, act: type | None, bias: bool = False) -> snn.SeparableConv2d:
    parts: list[nn.Module] = [nn.BatchNorm2d(i)] + ([act()] if act else [])
    layer = snn.SeparableConv2d(i, o, 3, stride=stride, padding=1, bias=bias,
                                between=nn.Sequential(*parts))
    gen = torch.Generator().manual_seed(1)
    bn = layer.between[0]
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(i, generator=gen) * 0.3)
        bn.running_var.copy_(torch.rand(i, generator=gen) + 0.5)
        bn.weight.copy_(torch.rand(i, generator=gen) + 0.5)
        bn.bias.copy_(torch.randn(i, generator=gen) * 0.3)
    return layer.eval()


def _plain(layer: snn.SeparableConv2d, x: torch.Tensor) -> torch.Tensor:
    """The twin's composition: grouped conv, the between modules, 1×1 conv (float64)."""
    x64 = x.double()
    return _composition(layer, x64).detach()


def _composition(layer: snn.SeparableConv2d, x64: torch.Tensor) -> torch.Tensor:
    dw, pw = layer.depthwise, layer.pointwise
    between = [m for m in layer.between]
    mid = F.conv2d(x64, dw.weight.double(), None, dw.stride, dw.padding, dw.dilation,
                   dw.in_channels)
    bn = between[0]
    mid = F.batch_norm(mid, bn.running_mean.double(), bn.running_var.double(),
                       bn.weight.double(), bn.bias.double(), False, 0.0, bn.eps)
    for m in between[1:]:
        mid = m(mid)
    bias = None if pw.bias is None else pw.bias.double()
    return F.conv2d(mid, pw.weight.double(), bias)


def _ran(fn: object) -> tuple[torch.Tensor, bool]:
    with torch.profiler.profile() as prof:
        out = fn()  # type: ignore[operator]
    return out, any(ONEDNN in e.key for e in prof.key_averages())


def _relative(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got.double() - want).abs().max() / want.abs().max())


@pytest.mark.parametrize("n,i,o,size,stride", [
    (1, 1024, 1024, 7, 1), (8, 512, 512, 14, 1), (1, 512, 1024, 14, 2), (8, 64, 128, 112, 2),
    (8, 128, 128, 56, 1),
])
def test_real_sizes_match_the_plain_composition(n: int, i: int, o: int, size: int,
                                                stride: int) -> None:
    layer = _layer(i, o, stride, nn.ReLU)
    x = torch.randn(n, i, size, size)
    with torch.inference_mode():
        out, ran = _ran(lambda: layer(x))
    assert ran
    assert _relative(out, _plain(layer, x)) < 1e-4


@pytest.mark.parametrize("n,i,o,size,stride", [
    (1, 1024, 1024, 7, 1), (8, 1024, 1024, 7, 1), (1, 512, 1024, 14, 2), (8, 128, 128, 56, 1),
])
def test_channels_last_input_gives_channels_last_output(n: int, i: int, o: int, size: int,
                                                        stride: int) -> None:
    """The caller's memory format comes back, also where the chain prefers NCHW (small deep
    layers); the layer, accelerate's fused chain and its fused stem conv alike."""
    layer = _layer(i, o, stride, nn.ReLU)
    twin = nn.Sequential(nn.Conv2d(i, i, 3, stride, 1, groups=i, bias=False), nn.BatchNorm2d(i),
                         nn.ReLU(), nn.Conv2d(i, o, 1, bias=False), nn.BatchNorm2d(o),
                         nn.Conv2d(o, o, 1, bias=False), nn.BatchNorm2d(o)).eval()
    fast, report = snn.accelerate(twin)
    assert len(report.replaced) == 2  # the separable chain, then a conv + BatchNorm
    x = torch.randn(n, i, size, size).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        out, ran = _ran(lambda: layer(x))
        fast_out, want = fast(x), twin(x)
    assert ran and out.is_contiguous(memory_format=torch.channels_last)
    assert fast_out.is_contiguous(memory_format=torch.channels_last)
    assert _relative(out, _plain(layer, x)) < 1e-4 and _relative(fast_out, want.double()) < 1e-4


@pytest.mark.parametrize("act", [*ACTS, None])
def test_each_activation_and_channels_last(act: type | None) -> None:
    layer = _layer(32, 48, 1, act, bias=True)
    x = torch.randn(2, 32, 30, 30)
    want = _plain(layer, x)
    with torch.no_grad():
        out, ran = _ran(lambda: layer(x))
        out_cl = layer(x.contiguous(memory_format=torch.channels_last))
    assert ran
    assert _relative(out, want) < 1e-4 and _relative(out_cl, want) < 1e-4


def test_training_mode_or_gradients_take_the_usual_path() -> None:
    layer = _layer(16, 16, 1, nn.ReLU)
    x = torch.randn(2, 16, 12, 12)
    out, ran = _ran(lambda: layer(x))  # eval with autograd recording
    assert not ran and out.requires_grad
    layer.train()
    with torch.no_grad():
        _, ran = _ran(lambda: layer(x))
    assert not ran


def test_unknown_between_takes_the_usual_path() -> None:
    layer = snn.SeparableConv2d(8, 8, 3, padding=1,
                                between=nn.Sequential(nn.BatchNorm2d(8), nn.Tanh())).eval()
    x = torch.randn(2, 8, 10, 10)
    with torch.no_grad():
        out, ran = _ran(lambda: layer(x))
        want = layer.pointwise(layer.between(layer.depthwise(x)))
    assert not ran
    torch.testing.assert_close(out, want)


def test_accelerated_chains_run_onednn() -> None:
    model = nn.Sequential(nn.Conv2d(64, 64, 3, 2, 1, groups=64), nn.BatchNorm2d(64), nn.ReLU6(),
                          nn.Conv2d(64, 96, 1), nn.BatchNorm2d(96), nn.Hardswish()).eval()
    fast, _ = snn.accelerate(model)
    x = torch.randn(2, 64, 40, 40)
    with torch.inference_mode():
        out, ran = _ran(lambda: fast(x))
        want = model(x)
    assert ran
    assert _relative(out, want.double()) < 1e-5


def _after_layer(act: type) -> snn.SeparableConv2d:
    layer = _layer(64, 96, 2, nn.ReLU)
    layer.after = nn.Sequential(nn.BatchNorm2d(96), act())
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        layer.after[0].running_mean.copy_(torch.randn(96, generator=gen) * 0.3)
        layer.after[0].running_var.copy_(torch.rand(96, generator=gen) + 0.5)
    return layer.eval()


@pytest.mark.parametrize("act", ACTS)
def test_after_is_folded_in_eval_and_applied_in_training(act: type) -> None:
    layer = _after_layer(act)
    x = torch.randn(2, 64, 28, 28)
    with torch.no_grad():
        want = layer.after(layer.pointwise(layer.between(layer.depthwise(x))))
        out, ran = _ran(lambda: layer(x))
    assert ran and _relative(out, want.double()) < 1e-5
    layer.train()
    torch.testing.assert_close(layer(x), layer.after(layer.pointwise(layer.between(
        layer.depthwise(x)))))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # jit.trace/script, TorchScript ONNX
@pytest.mark.filterwarnings("ignore:Constant folding - Only steps=1")
def test_after_exports_and_scripts() -> None:
    layer = _after_layer(nn.ReLU6)
    x = torch.randn(1, 64, 28, 28)
    with torch.no_grad():
        want = layer(x)
        assert _relative(torch.jit.script(layer)(x), want.double()) < 1e-5
        assert _relative(torch.jit.trace(layer, x)(x), want.double()) < 1e-5
    data = snn.export_onnx(layer, x, dynamo=False)
    assert snn.onnxruntime_error(data, layer, x) < 1e-5


def test_after_must_be_a_module() -> None:
    from sepconv import SepconvError

    with pytest.raises(SepconvError, match="after"):
        snn.SeparableConv2d(8, 8, 3, after="relu")  # type: ignore[arg-type]


def test_training_with_between_runs_channels_last_and_keeps_gradients() -> None:
    layer = _layer(16, 24, 2, nn.ReLU).train().double()
    twin = [nn.Conv2d(16, 16, 3, 2, 1, groups=16, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 24, 1, bias=False)]
    plain = nn.Sequential(*twin).double().train()
    plain[0].weight.data.copy_(layer.depthwise.weight.data)
    plain[1].load_state_dict(layer.between[0].state_dict())
    plain[3].weight.data.copy_(layer.pointwise.weight.data)
    x = torch.randn(4, 16, 20, 20, dtype=torch.float64, requires_grad=True)
    out = layer(x)
    assert out.is_contiguous(memory_format=torch.channels_last)
    want = plain(x)
    torch.testing.assert_close(out, want)
    (g,) = torch.autograd.grad(out.square().sum(), [x], create_graph=True)
    (e,) = torch.autograd.grad(want.square().sum(), [x], create_graph=True)
    torch.testing.assert_close(g, e)
    # the gradient comes back in the input's (NCHW) format, so the caller's NCHW layers before
    # the layer run their backward on one format (mixed formats ran 1.5x slower)
    assert g.is_contiguous() and not g.is_contiguous(memory_format=torch.channels_last)
    (gg,) = torch.autograd.grad(g.sum(), [x])  # twice differentiable, as the plain network
    (ee,) = torch.autograd.grad(e.sum(), [x])
    torch.testing.assert_close(gg, ee)
    torch.testing.assert_close(layer.between[0].running_mean, plain[1].running_mean)


def test_cached_weights_follow_input_size_and_parameter_changes() -> None:
    layer = _layer(32, 64, 1, nn.ReLU)
    for n in (1, 3, 1):  # the reordered weights depend on the input size
        x = torch.randn(n, 32, 14, 14)
        with torch.inference_mode():
            assert _relative(layer(x), _plain(layer, x)) < 1e-4
    with torch.no_grad():
        layer.depthwise.weight.mul_(-2.0)
        layer.between[0].running_mean.add_(1.0)
    with torch.inference_mode():
        assert _relative(layer(x), _plain(layer, x)) < 1e-4


def test_cached_plans_follow_replaced_modules_modes_and_geometry() -> None:
    """The eval path caches what depends on the layer alone (folded weights, activations,
    geometry): replacing a submodule, changing a mode or a stride in place must show."""
    layer = _layer(16, 24, 1, nn.ReLU)
    x = torch.randn(2, 16, 12, 12) * 3
    twin = nn.Sequential(nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False), nn.BatchNorm2d(16),
                         nn.ReLU(), nn.Conv2d(16, 24, 1, bias=False), nn.BatchNorm2d(24),
                         nn.ReLU()).eval()
    _randomize_bn(twin)
    fused, _ = snn.accelerate(twin)

    def check() -> bool:
        with torch.inference_mode():
            got, ran = _ran(lambda: layer(x))
            fused_got = fused(x)
        with torch.no_grad():
            assert _relative(fused_got, twin(x).double()) < 1e-4
        assert _relative(got, _plain(layer, x)) < 1e-4
        return ran

    assert check()
    layer.between[1] = nn.ReLU6()  # a replaced activation
    twin[2] = nn.ReLU6()
    fused[0].act1 = twin[2]  # the attribute alone: the plan reads it
    assert check()
    layer.depthwise.stride = (2, 2)  # geometry changed in place
    twin[0].stride = fused[0].depthwise.stride = (2, 2)
    assert check()
    layer.between[0].train()  # a BatchNorm in training mode is not folded: the usual path
    with torch.inference_mode():
        _, ran = _ran(lambda: layer(x))
    assert not ran
    layer.between[0].eval()
    assert check()
    layer.pointwise.weight.data = torch.randn_like(layer.pointwise.weight)  # same id and version
    layer.between[0].eps = 0.25  # read when folding
    twin[4].eps = fused[0].bn2.eps = 0.25
    assert check()


def test_fused_conv_plan_follows_activation_geometry_and_statistics() -> None:
    """accelerate's conv + BatchNorm + activation caches its folded weights and activation."""
    twin = nn.Sequential(nn.Conv2d(16, 24, 3, 1, 1, bias=False), nn.BatchNorm2d(24),
                         nn.GELU()).eval()
    _randomize_bn(twin)
    fused, report = snn.accelerate(twin)
    assert report.replaced[0].reason == "fused conv + BatchNorm"
    x = torch.randn(2, 16, 12, 12) * 3

    def check() -> bool:
        with torch.inference_mode():
            got, ran = _ran(lambda: fused(x))
        with torch.no_grad():  # 1e-5: GELU's tanh approximation differs by ~1e-4 here
            assert _relative(got, twin(x).double()) < 1e-5
        return ran

    assert check()
    twin[2].approximate = fused[0].act.approximate = "tanh"  # read by the plan, in place
    assert check()
    twin[2] = fused[0].act = nn.Hardswish()
    assert check()
    twin[0].stride = fused[0].conv.stride = (2, 2)
    assert check()
    with torch.no_grad():
        twin[1].running_var.mul_(4.0)
        fused[0].bn.running_var.mul_(4.0)
    assert check()
    twin[2] = fused[0].act = nn.Tanh()  # not a oneDNN activation: PyTorch's path, still right
    assert not check()

def _randomize_bn(model: nn.Module) -> None:
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)


def test_both_steps_keep_onednn_layouts_when_only_one_has_a_batchnorm() -> None:
    """The pointwise step of a layer without ``after`` folds nothing: its weight is the layer's
    Parameter, yet it is reordered for oneDNN once, not on every call, and follows changes."""
    from sepconv.nn import _onednn

    layer = _layer(64, 128, 1, nn.ReLU)
    x = torch.randn(2, 64, 28, 28)
    _onednn._PACKED.clear()
    with torch.inference_mode():
        first = layer(x)
        assert len(_onednn._PACKED) == 2  # depthwise (folded) and pointwise (as it is)
        again = layer(x)
        assert len(_onednn._PACKED) == 2
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert _relative(first, _plain(layer, x)) < 1e-4
    with torch.no_grad():
        layer.pointwise.weight.mul_(-0.5)
    with torch.inference_mode():
        assert _relative(layer(x), _plain(layer, x)) < 1e-4


def test_review_regressions_output_format_frozen_weights_and_func() -> None:
    """An NCHW input comes back NCHW (a later .view works, also after convert_model); a frozen
    weight changed in place is re-packed; the training path works under torch.func."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3, padding=1)).eval()
    converted, _ = snn.convert_model(model, depth_multiplier=2, speed_guard=False)
    x = torch.randn(2, 3, 20, 20)
    with torch.no_grad():
        y = converted(x)
    assert y.is_contiguous() and y.view(2, -1).shape == (2, 8 * 18 * 18)
    layer = _layer(16, 24, 1, nn.ReLU).requires_grad_(False)
    x = torch.randn(2, 16, 12, 12)
    with torch.inference_mode():
        layer(x)
    with torch.no_grad():
        layer.pointwise.weight.mul_(-1)
    with torch.inference_mode():
        out, ran = _ran(lambda: layer(x))
    assert ran and _relative(out, _plain(layer, x)) < 1e-4
    train = snn.SeparableConv2d(4, 6, 3, padding=1, between=nn.Sequential(
        nn.BatchNorm2d(4, track_running_stats=False), nn.ReLU())).train()
    params = dict(train.named_parameters())
    grads = torch.func.grad(lambda p, x: torch.func.functional_call(train, p, (x,)).sum())(
        params, torch.randn(2, 4, 8, 8))
    assert set(grads) == set(params)


def test_pruned_steps_follow_training_and_eval() -> None:
    """nn.utils.prune recomputes a step's weight in a forward pre-hook: the layer must call its
    steps as modules then (before: training twice raised, eval read a weight one step stale)."""
    from torch.nn.utils import prune

    torch.manual_seed(0)
    layer = _layer(32, 64, 1, nn.ReLU).train()
    prune.l1_unstructured(layer.depthwise, "weight", amount=0.5)
    prune.l1_unstructured(layer.pointwise, "weight", amount=0.5)
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    x = torch.randn(2, 32, 28, 28)
    for _ in range(2):
        opt.zero_grad()
        layer(x).square().mean().backward()
        opt.step()
    assert layer.depthwise.weight_orig.grad is not None
    layer.eval()
    with torch.inference_mode():
        got = layer(x)
    dw, pw = layer.depthwise, layer.pointwise
    dw_w = (dw.weight_orig * dw.weight_mask).detach().double()
    pw_w = (pw.weight_orig * pw.weight_mask).detach().double()
    bn = layer.between[0]
    mid = F.conv2d(x.double(), dw_w, None, 1, 1, 1, 32)
    mid = F.relu(F.batch_norm(mid, bn.running_mean.double(), bn.running_var.double(),
                              bn.weight.double(), bn.bias.double(), False, 0.0, bn.eps))
    assert _relative(got, F.conv2d(mid, pw_w).detach()) < 1e-5


def test_hooks_on_steps_run_in_every_path() -> None:
    """A forward hook on a step (or on a module accelerate fused) changes the output in eval too."""
    torch.manual_seed(0)
    layer = _layer(32, 64, 1, nn.ReLU, bias=True)
    x = torch.randn(2, 32, 28, 28)
    with torch.inference_mode():
        want = layer(x) * 2
        handle = layer.pointwise.register_forward_hook(lambda m, i, out: out * 2)
        out, onednn = _ran(lambda: layer(x))
        assert not onednn and _relative(out, want.double()) < 1e-6
        handle.remove()
        assert _ran(lambda: layer(x))[1]
    model = nn.Sequential(nn.Conv2d(32, 32, 3, padding=1, groups=32), nn.BatchNorm2d(32), nn.ReLU(),
                          nn.Conv2d(32, 64, 1), nn.BatchNorm2d(64), nn.ReLU()).eval()
    fast, report = snn.accelerate(model)
    assert report.replaced
    with torch.inference_mode():
        fused = fast[0]
        fused.act1.register_forward_pre_hook(lambda m, i: (i[0] * 0,))  # zeroes act1's input
        out, onednn = _ran(lambda: fast(x))
    assert not onednn
    torch.testing.assert_close(out, F.relu(fused.bn2(fused.pointwise.bias.reshape(1, -1, 1, 1)
                                                     .expand(2, -1, 28, 28))))


def test_fused_conv_runs_a_pruned_or_hooked_part_and_its_current_attributes() -> None:
    """accelerate's conv + BatchNorm: a pruned conv is recomputed in eval too, and the parts run
    one by one are the module's attributes (a replaced activation counts, as on the fast path)."""
    from torch.nn.utils import prune

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(16, 24, 3, 1, 1, bias=False), nn.BatchNorm2d(24),
                          nn.ReLU()).eval()
    _randomize_bn(model)
    fast, _ = snn.accelerate(model)
    fused = fast[0]
    x = torch.randn(2, 16, 12, 12)
    fused.act = nn.Hardswish()
    with torch.inference_mode():
        want = fast(x)
        handle = fused.conv.register_forward_hook(lambda m, i, out: None)  # changes nothing
        out, onednn = _ran(lambda: fast(x))
        handle.remove()
    assert not onednn and _relative(out, want.double()) < 1e-5
    prune.l1_unstructured(fused.conv, "weight", amount=0.5)
    fused.train()
    opt = torch.optim.SGD(fused.parameters(), lr=0.5)
    for _ in range(2):
        opt.zero_grad()
        fast(x).square().mean().backward()
        opt.step()
    fused.eval()
    with torch.inference_mode():
        got = fast(x)
    conv, bn = fused.conv, fused.bn
    weight = (conv.weight_orig * conv.weight_mask).detach().double()
    ref = F.batch_norm(F.conv2d(x.double(), weight, None, 1, 1), bn.running_mean.double(),
                       bn.running_var.double(), bn.weight.detach().double(),
                       bn.bias.detach().double(), False, 0.0, bn.eps)
    assert _relative(got, F.hardswish(ref)) < 1e-5


def test_a_batchnorm_subclass_activation_is_part_of_the_cached_plan() -> None:
    """timm's BatchNormAct2d holds its activation; changing its GELU's approximation shows."""

    class BatchNormAct2d(nn.BatchNorm2d):
        def __init__(self, channels: int) -> None:
            super().__init__(channels)
            self.act = nn.GELU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.act(super().forward(x))

    model = nn.Sequential(nn.Conv2d(16, 24, 3, 1, 1, bias=False), BatchNormAct2d(24),
                          nn.Conv2d(24, 24, 3, 1, 1, groups=24, bias=False), BatchNormAct2d(24),
                          nn.Conv2d(24, 32, 1, bias=False), BatchNormAct2d(32)).eval()
    _randomize_bn(model)
    fast, report = snn.accelerate(model)
    assert [r.reason for r in report.replaced] == ["fused conv + BatchNorm", "fused"]
    x = torch.randn(2, 16, 12, 12) * 3
    for approximate in ("none", "tanh", "none"):
        for k, bn in ((1, fast[0].bn), (3, fast[2].bn1), (5, fast[2].bn2)):
            model[k].act.approximate = bn.act.approximate = approximate
        with torch.inference_mode():
            got, ran = _ran(lambda: fast(x))
            want = model(x)
        assert ran and _relative(got, want.double()) < 1e-5


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script itself
def test_scripting_a_layer_with_hooked_steps_warns() -> None:
    layer = _layer(8, 16, 1, nn.ReLU)
    layer.pointwise.register_forward_hook(lambda m, i, out: out * 2)
    with pytest.warns(UserWarning, match="without their hooks"):
        torch.jit.script(layer)
