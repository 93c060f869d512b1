"""One family of errors: every bad input raises a :class:`SepconvError` (a ``ValueError``).

Messages name the argument, what was expected, what was received and how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SepconvError(ValueError):
    """Bad input to a sepconv function: the message says which argument and how to fix it."""


class NotSeparableError(SepconvError):
    """A kernel that is not an outer product of 1-D kernels was asked to factorize."""


def bad_argument(name: str, expected: str, received: object, fix: str) -> SepconvError:
    """Build the standard message: ``name: expected ..., received ...; fix``."""
    return SepconvError(f"{name}: expected {expected}, received {received!r}; {fix}")


def unknown_choice(name: str, received: object, options: Iterable[str]) -> SepconvError:
    """An unknown string option: list the sorted options and suggest the closest one."""
    opts = tuple(sorted(set(options)))
    hint = ""
    if isinstance(received, str):
        close = difflib.get_close_matches(received.lower(), opts, n=1, cutoff=0.5)
        if close:
            hint = f"did you mean {close[0]!r}? "
    return SepconvError(
        f"{name}: expected one of {opts}, received {received!r}; {hint}use one of the listed names"
    )


# public home of the error classes (tracebacks say sepconv.SepconvError)
SepconvError.__module__ = "sepconv"
NotSeparableError.__module__ = "sepconv"
