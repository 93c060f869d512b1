"""sepconv.nn.accelerate: fused chains compute what the original model computes (issue 14)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import sepconv.nn as snn  # noqa: E402
from sepconv.nn._fold import FusedSeparable2d  # noqa: E402

ACTS = [nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.GELU]


def _randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.3)
    return model


def _relative(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got - want).abs().max() / want.abs().max())


def _block(i: int, o: int, stride: int = 1, act: type = nn.ReLU, m: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(i, i * m, 3, stride, 1, groups=i, bias=False),
                         nn.BatchNorm2d(i * m), act(), nn.Conv2d(i * m, o, 1, bias=False),
                         nn.BatchNorm2d(o), act())


class BatchNormAct2d(nn.BatchNorm2d):
    """timm's BatchNormAct2d, reproduced: a BatchNorm2d whose forward also applies ``.act``."""

    def __init__(self, channels: int, act: type = nn.ReLU) -> None:
        super().__init__(channels)
        self.drop = nn.Identity()
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop(super().forward(x)))


class DepthwiseSeparable(nn.Module):
    """timm's DepthwiseSeparableConv (MobileNetV1/EfficientNet stage 0), optional SE and skip."""

    def __init__(self, i: int, o: int, stride: int = 1, se: bool = False, act: type = nn.ReLU):
        super().__init__()
        self.conv_dw = nn.Conv2d(i, i, 3, stride, 1, groups=i, bias=False)
        self.bn1 = BatchNormAct2d(i, act)
        self.aa = nn.Identity()  # timm's anti-aliasing slot, Identity unless asked for
        self.se = SqueezeExcite(i) if se else nn.Identity()
        self.conv_pw = nn.Conv2d(i, o, 1, bias=False)
        self.bn2 = BatchNormAct2d(o, nn.Identity)
        self.has_skip = stride == 1 and i == o

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.bn2(self.conv_pw(self.se(self.aa(self.bn1(self.conv_dw(x))))))
        return x + shortcut if self.has_skip else x


class SqueezeExcite(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.reduce, self.expand = nn.Conv2d(c, 4, 1), nn.Conv2d(4, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.expand(torch.relu(self.reduce(x.mean((2, 3), keepdim=True))))
        return x * torch.sigmoid(s)


class InvertedResidual(nn.Module):
    """timm's MobileNetV2 block: 1×1 expand → BNAct → depthwise → BNAct → 1×1 project → BN, + x."""

    def __init__(self, c: int, expand: int = 4) -> None:
        super().__init__()
        mid = c * expand
        self.conv_pw = nn.Conv2d(c, mid, 1, bias=False)
        self.bn1 = BatchNormAct2d(mid, nn.ReLU6)
        self.conv_dw = nn.Conv2d(mid, mid, 3, 1, 1, groups=mid, bias=False)
        self.bn2 = BatchNormAct2d(mid, nn.ReLU6)
        self.conv_pwl = nn.Conv2d(mid, c, 1, bias=False)
        self.bn3 = BatchNormAct2d(c, nn.Identity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn1(self.conv_pw(x))
        return x + self.bn3(self.conv_pwl(self.bn2(self.conv_dw(y))))


class ConvNormActivation(nn.Sequential):
    """torchvision's Conv2dNormActivation, reproduced: a Sequential subclass (conv, BN, ReLU6)."""

    def __init__(self, i: int, o: int, k: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(nn.Conv2d(i, o, k, stride, (k - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(o), nn.ReLU6(inplace=True))


class TorchvisionInvertedResidual(nn.Module):
    """torchvision's MobileNetV2 block: the depthwise conv + BN + act in a nested Sequential,
    the 1×1 projection and its BN after it in the outer one."""

    def __init__(self, c: int, expand: int = 4) -> None:
        super().__init__()
        mid = c * expand
        self.conv = nn.Sequential(ConvNormActivation(c, mid, 1),
                                  ConvNormActivation(mid, mid, 3, groups=mid),
                                  nn.Conv2d(mid, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


class SequentialWithResidualBetween(nn.Sequential):
    """A Sequential subclass with its own forward using an intermediate: never flattened."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mid = self[1](self[0](x))
        return self[2](mid) + mid


class ResidualBetween(nn.Module):
    """A residual taken between the steps: must be left alone."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.bn = nn.BatchNorm2d(c)
        self.pw = nn.Conv2d(c, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mid = self.bn(self.dw(x))
        return self.pw(mid) + mid


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("stride", [1, 2])
def test_sequential_each_activation_and_stride(act: type, stride: int) -> None:
    model = _randomize(nn.Sequential(_block(32, 64, stride, act), _block(64, 64, 1, act))).eval()
    fast, report = snn.accelerate(model)
    assert [r.name for r in report.replaced] == ["0.0", "1.0"]
    assert sum(isinstance(m, FusedSeparable2d) for m in fast.modules()) == 2
    x = torch.randn(2, 32, 28, 28)
    with torch.inference_mode():
        assert _relative(fast(x), model(x)) < 1e-5


@pytest.mark.parametrize("size,channels,batch", [(7, 1024, 1), (14, 512, 1), (56, 128, 8)])
def test_real_sizes_float64_and_channels_last(size: int, channels: int, batch: int) -> None:
    model = _randomize(_block(channels, channels)).eval().double()
    fast, _ = snn.accelerate(model)
    x = torch.randn(batch, channels, size, size, dtype=torch.float64)
    with torch.no_grad():
        assert _relative(fast(x), model(x)) < 1e-12
        x_cl = x.contiguous(memory_format=torch.channels_last)
        out = fast(x_cl)
        assert _relative(out, model(x)) < 1e-12
        assert out.is_contiguous(memory_format=torch.channels_last)


def test_depth_multiplier_dilation_and_bias() -> None:
    model = _randomize(nn.Sequential(
        nn.Conv2d(16, 32, 3, padding=2, dilation=2, groups=16), nn.BatchNorm2d(32), nn.SiLU(),
        nn.Conv2d(32, 24, 1), nn.BatchNorm2d(24))).eval()
    fast, report = snn.accelerate(model)
    assert report.replaced[0].modules == ("0", "1", "2", "3", "4")
    x = torch.randn(2, 16, 20, 20)
    with torch.no_grad():
        assert _relative(fast(x), model(x)) < 1e-5


def test_nothing_between_runs_the_fused_operator() -> None:
    model = _randomize(nn.Sequential(nn.Conv2d(128, 128, 3, padding=1, groups=128),
                                     nn.Conv2d(128, 128, 1), nn.BatchNorm2d(128), nn.ReLU())).eval()
    fast, _ = snn.accelerate(model)
    x = torch.randn(8, 128, 56, 56)
    with torch.inference_mode(), torch.profiler.profile() as prof:
        out = fast(x)
    assert any("sepconv::separable_conv2d" in e.key for e in prof.key_averages())
    with torch.no_grad():
        assert _relative(out, model(x)) < 1e-5


def test_timm_like_blocks_keep_the_activation_and_skip_se_and_residuals() -> None:
    model = _randomize(nn.Sequential(
        DepthwiseSeparable(16, 32, 2), DepthwiseSeparable(32, 32, 1, act=nn.SiLU),
        DepthwiseSeparable(32, 32, 1, se=True), InvertedResidual(32), ResidualBetween(32))).eval()
    x = torch.randn(2, 16, 32, 32)
    fast, report = snn.accelerate(model, x)
    separable = [r for r in report.replaced if r.reason == "fused (traced block)"]
    assert [r.name for r in separable] == ["0.conv_dw", "1.conv_dw", "3.conv_dw"]
    assert separable[0].modules == ("0.conv_dw", "0.bn1", "0.aa", "0.se", "0.conv_pw", "0.bn2")
    convs = {r.name: r.modules for r in report.replaced if "conv + BatchNorm" in r.reason}
    assert convs["2.conv_dw"] == ("2.conv_dw", "2.bn1", "2.aa")  # SE block: each conv with its BN
    assert convs["3.conv_pw"] == ("3.conv_pw", "3.bn1")  # the expansion conv
    assert isinstance(fast[2].se, SqueezeExcite)
    left = {r.name: r.reason for r in report.left}
    assert "4.dw" in left and "residual" in left["4.dw"]
    with torch.no_grad():
        assert _relative(fast(x), model(x)) < 1e-5
    assert isinstance(fast[4].dw, nn.Conv2d)  # left as it was


def test_a_chain_never_crosses_into_a_nested_sequential() -> None:
    """torchvision's block keeps the depthwise conv + BN + act in a nested Sequential and the 1×1
    step outside it; a parent may iterate such containers and use each one's output, so each
    container is fused on its own (conv + BatchNorm pairs here)."""
    model = _randomize(nn.Sequential(TorchvisionInvertedResidual(16),
                                     SequentialWithResidualBetween(
                                         nn.Conv2d(16, 16, 3, padding=1, groups=16),
                                         nn.BatchNorm2d(16), nn.Conv2d(16, 16, 1)))).eval()
    x = torch.randn(2, 16, 20, 20)
    fast, report = snn.accelerate(model, x)
    fused = {r.name: r.modules for r in report.replaced}
    assert fused["0.conv.1.0"] == ("0.conv.1.0", "0.conv.1.1", "0.conv.1.2")
    assert fused["0.conv.0.0"] == ("0.conv.0.0", "0.conv.0.1", "0.conv.0.2")
    assert not isinstance(fast[0].conv[2], FusedSeparable2d)  # the 1×1 step: its own pair
    left = {r.name: r.reason for r in report.left}
    assert "residual" in left["1.0"] and isinstance(fast[1][0], nn.Conv2d)
    with torch.inference_mode():
        assert _relative(fast(x), model(x)) < 1e-5
    stages = nn.Sequential(nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8),
                                         nn.BatchNorm2d(8), nn.ReLU()),
                           nn.Sequential(nn.Conv2d(8, 16, 1), nn.BatchNorm2d(16))).eval()
    fast, _ = snn.accelerate(_randomize(stages))
    x = torch.randn(1, 8, 12, 12)
    with torch.inference_mode():  # each stage's own output is unchanged (a parent may use it)
        assert _relative(fast[0](x), stages[0](x)) < 1e-5


def test_stem_conv_batchnorm_activation_is_fused() -> None:
    model = _randomize(nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32),
                                     nn.ReLU(inplace=True), _block(32, 64))).eval()
    fast, report = snn.accelerate(model)
    assert [r.name for r in report.replaced] == ["0", "3.0"]
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert _relative(fast(x), model(x)) < 1e-5


def test_without_example_input_blocks_are_traced_on_a_made_up_image() -> None:
    """``accelerate(model)`` alone (the issue's call) fuses model-zoo blocks too."""
    model = _randomize(nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), DepthwiseSeparable(8, 16),
                                     DepthwiseSeparable(16, 16, act=nn.SiLU))).train()
    seen: list[tuple[int, ...]] = []
    model[0].register_forward_pre_hook(lambda m, args: seen.append(tuple(args[0].shape)))
    fast, report = snn.accelerate(model)
    assert seen and seen[0] == (1, 3, 224, 224)
    assert [r.name for r in report.replaced] == ["1.conv_dw", "2.conv_dw"] and not report.left
    assert fast.training and model.training  # modes kept
    x = torch.randn(2, 3, 40, 40)
    with torch.inference_mode():
        assert _relative(fast.eval()(x), model.eval()(x)) < 1e-5


def test_a_timm_model_is_traced_at_its_declared_input_size() -> None:
    model = _randomize(nn.Sequential(nn.Conv2d(5, 8, 3), DepthwiseSeparable(8, 8))).eval()
    model.pretrained_cfg = {"input_size": (5, 48, 40)}  # as timm's models declare it
    seen: list[tuple[int, ...]] = []
    model[0].register_forward_pre_hook(lambda m, args: seen.append(tuple(args[0].shape)))
    _, report = snn.accelerate(model)
    assert seen[0] == (1, 5, 48, 40) and [r.name for r in report.replaced] == ["1.conv_dw"]


class HeadFirst(nn.Module):
    """Registers its head before its stem: the first convolution found is not the first called."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Conv2d(16, 4, 1)
        self.stem = nn.Conv2d(3, 16, 3, 2, 1)
        self.block = DepthwiseSeparable(16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(self.stem(x)))


def test_the_made_up_image_tries_each_convolutions_channels() -> None:
    model = _randomize(HeadFirst()).eval()
    fast, report = snn.accelerate(model)
    assert [r.name for r in report.replaced] == ["block.conv_dw"] and not report.left
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        assert _relative(fast(x), model(x)) < 1e-5


def test_a_model_that_fails_on_the_made_up_image_is_reported_not_fused() -> None:
    model = nn.Sequential(DepthwiseSeparable(8, 8), nn.Flatten(), nn.Linear(8 * 10 * 10, 3)).eval()
    fast, report = snn.accelerate(model)
    assert not report.replaced and len(report.left) == 1
    reason = report.left[0].reason
    assert "1×8×224×224" in reason and "RuntimeError" in reason and "example_input" in reason
    assert isinstance(fast[0].conv_dw, nn.Conv2d) and "left" in str(report)
    fast, report = snn.accelerate(model, torch.randn(1, 8, 10, 10))  # the fix the report names
    assert [r.name for r in report.replaced] == ["0.conv_dw"]


def test_training_mode_runs_the_original_steps_and_updates_statistics() -> None:
    model = _randomize(_block(8, 16))
    fast, _ = snn.accelerate(model)
    x = torch.randn(4, 8, 10, 10)
    torch.testing.assert_close(fast(x), model(x))
    torch.testing.assert_close(fast[0].bn1.running_mean, model[1].running_mean)
    fast.eval(), model.eval()
    with torch.no_grad():  # the fold follows the updated statistics
        assert _relative(fast(x), model(x)) < 1e-5


def test_gradients_in_eval_mode_flow_to_the_original_parameters() -> None:
    model = _randomize(_block(8, 16)).eval().double()
    fast, _ = snn.accelerate(model)
    x = torch.randn(2, 8, 9, 9, dtype=torch.float64, requires_grad=True)
    fast(x).square().sum().backward()
    model(x).square().sum().backward()
    torch.testing.assert_close(fast[0].depthwise.weight.grad, model[0].weight.grad)


def test_the_original_model_is_untouched() -> None:
    model = _block(8, 16).eval()
    snn.accelerate(model)
    assert isinstance(model[0], nn.Conv2d) and isinstance(model[1], nn.BatchNorm2d)


def test_sepconv_layers_take_the_following_batchnorm_and_activation() -> None:
    layer = snn.SeparableConv2d(16, 32, 3, stride=2, padding=1, bias=False,
                                between=nn.Sequential(nn.BatchNorm2d(16), nn.ReLU()))
    model = _randomize(nn.Sequential(layer, nn.BatchNorm2d(32), nn.ReLU(inplace=True))).eval()
    fast, report = snn.accelerate(model)
    assert report.replaced[0].modules == ("0", "1", "2") and "after" in report.replaced[0].reason
    assert isinstance(fast[0].after, nn.Sequential) and isinstance(fast[1], nn.Identity)
    assert model[0].after is None  # the original is untouched
    x = torch.randn(2, 16, 28, 28)
    with torch.inference_mode():
        assert _relative(fast(x), model(x)) < 1e-5


def test_accelerate_inside_inference_mode() -> None:
    model = _randomize(_block(8, 16)).eval()
    x = torch.randn(2, 8, 10, 10)
    with torch.inference_mode():
        fast, _ = snn.accelerate(model)
        assert _relative(fast(x), model(x)) < 1e-5


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # jit.trace, TorchScript ONNX exporter
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore:Constant folding - Only steps=1")
@pytest.mark.parametrize("dynamo", [False, True])
def test_accelerated_models_trace_and_export(dynamo: bool) -> None:
    pytest.importorskip("onnxruntime")
    model = _randomize(nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                                     nn.ReLU(), _block(16, 32, 2))).eval()
    fast, report = snn.accelerate(model)
    assert len(report.replaced) == 2
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert _relative(torch.jit.trace(fast, x)(x), model(x)) < 1e-5
    data = snn.export_onnx(fast, x, dynamo=dynamo)
    assert snn.onnxruntime_error(data, model, x) < 1e-5


def test_lazy_modules_are_not_initialized_by_a_made_up_image() -> None:
    model = nn.Sequential(nn.LazyConv2d(16, 3), DepthwiseSeparable(16, 16)).eval()
    fast, report = snn.accelerate(model)
    assert "lazy" in report.left[0].reason
    with torch.no_grad():
        assert fast(torch.randn(1, 3, 10, 10)).shape == (1, 16, 8, 8)


def test_concurrent_first_calls_from_threads_agree() -> None:
    """A server calls one model from several threads: the plan and weight caches fill
    concurrently on the first calls and every thread still gets the single-threaded output."""
    from concurrent.futures import ThreadPoolExecutor

    twin = _randomize(nn.Sequential(_block(32, 64), _block(64, 128, 2),
                                    nn.Conv2d(128, 128, 1), nn.BatchNorm2d(128))).eval()
    x = torch.randn(2, 32, 56, 56)
    with torch.inference_mode():
        want = twin(x)
    for _ in range(3):  # fresh caches each time
        fast, _ = snn.accelerate(twin, x)
        layer = snn.SeparableConv2d(32, 64, 3, padding=1, between=nn.Sequential(
            nn.BatchNorm2d(32), nn.ReLU())).eval()
        with torch.no_grad():
            layer_want = layer.pointwise(layer.between(layer.depthwise(x)))

        def run(_: int, fast: nn.Module = fast, layer: nn.Module = layer
                ) -> tuple[torch.Tensor, torch.Tensor]:
            with torch.inference_mode():
                return fast(x), layer(x)

        with ThreadPoolExecutor(4) as pool:
            for got, layer_got in pool.map(run, range(16)):
                assert _relative(got, want) < 1e-5
                assert _relative(layer_got, layer_want) < 1e-5
