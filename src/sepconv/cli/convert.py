"""``sepconv convert MODEL OUT``: make a ``torch.save``d model's convolutions separable."""

from __future__ import annotations

import argparse
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
    p.add_argument("--input-shape", metavar="NxCxHxW", help="input shape, batch included (MACs)")
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
    shape = parse_shape(args.input_shape, "input-shape") if args.input_shape else None
    model = _load(source)
    new, report = convert_model(model, form=args.form, depth_multiplier=args.depth_multiplier,
                                rank=args.rank, energy=args.energy, budget=args.budget,
                                input_shape=shape)
    buffer = _io.BytesIO()
    torch.save(new, buffer)
    io.write_atomic(out, buffer.getvalue())
    if args.json:
        from .report import to_json

        say(to_json(report.to_dict()))
    else:
        for line in str(report).splitlines():
            say(line)
        say(f"wrote {out}")
    return 0
