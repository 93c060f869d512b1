"""``sepconv convert``: a saved model in, a converted model and a report out."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from sepconv.cli.main import main  # noqa: E402
from sepconv.nn import SeparableConv2d  # noqa: E402


@pytest.fixture
def saved_model(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3))
    path = tmp_path / "model.pt"
    torch.save(model, path)
    return model, path


def test_convert_writes_a_working_model_and_prints_the_report(saved_model, tmp_path, capsys):
    model, path = saved_model
    out = tmp_path / "sep.pt"
    assert main(["convert", str(path), str(out), "--depth-multiplier", "8",
                 "--input-shape", "1x3x16x16"]) == 0
    text = capsys.readouterr().out
    assert "0" in text and "Conv2d → SeparableConv2d" in text and f"wrote {out}" in text
    new = torch.load(out, weights_only=False)
    assert isinstance(new[0], SeparableConv2d)
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(new(x), model(x), atol=1e-4, rtol=1e-4)  # m = 8 ≥ min(8, 9): exact


def test_convert_refuses_overwrite_and_bad_files(saved_model, tmp_path, capsys):
    _, path = saved_model
    out = tmp_path / "sep.pt"
    out.write_bytes(b"keep me")
    assert main(["convert", str(path), str(out)]) == 1
    assert "pass --force" in capsys.readouterr().err and out.read_bytes() == b"keep me"
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    assert main(["convert", str(bad), str(tmp_path / "x.pt")]) == 1
    assert "sepconv: error: MODEL" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()
    assert main(["convert", str(path), str(tmp_path / "y.pt"), "--depth-multiplier", "0"]) == 1
    assert "depth_multiplier" in capsys.readouterr().err
    assert not (tmp_path / "y.pt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_convert_writes_onnx_that_onnxruntime_reproduces(saved_model, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    _, path = saved_model
    out, onnx_out = tmp_path / "sep.pt", tmp_path / "sep.onnx"
    assert main(["convert", str(path), str(out), "--depth-multiplier", "2",
                 "--input-shape", "2x3x32x32", "--onnx", str(onnx_out)]) == 0
    text = capsys.readouterr().out
    assert f"wrote {onnx_out}" in text and "relative error" in text
    model = torch.load(out, weights_only=False)
    assert model.training  # the export worked on a copy: OUT keeps the saved model's mode
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    session = ort.InferenceSession(onnx_out.read_bytes(), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        want = model(x).numpy()
    assert abs(got - want).max() <= 1e-4 * abs(want).max()


def test_convert_onnx_needs_an_input_shape_and_a_free_name(saved_model, tmp_path, capsys):
    pytest.importorskip("onnx")
    _, path = saved_model
    out, onnx_out = tmp_path / "sep.pt", tmp_path / "sep.onnx"
    assert main(["convert", str(path), str(out), "--onnx", str(onnx_out)]) == 1
    err = capsys.readouterr().err
    assert "sepconv: error: --onnx" in err and "--input-shape" in err
    assert not out.exists() and not onnx_out.exists()
    onnx_out.write_bytes(b"keep me")
    assert main(["convert", str(path), str(out), "--input-shape", "1x3x8x8", "--onnx", str(onnx_out)]) == 1
    assert "sepconv: error: --onnx" in capsys.readouterr().err
    assert onnx_out.read_bytes() == b"keep me" and not out.exists()


def test_convert_onnx_says_how_to_install_onnx(saved_model, tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)  # an import of onnx now fails
    _, path = saved_model
    assert main(["convert", str(path), str(tmp_path / "o.pt"), "--input-shape", "1x3x8x8",
                 "--onnx", str(tmp_path / "o.onnx")]) == 1
    assert "sepconv[onnx]" in capsys.readouterr().err
    assert list(tmp_path.glob("o.*")) == []


@pytest.mark.parametrize("shape", ["2x4x16x16", "2x3x2x2"])
def test_convert_says_when_the_input_shape_does_not_fit_the_model(saved_model, tmp_path, capsys,
                                                                  shape):
    _, path = saved_model  # 3 input channels, two 3x3 convolutions: 2x2 images are too small
    out = tmp_path / "sep.pt"
    assert main(["convert", str(path), str(out), "--input-shape", shape]) == 1
    err = capsys.readouterr().err
    assert "sepconv: error: --input-shape: expected the shape of a batch the model accepts" in err
    assert shape in err and "unexpected" not in err and not out.exists()
