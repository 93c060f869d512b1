"""Issue 12: every layer leaves PyTorch (inference_mode, jit.trace/script, torch.export,
torch.compile, both ONNX exporters) at a small size and at a size that takes the fused path.

ONNX graphs are run in ONNX Runtime and compared with eager PyTorch (never with sepconv itself);
the fused cases assert, with the profiler or the traced graph, that the fused operators ran.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from torch import nn  # noqa: E402

from sepconv.nn import (  # noqa: E402
    DepthwiseConv1d,
    DepthwiseConv2d,
    DepthwiseConv3d,
    PointwiseConv1d,
    PointwiseConv2d,
    PointwiseConv3d,
    SeparableConv1d,
    SeparableConv2d,
    SeparableConv3d,
    SpatialSeparableConv2d,
    convert_model,
    export_onnx,
    onnxruntime_error,
    to_depthwise_separable,
    to_spatial_separable,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # jit.trace/script, TorchScript ONNX
    pytest.mark.filterwarnings("ignore::FutureWarning"),  # pytree notices inside torch.export
    pytest.mark.filterwarnings("ignore:Exporting a model while it is in training mode"),
    pytest.mark.filterwarnings("ignore:Constant folding - Only steps=1"),  # TorchScript exporter note
    # a trace of padding='same' with stride > 1 holds for the traced size (tested on its own below)
    pytest.mark.filterwarnings("ignore:padding='same' with stride > 1:torch.jit.TracerWarning"),
]

FUSED_OPS = ("sepconv::separable_conv2d", "sepconv::depthwise_conv2d")


@dataclass(frozen=True)
class Case:
    """A layer factory, its small input and, for 2-D fused layers, an input that takes the fused path."""

    name: str
    make: object
    small: tuple[int, ...]
    large: tuple[int, ...]
    fused: bool = False

    def layer(self) -> nn.Module:
        torch.manual_seed(0)
        return self.make().eval()


def _bn_relu(c: int) -> nn.Module:
    return nn.Sequential(nn.BatchNorm2d(c), nn.ReLU())


CASES = [
    Case("separable2d-same", lambda: SeparableConv2d(64, 64, 3, padding="same"),
         (2, 64, 10, 10), (4, 64, 48, 48), fused=True),
    Case("separable2d-m2-dilation", lambda: SeparableConv2d(32, 48, 3, depth_multiplier=2, padding=2,
                                                             dilation=2),
         (1, 32, 9, 11), (2, 32, 56, 56), fused=True),
    Case("separable2d-reflect", lambda: SeparableConv2d(64, 64, 5, padding="same",
                                                        padding_mode="reflect"),
         (2, 64, 9, 9), (4, 64, 48, 48), fused=True),
    Case("separable2d-circular", lambda: SeparableConv2d(64, 32, 3, padding=1, padding_mode="circular"),
         (2, 64, 8, 8), (4, 64, 48, 48), fused=True),
    Case("separable2d-replicate-even", lambda: SeparableConv2d(64, 32, 4, padding="same",
                                                               padding_mode="replicate"),
         (2, 64, 8, 8), (4, 64, 48, 48), fused=True),
    Case("separable2d-between", lambda: SeparableConv2d(64, 64, 3, padding=1, between=_bn_relu(64)),
         (2, 64, 10, 10), (4, 64, 56, 56), fused=True),
    Case("separable2d-stride2", lambda: SeparableConv2d(32, 64, 3, stride=2, padding="same"),
         (2, 32, 11, 11), (2, 32, 56, 56)),
    Case("depthwise2d-m2", lambda: DepthwiseConv2d(64, 3, depth_multiplier=2, padding="same"),
         (2, 64, 10, 10), (2, 64, 40, 40), fused=True),
    Case("depthwise2d-reflect-bias", lambda: DepthwiseConv2d(64, 5, padding=2, padding_mode="reflect"),
         (2, 64, 10, 10), (2, 64, 40, 40), fused=True),
    Case("depthwise2d-stride2", lambda: DepthwiseConv2d(32, 3, stride=2, padding=1),
         (1, 32, 9, 9), (2, 32, 64, 64)),
    Case("pointwise2d", lambda: PointwiseConv2d(32, 64), (2, 32, 8, 8), (2, 32, 56, 56)),
    Case("spatial2d", lambda: SpatialSeparableConv2d(16, 32, 7, padding="same", between=_bn_relu(32)),
         (2, 16, 12, 12), (2, 16, 64, 64)),
    Case("spatial2d-stride", lambda: SpatialSeparableConv2d(16, 32, (5, 3), stride=(2, 1), padding=1,
                                                            padding_mode="reflect"),
         (2, 16, 12, 12), (2, 16, 64, 64)),
    Case("separable1d", lambda: SeparableConv1d(16, 32, 5, padding="same", padding_mode="reflect"),
         (2, 16, 20), (4, 16, 4096)),
    Case("depthwise1d", lambda: DepthwiseConv1d(16, 3, depth_multiplier=2, stride=2), (2, 16, 20),
         (4, 16, 4096)),
    Case("pointwise1d", lambda: PointwiseConv1d(16, 8), (2, 16, 20), (4, 16, 4096)),
    Case("separable3d", lambda: SeparableConv3d(8, 16, 3, padding="same"), (1, 8, 6, 6, 6),
         (2, 8, 24, 24, 24)),
    Case("depthwise3d", lambda: DepthwiseConv3d(8, 3, padding=1, padding_mode="replicate"),
         (1, 8, 6, 6, 6), (2, 8, 24, 24, 24)),
    Case("pointwise3d", lambda: PointwiseConv3d(8, 4), (1, 8, 5, 5, 5), (2, 8, 16, 16, 16)),
]
SIZED = [pytest.param(case, size, id=f"{case.name}-{size}") for case in CASES
         for size in ("small", "large")]


def _input(case: Case, size: str) -> torch.Tensor:
    return torch.randn(*(case.small if size == "small" else case.large),
                       generator=torch.Generator().manual_seed(1))


EVAL_OP = "mkldnn::_convolution_pointwise"


def _takes_fused_path(case: Case, size: str) -> bool:
    return case.fused and size == "large"


def ran_ops(function) -> set[str]:
    """Names of the operators the profiler saw while ``function()`` ran."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        function()
    return {event.name for event in prof.events()}


def relative_error(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


def run_onnx(data: bytes | str, x: torch.Tensor) -> np.ndarray:
    """ONNX Runtime's output for ``x``; ``data`` is the model's bytes or its file's path."""
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]


def check_standard_graph(data: bytes, depthwise_groups: int | None) -> None:
    """Standard ONNX operators only; the depthwise step is a Conv with group = in_channels."""
    model = onnx.load_from_string(data)
    assert {op.domain for op in model.opset_import} <= {"", "ai.onnx"}
    nodes = list(model.graph.node)
    for function in model.functions:
        nodes += list(function.node)
    assert all(node.domain in ("", "ai.onnx") for node in nodes), {n.domain for n in nodes}
    if depthwise_groups is not None:
        groups = [attr.i for node in nodes if node.op_type == "Conv" for attr in node.attribute
                  if attr.name == "group"]
        assert depthwise_groups in groups


def _groups(layer: nn.Module) -> int | None:
    depthwise = getattr(layer, "depthwise", layer)
    return depthwise.in_channels if isinstance(depthwise, (DepthwiseConv1d, DepthwiseConv2d,
                                                          DepthwiseConv3d)) else None


@pytest.mark.parametrize(("case", "size"), SIZED)
def test_inference_mode_equals_no_grad_and_keeps_the_fused_path(case, size):
    layer, x = case.layer(), _input(case, size)
    with torch.no_grad():
        expected = layer(x)
    with torch.inference_mode():
        ops = ran_ops(lambda: layer(x))
        found = layer(x)
    assert relative_error(found, expected) <= 1e-5
    fused = bool(ops & set(FUSED_OPS))
    if EVAL_OP in ops:  # issue 14's eval path: BatchNorm folded, oneDNN conv + activation
        assert not fused and case.name.startswith("separable2d")
    else:
        assert fused == _takes_fused_path(case, size), ops & set(FUSED_OPS)
    with torch.no_grad():
        assert bool(ran_ops(lambda: layer(x)) & set(FUSED_OPS)) == fused


@pytest.mark.parametrize(("case", "size"), SIZED)
def test_jit_trace_and_script(case, size):
    layer, x = case.layer(), _input(case, size)
    with torch.no_grad():
        expected = layer(x)
        traced = torch.jit.trace(layer, x)
        assert relative_error(traced(x), expected) <= 1e-5
        recorded = str(traced.inlined_graph)  # PyTorch's operators only: loads without sepconv
        assert not any(op in recorded for op in FUSED_OPS)
        scripted = torch.jit.script(layer)
        assert relative_error(scripted(x), expected) <= 1e-5


@pytest.mark.parametrize(("case", "size"), SIZED)
@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_onnx_export_matches_onnxruntime(case, size, dynamo):
    layer, x = case.layer(), _input(case, size)
    data = export_onnx(layer, x, dynamo=dynamo)
    check_standard_graph(data, _groups(layer))
    with torch.no_grad():
        expected = layer(x)
    assert relative_error(run_onnx(data, x), expected) <= 1e-5


@pytest.mark.parametrize(("case", "size"), SIZED)
def test_torch_export_and_compile(case, size):
    layer, x = case.layer(), _input(case, size)
    with torch.no_grad():
        expected = layer(x)
        program = torch.export.export(layer, (x,))
        assert relative_error(program.module()(x), expected) <= 1e-5
        assert any(op.replace("::", ".") in str(program.graph) for op in FUSED_OPS) == \
            _takes_fused_path(case, size)
        torch._dynamo.reset()  # many layer instances share forward's code object (recompile limit)
        compiled = torch.compile(layer, backend="aot_eager", fullgraph=True)
        assert relative_error(compiled(x), expected) <= 1e-5


def test_torchscript_files_load_where_sepconv_is_not_installed(tmp_path):
    """A trace and a script of a fused-size layer run in a process that never imports sepconv
    (as libtorch in C++ would load them)."""
    import subprocess
    import sys

    layer = SeparableConv2d(64, 64, 3, padding="same",
                            between=nn.Sequential(nn.BatchNorm2d(64), nn.ReLU())).eval()
    x = torch.randn(2, 64, 56, 56)
    assert ran_ops(lambda: layer(x)) & set(FUSED_OPS) or ran_ops(lambda: layer(x)) & {EVAL_OP}
    with torch.no_grad():
        expected = layer(x)
        torch.jit.save(torch.jit.trace(layer, x), str(tmp_path / "traced.pt"))
        torch.jit.save(torch.jit.script(layer), str(tmp_path / "scripted.pt"))
    torch.save(x, tmp_path / "x.pt")
    code = ("import sys, torch; x = torch.load(sys.argv[1]); outs = []\n"
            "for name in sys.argv[2:]:\n"
            "    with torch.no_grad(): outs.append(torch.jit.load(name)(x))\n"
            "assert 'sepconv' not in sys.modules\n"
            "torch.save(outs, sys.argv[1] + '.out')")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.pt"), str(tmp_path / "traced.pt"),
                    str(tmp_path / "scripted.pt")], check=True, cwd=tmp_path, timeout=120)
    for got in torch.load(str(tmp_path / "x.pt") + ".out"):
        assert relative_error(got, expected) <= 1e-5


def test_trace_warns_only_where_it_bakes_in_the_input_size():
    x = torch.randn(1, 4, 9, 9)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error")  # no TracerWarning from sepconv's own checks
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", "`torch.jit.*is deprecated", FutureWarning)  # torch 2.14
        traced = torch.jit.trace(SeparableConv2d(4, 4, 3, padding="same"), x)
        assert traced(torch.randn(1, 4, 12, 7)).shape == (1, 4, 12, 7)  # stride 1: any size
    with torch.no_grad(), pytest.warns(torch.jit.TracerWarning, match="traced size only"):
        torch.jit.trace(SeparableConv2d(4, 4, 3, stride=2, padding="same"), x)


@pytest.mark.parametrize("layer", [
    SeparableConv2d(64, 64, 3, padding=1), DepthwiseConv2d(64, 3, padding=1),
    SeparableConv2d(64, 64, 3, padding="same", padding_mode="reflect",
                    between=nn.Sequential(nn.BatchNorm2d(64), nn.ReLU())),
], ids=["separable", "depthwise", "separable-reflect-between"])
def test_dynamic_shapes_export_at_fused_sizes(layer):
    """A batch size and an image size left free by torch.export and the dynamo ONNX exporter
    (the fused path's size rule must not guard on them, nor a check fix them)."""
    layer = layer.eval()
    x, other = torch.randn(2, 64, 56, 56), torch.randn(3, 64, 70, 62)
    assert ran_ops(lambda: layer(x)) & set(FUSED_OPS)  # a size that takes the fused path
    dims = ({0: torch.export.Dim("batch"), 2: torch.export.Dim("height", min=8, max=512),
             3: torch.export.Dim("width", min=8, max=512)},)
    with torch.no_grad():
        expected = layer(other)
        program = torch.export.export(layer, (x,), dynamic_shapes=dims)
        assert relative_error(program.module()(other), expected) <= 1e-5
    onnx_program = torch.onnx.export(layer, (x,), dynamo=True, dynamic_shapes=dims, verbose=False)
    data = onnx_program.model_proto.SerializeToString()
    assert relative_error(run_onnx(data, other), expected) <= 1e-5


def test_plain_torch_onnx_export_needs_no_extra_arguments(tmp_path):
    """A user's own call, file on disk, both exporters: no custom domain, ORT agrees."""
    layer = SeparableConv2d(128, 128, 3, padding="same").eval()
    x = torch.randn(8, 128, 56, 56)
    with torch.no_grad():
        expected = layer(x)
    assert ran_ops(lambda: layer(x)) & {"sepconv::separable_conv2d"}
    for dynamo in (False, True):
        path = tmp_path / f"layer-{dynamo}.onnx"
        torch.onnx.export(layer, (x,), str(path), dynamo=dynamo)  # may write weights beside it
        check_standard_graph(onnx.load(str(path)).SerializeToString(), 128)
        assert relative_error(run_onnx(str(path), x), expected) <= 1e-5


def mobilenet_like(blocks: int = 6) -> nn.Module:
    """A MobileNetV1-style stack: stem, separable blocks with BN+ReLU between, BN+ReLU after."""
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU()]
    plan = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2)]
    for i, o, s in plan[:blocks]:
        layers += [SeparableConv2d(i, o, 3, stride=s, padding=1, bias=False, between=_bn_relu(i)),
                   nn.BatchNorm2d(o), nn.ReLU(inplace=True)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(plan[blocks - 1][1], 10)]
    model = nn.Sequential(*layers)
    for module in model.modules():  # trained-looking statistics, not the identity
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.slow
def test_whole_mobilenet_style_model_deploys():
    model, x = mobilenet_like(), torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expected = model(x)
        assert ran_ops(lambda: model(x)) & {"sepconv::depthwise_conv2d", EVAL_OP}
    with torch.inference_mode():
        assert relative_error(model(x), expected) <= 1e-5
    with torch.no_grad():
        assert relative_error(torch.jit.trace(model, x)(x), expected) <= 1e-5
        assert relative_error(torch.jit.script(model)(x), expected) <= 1e-5
    for dynamo in (False, True):
        data = export_onnx(model, x, dynamo=dynamo)
        check_standard_graph(data, 32)
        assert relative_error(run_onnx(data, x), expected) <= 1e-4


@pytest.mark.slow
def test_converted_models_deploy():
    torch.manual_seed(0)
    dense = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 5, padding=2))
    dense.eval()
    x = torch.randn(2, 3, 64, 64)
    converted = [
        convert_model(dense, depth_multiplier=2, input_shape=tuple(x.shape), speed_guard=False)[0],
        convert_model(dense, form="spatial", rank=2)[0],
        nn.Sequential(to_depthwise_separable(dense[3], depth_multiplier=4), nn.ReLU()),
        nn.Sequential(to_spatial_separable(dense[5], rank=3)),
    ]
    for model in converted:
        model.eval()
        sample = torch.randn(2, model[0].in_channels, 64, 64)
        with torch.no_grad():
            expected = model(sample)
        for dynamo in (False, True):
            data = export_onnx(model, sample, dynamo=dynamo)
            check_standard_graph(data, None)
            assert onnxruntime_error(data, model, sample) <= 1e-4
            assert relative_error(run_onnx(data, sample), expected) <= 1e-4


def test_export_onnx_refuses_a_non_tensor_example():
    from sepconv import SepconvError

    with pytest.raises(SepconvError, match="example"):
        export_onnx(PointwiseConv2d(2, 3), [1, 2, 3])  # type: ignore[arg-type]
