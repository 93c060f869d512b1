"""``sepconv convert MODEL OUT``: make a ``torch.save``d model's convolutions separable."""

from __future__ import annotations

import argparse
import copy
import io as _io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._errors import bad_argument
from . import io
from .spec import parse_shape


def add_parser(verbs: Any, common: argparse.ArgumentParser) -> None:
    p = verbs.add_parser(
        "convert", parents=[common], help="convert a saved PyTorch model's convolutions",
        description="Replace the convolutions of a torch.save'd model (the whole module, not a "
        "state_dict) by SVD-optimal separable ones and print the report. Loading runs the "
        "pickle's code: convert only models you trust.")
    p.add_argument("model", metavar="MODEL", help="a file written by torch.save(model, path)")
    p.add_argument("output", metavar="OUT", help="where to torch.save the converted model")
    p.add_argument("--form", default="depthwise", choices=("depthwise", "spatial"))
    size = p.add_mutually_exclusive_group()
    size.add_argument("--depth-multiplier", type=int, metavar="M", help="form depthwise: m per layer")
    size.add_argument("--rank", type=int, metavar="R", help="form spatial: rank per layer")
    size.add_argument("--energy", type=float, metavar="E", help="keep this fraction of weight energy")
    size.add_argument("--budget", type=float, metavar="F", help="keep this fraction of the MACs")
    p.add_argument("--input-shape", metavar="NxCxHxW", help="input shape, batch included (MACs, "
                   "and the example input of --onnx)")
    p.add_argument("--onnx", metavar="FILE", help="also write the converted model (eval mode) as "
                   "ONNX and, if onnxruntime is installed, check it against PyTorch; needs "
                   "--input-shape")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _load(path: Path) -> Any:
    torch = io.require("torch", "sepconv convert")
    if not path.is_file():
        raise bad_argument("MODEL", "an existing file", str(path), "check the path")
    try:
        model = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a corrupt or foreign file: say what it is, no traceback
        raise bad_argument("MODEL", "a file written by torch.save(model, path)", str(path),
                           f"could not load it ({type(exc).__name__}: {exc})") from None
    if not isinstance(model, torch.nn.Module):
        raise bad_argument("MODEL", "a saved nn.Module", type(model).__name__,
                           "save the whole model with torch.save(model, path), not its state_dict")
    return model


def run(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    torch = io.require("torch", "sepconv convert")
    from ..nn import convert_model

    source, out = Path(args.model), Path(args.output)
    io.check_target(out, source, args.force)
    onnx_out = _onnx_target(args, source, out)
    shape = parse_shape(args.input_shape, "input-shape") if args.input_shape else None
    model = _load(source)
    if shape is not None:
        _check_shape(model, shape, args.input_shape)
    new, report = convert_model(model, form=args.form, depth_multiplier=args.depth_multiplier,
                                rank=args.rank, energy=args.energy, budget=args.budget,
                                input_shape=shape, speed_guard=False)  # the CLI converts as asked
    # a copy is exported (in eval mode): OUT keeps the converted model's own mode
    onnx_data, onnx_error = (_export(copy.deepcopy(new), shape) if onnx_out is not None
                             else (b"", None))
    buffer = _io.BytesIO()
    torch.save(new, buffer)
    io.write_atomic(out, buffer.getvalue())
    if onnx_out is not None:
        io.write_atomic(onnx_out, onnx_data)
    if args.json:
        from .report import to_json

        extra = {} if onnx_out is None else {"onnx": {"path": str(onnx_out),
                                                       "onnxruntime_relative_error": onnx_error}}
        say(to_json({**report.to_dict(), **extra}))
        return 0
    for line in str(report).splitlines():
        say(line)
    say(f"wrote {out}")
    if onnx_out is not None:
        say(f"wrote {onnx_out}")
        say("onnxruntime is not installed: the ONNX file was not checked (pip install "
            "'sepconv[onnx]')" if onnx_error is None else
            f"ONNX Runtime vs PyTorch on a random {args.input_shape} batch: relative error "
            f"{onnx_error:.1e}")
    return 0


def _check_shape(model: Any, shape: tuple[int, ...], text: str) -> None:
    """A clear error when the model does not accept a batch of ``shape`` (on a copy, in eval mode:
    BatchNorm statistics are not touched)."""
    import torch

    try:
        with torch.no_grad():
            copy.deepcopy(model).eval()(torch.zeros(shape))
    except (RuntimeError, ValueError, IndexError, TypeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise bad_argument("--input-shape", "the shape of a batch the model accepts (NxCxHxW "
                           "for a 2-D CNN)", text, f"give the shape the model was trained on "
                           f"(the model refused this one: {reason})") from None


def _onnx_target(args: argparse.Namespace, source: Path, out: Path) -> Path | None:
    """The checked ``--onnx`` path, before any work is done (None without ``--onnx``)."""
    if args.onnx is None:
        return None
    if not args.input_shape:
        raise bad_argument("--onnx", "--input-shape NxCxHxW as well (the example input of the "
                           "export)", "--onnx without --input-shape", "add e.g. --input-shape "
                           "1x3x224x224")
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise bad_argument("--onnx", "the onnx package installed", "no onnx",
                           "pip install 'sepconv[onnx]' (onnx, onnxscript, onnxruntime)") from None
    target = Path(args.onnx)
    if target.resolve() == out.resolve():
        raise bad_argument("--onnx", "a path other than OUT", str(target), "name another file")
    io.check_target(target, source, args.force, "--onnx")
    return target


def _export(model: Any, shape: tuple[int, ...] | None) -> tuple[bytes, float | None]:
    """The converted model (eval mode) as ONNX, and ONNX Runtime's relative error if installed."""
    import importlib.util

    import torch

    from ..nn import export_onnx, onnxruntime_error

    example = torch.randn(*(shape or ()), generator=torch.Generator().manual_seed(0))
    model.eval()
    data = export_onnx(model, example)
    if importlib.util.find_spec("onnxruntime") is None:
        return data, None
    return data, onnxruntime_error(data, model, example)
