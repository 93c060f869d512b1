"""Lazy, chunked filtering of dask arrays: exact at the seams, the border mode only at the edges.

``sepconv.correlate``, ``convolve``, ``correlate_separable`` and ``convolve_separable`` call
:func:`filter_array` when given a ``dask.array.Array`` and return a lazy dask array; arguments
are checked at once, nothing is computed until asked. :func:`filter_tiff` filters a TIFF image
or stack larger than memory, reading and writing it piece by piece.

How the result stays equal to the in-memory one, per filtered axis (kernel size ``k``,
``origin`` ``o``):

1. the kernel reaches ``before = k//2 + o`` samples back and ``after = k - 1 - before`` forward;
2. chunks shorter than ``max(before, after) + 1`` are merged with their neighbours: the only
   rechunk, and only where needed;
3. ``map_overlap`` with depth ``(before, after)`` and ``boundary='none'`` hands each chunk its
   true neighbours' samples;
4. a block at the array's edge is padded there by the border mode with ``numpy.pad``: exact,
   since it holds more samples from that edge than the pad reads (or the whole axis). ``wrap``
   needs the far end of the array instead: the whole array is padded once beforehand, the pads
   joining the first and last chunks;
5. each extended block is correlated in ``valid`` mode by one shared plan, serially
   (``parallel=False``: dask owns the threads).

Output chunks equal the (merged) input chunks; in ``valid`` mode the first chunk is ``before``
shorter and the last ``after`` shorter.

>>> import dask.array as da
>>> import sepconv
>>> x = da.arange(12.0, chunks=5)
>>> y = sepconv.correlate(x, [1.0, 1.0, 1.0], mode="wrap")
>>> y.chunks
((5, 5, 2),)
>>> y.compute()
array([12.,  3.,  6.,  9., 12., 15., 18., 21., 24., 27., 30., 21.])
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from typing import Any

import dask.array as da
import numpy as np

from . import _checks, _plan, _request
from ._errors import bad_argument

Reach = dict[int, tuple[int, int]]


def filter_array(x: da.Array, kernel: _plan.Kernel, *, mode: object, cval: object, origin: object,
                 axes: object, output: object, method: object, flip: bool) -> da.Array:
    """The lazy counterpart of the NumPy path: validate and plan now, compute chunk by chunk later."""
    _check_input(x, output)
    request = _request.validate(x.shape, x.dtype, kernel, mode=mode, cval=cval, origin=origin,
                                  axes=axes, output=output, method=method, flip=flip)
    if x.size == 0 or 0 in request.out_shape:
        return da.zeros(request.out_shape, dtype=request.final)
    return _apply(x, request)


def _check_input(x: da.Array, output: object) -> None:
    if any(np.isnan(c) for chunks in x.chunks for c in chunks):
        raise bad_argument("input", "a dask array with known chunk sizes", "unknown (NaN) chunk sizes",
                           "call x.compute_chunk_sizes() first")
    _checks.as_input(np.empty((0,) * x.ndim, dtype=x.dtype))  # dtype and ndim, as for NumPy input
    if isinstance(output, np.ndarray) or _request.is_dask_array(output):
        raise bad_argument(
            "output", "None or a dtype for a dask input (the result is lazy)",
            f"an array of shape {getattr(output, 'shape', '?')}",
            "pass output=<dtype>, then write the result with dask.array.store(result, target)",
        )


def _apply(x: da.Array, request: _request.Request) -> da.Array:
    kshape = tuple(request.kernel.shape)
    reach = {axis: _plan.pad_widths(k, o) for axis, k, o in zip(request.axes, kshape, request.origins)}
    x = _merge_small_chunks(x, reach)
    block_shape = tuple(max(c) + sum(reach.get(axis, (0, 0))) for axis, c in enumerate(x.chunks))
    plan = _plan.make_plan(request.kernel, request.method, request.dtype, shape=block_shape,
                           axes=request.axes, integer_output=request.final.kind in "iu")
    if request.mode == "wrap":  # the far end of the array lives in other chunks: pad it globally
        x = _pad_wrap(x, reach)
    edge_mode = request.mode if request.mode not in ("wrap", "valid") else None
    block = functools.partial(_filter_block, plan=plan, axes=request.axes, reach=reach,
                              edge_mode=edge_mode, cval=request.cval, dtype=request.dtype,
                              final=request.final)
    depth = {axis: r for axis, r in reach.items() if len(x.chunks[axis]) > 1}  # else no neighbours
    return da.map_overlap(
        block, x, depth=depth, boundary="none", trim=False, allow_rechunk=False,
        chunks=_out_chunks(x.chunks, reach, padded=edge_mode is not None), dtype=request.final,
        meta=np.empty((0,) * x.ndim, dtype=request.final), token="sepconv-filter",
    )


def _filter_block(block: np.ndarray, *, plan: _plan.Plan, axes: tuple[int, ...], reach: Reach,
                  edge_mode: str | None, cval: float, dtype: np.dtype, final: np.dtype,
                  block_info: dict | None = None) -> np.ndarray:
    """One chunk with its neighbours' samples around it: pad at the array's edges, correlate."""
    if edge_mode is not None and block_info is not None:
        block = _pad_edges(block, block_info[0], reach, edge_mode, cval, dtype)
    no_shift = (0,) * len(axes)  # the padding already carries the origin
    result = _plan.execute(block, plan, axes, "valid", 0.0, no_shift, dtype, parallel=False)
    return _checks.store(result, final, None)


def _pad_edges(block: np.ndarray, info: dict, reach: Reach, mode: str, cval: float,
               dtype: np.dtype) -> np.ndarray:
    """Pad the sides of ``block`` that are the array's edges, as numpy.pad pads the whole array.

    Exact because such a block holds more samples from that edge than the pad reads (chunks
    are at least reach + 1 long), or the whole axis when it is a single chunk.
    """
    where, count = info["chunk-location"], info["num-chunks"]
    pads = [(0, 0)] * block.ndim
    for axis, (before, after) in reach.items():
        pads[axis] = (before if where[axis] == 0 else 0,
                      after if where[axis] == count[axis] - 1 else 0)
    if not any(before or after for before, after in pads):
        return block
    if mode == "constant":  # cval exactly, not cast to an integer input's dtype
        block = block.astype(dtype, copy=False)
    return _plan.pad_array(block, pads, mode, cval)


def merged_chunks(chunks: tuple[int, ...], need: int) -> tuple[int, ...]:
    """Merge chunks shorter than ``need`` into their neighbours (a short tail joins the last one).

    >>> merged_chunks((5, 5, 5, 2), 3)
    (5, 5, 7)
    >>> merged_chunks((1, 1, 1, 1, 1), 3)
    (5,)
    >>> merged_chunks((4, 4), 3)
    (4, 4)
    """
    if len(chunks) == 1 or min(chunks) >= need:
        return chunks
    out: list[int] = []
    run = 0
    for c in chunks:
        run += c
        if run >= need:
            out.append(run)
            run = 0
    if run and out:
        out[-1] += run
    elif run:
        out.append(run)
    return tuple(out)


def _merge_small_chunks(x: da.Array, reach: Reach) -> da.Array:
    new = {}
    for axis, (before, after) in reach.items():
        merged = merged_chunks(x.chunks[axis], max(before, after) + 1)
        if merged != x.chunks[axis]:
            new[axis] = merged
    return x.rechunk(new) if new else x


def _out_chunks(chunks: tuple[tuple[int, ...], ...], reach: Reach, *, padded: bool
                ) -> tuple[tuple[int, ...], ...]:
    """Output chunks: the input's when the edge blocks are padded, else the ends lose the reach."""
    out = []
    for axis, sizes in enumerate(chunks):
        before, after = reach.get(axis, (0, 0)) if not padded else (0, 0)
        new = list(sizes)
        new[0] -= before
        new[-1] -= after
        out.append(tuple(new))
    return tuple(out)


def _pad_wrap(x: da.Array, reach: Reach) -> da.Array:
    """Pad the whole array periodically; the pads join the first and last chunks."""
    for axis, (before, after) in reach.items():
        if before == after == 0:
            continue
        parts = [_wrapped(x, axis, before, start=True), x, _wrapped(x, axis, after, start=False)]
        padded = da.concatenate([p for p in parts if p.shape[axis] > 0], axis=axis)
        sizes = list(x.chunks[axis])
        sizes[0] += before
        sizes[-1] += after
        x = padded.rechunk({axis: tuple(sizes)})
    return x


def _wrapped(x: da.Array, axis: int, width: int, *, start: bool) -> da.Array:
    """The ``width`` samples beyond one end of ``axis`` in 'wrap' mode (any width)."""
    n = x.shape[axis]
    sources = np.pad(np.arange(n), (width, 0) if start else (0, width), mode="wrap")
    sources = sources[:width] if start else sources[n:]
    if width == 0:
        return _take(x, axis, slice(0, 0))
    lo, hi = int(sources.min()), int(sources.max()) + 1
    region = _take(x, axis, slice(lo, hi)).rechunk({axis: -1})  # small: at most the reach
    return _take(region, axis, sources - lo)


def _take(x: da.Array, axis: int, index: slice | np.ndarray) -> da.Array:
    return x[(slice(None),) * axis + (index,)]


def filter_tiff(in_path: str | os.PathLike[str], out_path: str | os.PathLike[str], kernel: object, *,
                convolve: bool = False, mode: str = "reflect", cval: float = 0.0,
                origin: int | Sequence[int] = 0, axes: int | Sequence[int] | None = None,
                output: object = None, method: str = "auto", chunks: int = 1024,
                tile: tuple[int, int] = (256, 256), compression: str | None = None) -> tuple[int, ...]:
    """Filter a TIFF image or stack larger than memory; return the shape written.

    The first series is read lazily, tile by tile (tifffile's zarr store: needs ``zarr``), in
    chunks of ``chunks`` × ``chunks`` pixels (rounded up to whole tiles) one page deep, and
    written as a tiled TIFF one band of chunks at a time, on dask's current scheduler: memory
    holds a few bands, never the whole image. ``axes`` defaults to the series' Y and X axes
    (every page of a stack, every channel of an RGB image); name three axes to filter a volume
    across pages (each page's band then recomputes its chunk of pages). Grayscale pages are
    written as such, interleaved RGB(A) as RGB.
    """
    zarr = _import_zarr()
    import tifffile

    with tifffile.TiffFile(in_path) as tif:
        series = tif.series[0]
        image = da.from_zarr(zarr.open(series.aszarr(), mode="r"))
        y_axis, x_axis = series.axes.index("Y"), series.axes.index("X")
        image = image.rechunk(_tiff_chunks(image.shape, y_axis, chunks, tile))
        result = filter_array(image, _request.kernel_object(kernel), mode=mode, cval=cval,
                              origin=origin, axes=(y_axis, x_axis) if axes is None else axes,
                              output=output, method=method, flip=convolve)
        rgb = series.axes.endswith("YXS") and result.shape[-1] in (3, 4)
        tifffile.imwrite(out_path, _tiles(result, y_axis, tile), shape=result.shape,
                         dtype=result.dtype, tile=tile, photometric="rgb" if rgb else "minisblack",
                         compression=compression, bigtiff=result.nbytes >= 2**31)
    return tuple(result.shape)


def _import_zarr() -> Any:
    try:
        import zarr
    except ImportError:
        raise ImportError("filter_tiff reads TIFF tiles lazily through zarr: pip install zarr") from None
    return zarr


def _tiff_chunks(shape: tuple[int, ...], y_axis: int, side: int, tile: tuple[int, int]
                 ) -> tuple[int, ...]:
    """One page deep, ``side`` rounded up to whole tiles along Y and X, whole samples."""
    side = _checks.require_int(side, "chunks")
    plane = tuple(-(-side // t) * t for t in tile)
    return (1,) * y_axis + plane + tuple(shape[y_axis + 2:])


def _tiles(result: da.Array, y_axis: int, tile: tuple[int, int]) -> Iterator[np.ndarray]:
    """Tiles in TIFF order (page, then row of tiles, then column), a band of rows at a time."""
    th, tw = tile
    height, width = result.shape[y_axis:y_axis + 2]
    rows = -(-max(result.chunks[y_axis]) // th) * th  # whole tiles, about one chunk high
    for page in np.ndindex(*result.shape[:y_axis]):
        plane = result[page]
        for y0 in range(0, height, rows):
            band = np.asarray(plane[y0:y0 + rows].compute())
            for ty in range(0, band.shape[0], th):
                for tx in range(0, width, tw):
                    yield band[ty:ty + th, tx:tx + tw]
