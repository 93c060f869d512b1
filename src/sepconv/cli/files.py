"""``sepconv filter``: one file, a folder or a glob of files, one file in memory at a time."""

from __future__ import annotations

import glob
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import sepconv

from .._errors import SepconvError, bad_argument
from . import io, report
from .spec import KernelSpec


@dataclass(frozen=True)
class FilterOptions:
    """What ``sepconv filter`` was asked to do, besides which files."""

    kernel: KernelSpec
    mode: str = "reflect"
    method: str = "auto"
    normalize: bool = False
    force: bool = False
    suffix: str | None = None  # folder mode: the outputs' extension (default: the input's)
    chunks: int | None = None  # TIFF → TIFF chunk by chunk through sepconv.dask (see LARGE_TIFF)


# TIFF inputs larger than this (bytes on disk) are filtered chunk by chunk through sepconv.dask
# when the output is a TIFF too, so an image larger than memory never has to fit in it.
LARGE_TIFF = 512 * 2**20
_TIFF = (".tif", ".tiff")


def _has_magic(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def find_inputs(pattern: str) -> tuple[list[Path], bool]:
    """The input files and whether IN named several (a folder or a glob)."""
    path = Path(pattern)
    if path.is_file() or not (path.is_dir() or _has_magic(pattern)):
        return [path], False
    candidates = path.iterdir() if path.is_dir() else map(Path, glob.glob(pattern))
    files = sorted(p for p in candidates if p.is_file() and p.suffix.lower() in io.FORMATS)
    if not files:
        raise bad_argument("IN", f"a folder or glob with image files {tuple(sorted(io.FORMATS))}",
                           pattern, "check the folder or the pattern (quote it in the shell)")
    return files, True


def image_axes(source: Path, image: np.ndarray, ndim: int) -> tuple[int, ...] | None:
    """The axes an ``ndim``-D kernel filters: a TIFF's Y and X axes (every page of a stack, as
    ``sepconv.dask.filter_tiff`` does), else the first ``ndim`` of (H, W, C); None: all."""
    if image.ndim <= ndim:
        return None
    if ndim == 2 and source.suffix.lower() in _TIFF:
        tifffile = io.require("tifffile", "reading TIFF")
        with tifffile.TiffFile(source) as tif:
            order = tif.series[0].axes
        if len(order) == image.ndim and "Y" in order and "X" in order:
            return (order.index("Y"), order.index("X"))
    return tuple(range(ndim))


def filter_image(image: np.ndarray, options: FilterOptions,
                 axes: tuple[int, ...] | None = None) -> np.ndarray:
    """Correlate an image with the kernel along ``axes`` (default: every channel of an (H, W) or
    (H, W, C) image)."""
    ndim = len(options.kernel.shape)
    if axes is None and image.ndim > ndim:
        axes = tuple(range(ndim))
    return sepconv.correlate(image, options.kernel.kernel, mode=options.mode, method=options.method,
                             axes=axes)


def _chunked(source: Path, out: Path, options: FilterOptions) -> bool:
    if source.suffix.lower() not in _TIFF or out.suffix.lower() not in _TIFF:
        return False
    return options.chunks is not None or (source.is_file() and source.stat().st_size > LARGE_TIFF)


def filter_tiff_chunked(source: Path, out: Path, options: FilterOptions) -> str:
    """TIFF → float32 TIFF, a band of chunks at a time (sepconv.dask.filter_tiff), then rename."""
    try:
        import zarr  # noqa: F401  (tifffile reads tiles lazily through it)

        from .. import dask as sepconv_dask
    except ImportError:
        raise SepconvError("chunked TIFF filtering (--chunks, or a TIFF over 512 MiB) needs dask and "
                           "zarr, which are not installed; pip install 'sepconv[dask]'") from None

    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part.tif")
    os.close(fd)
    temp = Path(name)
    try:
        shape = sepconv_dask.filter_tiff(source, temp, options.kernel.kernel, mode=options.mode,
                                         method=options.method, output=np.float32,
                                         chunks=options.chunks or 1024)
        os.replace(temp, out)
    except Exception as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, (SepconvError, OSError)):
            raise
        raise bad_argument("IN", "a readable TIFF image", str(source),
                           f"could not read it tile by tile ({type(exc).__name__}: {exc})") from None
    size = "×".join(map(str, shape))
    return f"wrote {out} ({size}, TIFF float32; {options.kernel.text}, chunk by chunk)"


def filter_file(source: Path, out: Path, options: FilterOptions) -> str:
    """Read, filter, encode and atomically write one file; returns a one-line summary."""
    fmt = io.image_format(out, "OUT")
    io.check_target(out, source, options.force)
    if _chunked(source, out, options):
        if not source.is_file():
            raise bad_argument("IN", "an existing file", str(source), "check the path")
        return filter_tiff_chunked(source, out, options)
    image = io.read_image(source)
    axes = image_axes(source, image, len(options.kernel.shape))
    result = filter_image(image, options, axes)
    bits = 16 if fmt == "PNG" and image.dtype == np.uint16 else 8
    io.write_atomic(out, io.encode(result, fmt, bits=bits, normalize=options.normalize))
    method = options.method
    if method == "auto":
        method = report.auto_method(options.kernel.kernel, image.shape, result.dtype, axes)
    stored = f"{bits}-bit {fmt}" if fmt in ("PNG", "JPEG") else f"{fmt} {result.dtype}"
    size = "×".join(map(str, image.shape))
    return f"wrote {out} ({size}, {stored}; {options.kernel.text} by the {method} plan)"


def _targets(sources: list[Path], out_dir: Path, options: FilterOptions) -> list[Path]:
    if out_dir.exists() and not out_dir.is_dir():
        raise bad_argument("OUT", "a folder when IN names several files", str(out_dir),
                           "give a folder name (it is created)")
    targets = [out_dir / (s.stem + (options.suffix or s.suffix)) for s in sources]
    seen: dict[Path, Path] = {}
    for source, target in zip(sources, targets):
        if target in seen:
            raise bad_argument("IN", "files whose outputs have different names",
                               f"{seen[target].name} and {source.name} → {target.name}",
                               "filter them separately or pick another --format")
        seen[target] = source
        if target.exists():
            io.check_target(target, source, options.force)
    return targets


def filter_many(sources: list[Path], out_dir: Path, options: FilterOptions, *, quiet: bool,
                say: Callable[[str], None]) -> int:
    """Filter every file into ``out_dir``; a bad file is reported and skipped. Exit code."""
    targets = _targets(sources, out_dir, options)
    tqdm = io.require("tqdm", "the progress bar of sepconv filter").tqdm
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    bar = tqdm(list(zip(sources, targets)), disable=quiet, file=sys.stderr, unit="image",
               desc="filtering")
    for source, target in bar:
        try:
            filter_file(source, target, options)
        except SepconvError as exc:
            failed += 1
            bar.write(f"sepconv: error: {source}: {exc}", file=sys.stderr)
    bar.close()
    done = len(sources) - failed
    if failed or not quiet:
        say(f"filtered {done} of {len(sources)} files into {out_dir}"
            + (f" ({failed} failed)" if failed else ""))
    return 1 if failed else 0


def run(pattern: str, out: str, options: FilterOptions, *, quiet: bool,
        say: Callable[[str], None]) -> int:
    """``sepconv filter IN OUT``: exit code 0 on success, 1 if any file failed."""
    sources, many = find_inputs(pattern)
    if many:
        return filter_many(sources, Path(out), options, quiet=quiet, say=say)
    summary = filter_file(sources[0], Path(out), options)
    if not quiet:
        say(summary)
    return 0
