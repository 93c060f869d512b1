"""TIFF to TIFF through dask: read tile by tile (tifffile's zarr store), write a band at a time."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import dask.array as da
import numpy as np

from .. import _checks, _request


def filter_tiff(in_path: str | os.PathLike[str], out_path: str | os.PathLike[str], kernel: object, *,
                convolve: bool = False, mode: str = "reflect", cval: float = 0.0,
                origin: int | Sequence[int] = 0, axes: int | Sequence[int] | None = None,
                output: object = None, method: str = "auto", chunks: int = 1024,
                tile: tuple[int, int] = (256, 256), compression: str | None = None) -> tuple[int, ...]:
    """Filter a TIFF image or stack larger than memory; return the shape written.

    The first series is read lazily, tile by tile (tifffile's zarr store: needs ``zarr``), in
    chunks of ``chunks`` × ``chunks`` pixels (rounded up to whole tiles) one page deep, and
    written as a tiled TIFF one band of chunks at a time, on dask's current scheduler: memory
    holds a few bands, never the whole image. Each chunk's region is read once, with its halo.
    ``axes`` defaults to the series' Y and X axes (every page of a stack, every channel of an RGB
    image); name three axes to filter a volume across pages (each page's band then recomputes
    its chunk of pages). Grayscale pages are written as such, interleaved RGB(A) as RGB.
    """
    zarr = _import_zarr()
    import tifffile

    from . import filter_array

    with tifffile.TiffFile(in_path) as tif:
        series = tif.series[0]
        source = zarr.open(series.aszarr(), mode="r")
        y_axis, x_axis = series.axes.index("Y"), series.axes.index("X")
        image = da.from_zarr(source, chunks=_tiff_chunks(source.shape, y_axis, chunks, tile))
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
