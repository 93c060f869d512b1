"""Small image files of every kind the command line reads, made fresh in tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sepconv.cli import io, png16


def _smooth(rng: np.random.Generator, shape: tuple[int, ...], top: int) -> np.ndarray:
    """A random image with structure (so JPEG keeps it), scaled to 0..top."""
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    base = np.sin(x / 5.0) * np.cos(y / 7.0)
    if len(shape) == 3:
        base = base[..., None] * np.linspace(0.5, 1.0, shape[2])
    noisy = base + 0.1 * rng.standard_normal(shape)
    return (top * (noisy - noisy.min()) / np.ptp(noisy)).round()


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    """name -> path: gray/color 8-bit PNG, 16-bit PNG, JPEG, TIFF (16-bit and float), NPY."""
    rng = np.random.default_rng(7)
    arrays = {
        "gray.png": _smooth(rng, (40, 52), 255).astype(np.uint8),
        "color.png": _smooth(rng, (40, 52, 3), 255).astype(np.uint8),
        "rgba.png": _smooth(rng, (24, 20, 4), 255).astype(np.uint8),
        "gray16.png": _smooth(rng, (40, 52), 65535).astype(np.uint16),
        "color16.png": _smooth(rng, (40, 52, 3), 65535).astype(np.uint16),
        "photo.jpg": _smooth(rng, (48, 64, 3), 255).astype(np.uint8),
        "depth16.tif": _smooth(rng, (40, 52), 65535).astype(np.uint16),
        "colorf.tif": _smooth(rng, (40, 52, 3), 1).astype(np.float32),
        "noise.npy": rng.standard_normal((40, 52)).astype(np.float32),
        "color64.npy": rng.standard_normal((30, 20, 3)),
    }
    folder = tmp_path / "in"
    folder.mkdir()
    paths = {}
    for name, array in arrays.items():
        path = folder / name
        fmt = io.image_format(path, "test")
        bits = 16 if array.dtype == np.uint16 else 8
        data = png16.encode(array) if fmt == "PNG" and bits == 16 else io.encode(array, fmt)
        path.write_bytes(data)
        paths[name] = path
    return paths


def files_in(folder: Path) -> list[str]:
    """Every name in a folder, hidden ones (temporary files) included."""
    return sorted(p.name for p in folder.iterdir())
