"""``sepconv experiment capacity|convert``: run a study, write results.json and figures, print a table.

The studies live in :mod:`sepconv.experiments` (they need torch, scikit-learn and scikit-image);
this module only parses options and prints. Progress bars go to stderr; ``--quiet`` hides them.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from typing import Any

DEFAULT_OUT = {"capacity": "sepconv-capacity", "convert": "sepconv-convert"}


def add_parser(verbs: Any, common: argparse.ArgumentParser | None = None) -> None:
    """Add the ``experiment`` verb with its two studies to ``verbs`` (an argparse subparsers)."""
    parents = [common] if common is not None else []
    p = verbs.add_parser("experiment", parents=parents, help="train small CNNs: capacity, convert",
                         description="Measure the depthwise separable drawback with real training.")
    studies = p.add_subparsers(dest="study", required=True, metavar="STUDY")
    capacity = studies.add_parser("capacity", parents=parents,
                                  help="normal vs separable CNNs at several widths")
    capacity.add_argument("--seeds", type=int, metavar="N", help="seeds per model (full: 5, quick: 2)")
    convert = studies.add_parser("convert", parents=parents,
                                 help="convert a trained CNN at several multipliers and ranks")
    convert.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the trained model")
    for name, sub in (("capacity", capacity), ("convert", convert)):
        sub.add_argument("--quick", action="store_true", help="a smaller run of a few minutes")
        sub.add_argument("--out", metavar="DIR", help=f"output folder (default ./{DEFAULT_OUT[name]})")
        sub.add_argument("--threads", type=int, default=1, metavar="T",
                         help="torch threads (default 1; results depend on it and record it)")
        sub.add_argument("--quiet", "-q", action="store_true", help="no progress bars, no table")


def _config(args: argparse.Namespace, module: Any) -> Any:
    config = module.QUICK if args.quick else module.FULL
    changes: dict[str, int] = {"threads": args.threads}
    if getattr(args, "seeds", None) is not None:
        changes["seeds"] = args.seeds
    if getattr(args, "seed", None) is not None:
        changes["seed"] = args.seed
    return dataclasses.replace(config, **changes)


def run(args: argparse.Namespace, say: Callable[[str], None] = print) -> int:
    """Run the study named by ``args.study``; returns the exit code."""
    from sepconv._errors import SepconvError
    from sepconv.experiments import capacity, conversion

    if args.threads < 1 or (getattr(args, "seeds", None) is not None and args.seeds < 1):
        raise SepconvError("--threads/--seeds: expected a positive integer; pass 1 or more")
    module: Any = capacity if args.study == "capacity" else conversion
    config = _config(args, module)
    start = time.perf_counter()
    records = module.run(config, show_progress=not args.quiet)
    paths = module.write(records, config, args.out or DEFAULT_OUT[args.study])
    if not args.quiet:
        lines = module.table(module.summarize(records)) if module is capacity else module.table(records)
        for line in lines:
            say(line)
        say(f"{len(records)} records in {time.perf_counter() - start:.0f} s, "
            f"{config.threads} thread(s); wrote {', '.join(str(p) for p in paths)}")
    return 0
