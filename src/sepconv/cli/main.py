"""Entry point of the ``sepconv`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._errors import SepconvError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sepconv", description="Separable convolutions, made real.")
    verbs = parser.add_subparsers(dest="verb", required=True)
    verbs.add_parser("demo", help="the Sobel and depthwise separable examples on a real photo")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.verb == "demo":
            from . import demo

            return demo.run()
    except SepconvError as exc:
        print(f"sepconv: error: {exc}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
