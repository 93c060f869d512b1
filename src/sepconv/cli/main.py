"""Entry point of the ``sepconv`` command: parse, call the library, print.

Exit codes: 0 success, 1 an error (``sepconv: error: ...`` on stderr), 2 a usage error.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from typing import Any

from .. import __version__
from .._checks import METHODS, MODE_ALIASES, MODES
from .._errors import SepconvError, bad_argument


def say(line: str) -> None:
    print(line, flush=True)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show a traceback on errors")
    return common


def _add_filter(verbs: Any, common: argparse.ArgumentParser) -> None:
    p = verbs.add_parser("filter", parents=[common], help="filter image files with a kernel",
                         description="Correlate an image (every channel) with a kernel. IN may be a "
                         "file, a folder or a quoted glob; then OUT is a folder.")
    p.add_argument("input", metavar="IN", help="PNG, JPEG, TIFF or NPY file, folder or glob")
    p.add_argument("output", metavar="OUT", help="output file (format by extension) or folder")
    p.add_argument("--kernel", "-k", required=True, metavar="SPEC",
                   help="a name (sobel-x, gaussian:2.0, log:1.4 ...), a .npy/.txt file or [[...]]")
    p.add_argument("--mode", default="reflect", metavar="M",
                   help=f"border mode: {', '.join(MODES)} or an alias ({', '.join(MODE_ALIASES)})")
    p.add_argument("--method", default="auto", choices=METHODS, help="how to apply the kernel")
    p.add_argument("--normalize", action="store_true",
                   help="stretch min..max onto 0..255 (0..65535) for PNG/JPEG instead of clipping")
    p.add_argument("--format", dest="suffix", choices=(".png", ".jpg", ".tif", ".npy"),
                   help="folder mode: the outputs' extension (default: each input's)")
    p.add_argument("--chunks", type=int, metavar="N",
                   help="TIFF to TIFF: filter N×N chunks at a time through dask (automatic above "
                   "512 MiB), so images larger than memory work")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing on success")


def _add_reports(verbs: Any, common: argparse.ArgumentParser) -> None:
    a = verbs.add_parser("analyze", parents=[common], help="rank, factors and cost of a kernel")
    a.add_argument("kernel", metavar="SPEC", help="a kernel name, a .npy/.txt file or [[...]]")
    a.add_argument("--shape", default="4096x4096", help="image shape for the plan auto picks")
    a.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    a.add_argument("--json", action="store_true", help="print JSON instead of text")
    c = verbs.add_parser("cost", parents=[common], help="normal vs separable layer costs",
                         description="Multiplications and parameters of a normal, a depthwise "
                         "separable and a spatially separable convolution layer.")
    c.add_argument("--input", required=True, metavar="HxWxC", help="input shape, e.g. 12x12x3")
    c.add_argument("--kernel", required=True, metavar="K", help="kernel size, e.g. 5 or 5x3")
    c.add_argument("--filters", required=True, type=int, metavar="N", help="output channels")
    c.add_argument("--depth-multiplier", type=int, default=1, metavar="M")
    c.add_argument("--padding", default="valid", choices=("valid", "same"))
    c.add_argument("--stride", default="1", metavar="S", help="e.g. 2 or 2x1")
    c.add_argument("--json", action="store_true", help="print JSON instead of a table")


# Verbs that other parts of sepconv add: a module ``sepconv.cli.<name>`` with
# ``add_parser(verbs, common)`` and ``run(args, say) -> int``; wired when the module exists.
EXTRA_VERBS = ("convert", "experiment")


def _extra_modules() -> list[Any]:
    names = [f"{__package__}.{name}" for name in EXTRA_VERBS]
    return [importlib.import_module(n) for n in names if importlib.util.find_spec(n) is not None]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sepconv", description="Separable convolutions, made real.")
    parser.add_argument("--version", action="version", version=f"sepconv {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    common = _common()
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    demo = verbs.add_parser("demo", parents=[common], help="the whole story on a real photograph")
    demo.add_argument("--out", default="sepconv-demo", metavar="DIR",
                      help="folder for the figures (replaced on each run; default ./sepconv-demo)")
    _add_filter(verbs, common)
    _add_reports(verbs, common)
    for module in _extra_modules():
        module.add_parser(verbs, common)
    return parser


def _filter(args: argparse.Namespace) -> int:
    from . import files
    from .spec import parse_kernel

    if args.chunks is not None and args.chunks < 1:
        raise bad_argument("--chunks", "a positive number of pixels", args.chunks, "e.g. --chunks 2048")
    options = files.FilterOptions(parse_kernel(args.kernel), args.mode, args.method, args.normalize,
                                  args.force, args.suffix, args.chunks)
    return files.run(args.input, args.output, options, quiet=args.quiet, say=say)


def _analyze(args: argparse.Namespace) -> int:
    from . import report
    from .spec import parse_kernel, parse_shape

    info = report.analyze(parse_kernel(args.kernel), parse_shape(args.shape, "shape"), args.dtype)
    lines = [report.to_json(info)] if args.json else report.analysis_lines(info)
    for line in lines:
        say(line)
    return 0


def _cost(args: argparse.Namespace) -> int:
    from . import report
    from .spec import parse_shape

    shape = parse_shape(args.input, "input")
    n = len(shape) - 1
    kernel = parse_shape(args.kernel, "kernel", dims=(1, n))
    stride = parse_shape(args.stride, "stride", dims=(1, n))
    info = report.layer_costs(shape, kernel, args.filters, depth_multiplier=args.depth_multiplier,
                              padding=args.padding, stride=stride)
    lines = [report.to_json(info)] if args.json else report.cost_lines(info)
    for line in lines:
        say(line)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from . import demo

    return demo.run(args.out, say=say)


VERBS = {"demo": _demo, "filter": _filter, "analyze": _analyze, "cost": _cost}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (argparse exits with 2 on a usage error)."""
    args = build_parser().parse_args(argv)
    try:
        if args.verb in VERBS:
            return VERBS[args.verb](args)
        return int(importlib.import_module(f"{__package__}.{args.verb}").run(args, say))
    except KeyboardInterrupt:
        print("sepconv: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        known = isinstance(exc, (SepconvError, OSError))
        text = _describe(exc) if known else (
            f"unexpected {type(exc).__name__}: {exc}; run again with --debug and report the traceback")
        print(f"sepconv: error: {text}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
