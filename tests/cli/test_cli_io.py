"""Image files: 16-bit PNG codec, integer conversion, atomic writes, the demo's folder."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from sepconv import SepconvError
from sepconv.cli import io, png16

from .conftest import files_in


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filtered_png(image: np.ndarray, kinds: list[int]) -> bytes:
    """A 16-bit PNG whose row y uses filter type kinds[y % len(kinds)] (plain-Python encoder)."""
    h, w, c = image.shape
    rows = image.astype(">u2").reshape(h, w * c).view(np.uint8).astype(int).tolist()
    bpp, raw, prev = 2 * c, bytearray(), [0] * (w * c * 2)
    for y, row in enumerate(rows):
        kind = kinds[y % len(kinds)]
        left = [0] * bpp + row[:-bpp]
        up_left = [0] * bpp + prev[:-bpp]
        pred = {0: [0] * len(row), 1: left, 2: prev, 3: [(a + b) // 2 for a, b in zip(left, prev)],
                4: [_paeth(a, b, cc) for a, b, cc in zip(left, prev, up_left)]}[kind]
        raw += bytes([kind] + [(x - p) % 256 for x, p in zip(row, pred)])
        prev = row
    color = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    header = struct.pack(">IIBBBBB", w, h, 16, color, 0, 0, 0)
    return (png16.SIGNATURE + png16._chunk(b"IHDR", header) + png16._chunk(b"IDAT", zlib.compress(raw))
            + png16._chunk(b"IEND", b""))


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_png16_reads_every_row_filter(channels):
    rng = np.random.default_rng(channels)
    image = rng.integers(0, 65536, size=(7, 5, channels), dtype=np.uint16)
    data = filtered_png(image, [0, 1, 2, 3, 4])
    assert png16.is_png16(data[:32])
    np.testing.assert_array_equal(png16.decode(data), image)
    np.testing.assert_array_equal(png16.decode(png16.encode(image)), image)


def test_png16_errors():
    data = png16.encode(np.zeros((3, 4, 3), np.uint16))
    with pytest.raises(ValueError, match="truncated"):
        png16.decode(data[:-20])
    interlaced = bytearray(data)
    interlaced[28] = 1
    with pytest.raises(ValueError, match="only non-interlaced 16-bit PNGs"):
        png16.decode(bytes(interlaced))
    assert not png16.is_png16(b"\x89PNG")
    assert not png16.is_png16(png16.encode(np.zeros((3, 4), np.uint16)))  # gray: Pillow reads it


def test_png16_gray_round_trip_through_read_image(tmp_path):
    image = np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000
    (tmp_path / "g.png").write_bytes(io.encode(image, "PNG", bits=16))
    read = io.read_image(tmp_path / "g.png")
    assert read.dtype == np.uint16
    np.testing.assert_array_equal(read, image)


def test_to_integers():
    values = np.array([-3.0, 0.5, 1.5, 2.4999, 254.5, 300.0, np.nan])
    assert io.to_integers(values, 8, False).tolist() == [0, 0, 2, 2, 254, 255, 0]
    assert io.to_integers(values[:-1], 8, True).tolist() == [0, 3, 4, 5, 217, 255]
    assert io.to_integers(np.full(3, 7.0), 16, True).tolist() == [0, 0, 0]
    assert io.to_integers(np.array([70000.0]), 16, False).dtype == np.uint16


def test_write_atomic_replaces_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "a.bin"
    io.write_atomic(target, b"one")
    io.write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert files_in(tmp_path) == ["a.bin"]


def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(io.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        io.write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert files_in(tmp_path) == ["a.bin"]


def test_fresh_folder_only_replaces_its_own(tmp_path):
    folder = io.fresh_folder(tmp_path / "demo")
    (folder / "figure.png").write_bytes(b"x")
    assert files_in(io.fresh_folder(folder)) == [io.MARKER]
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("years of work")
    with pytest.raises(SepconvError, match="--out: expected a new or empty folder, or one made by sepconv"):
        io.fresh_folder(theirs)
    assert files_in(theirs) == ["thesis.tex"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(SepconvError, match="--out: expected a folder"):
        io.fresh_folder(tmp_path / "file")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert files_in(io.fresh_folder(empty)) == [io.MARKER]


def test_require_names_the_extra(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "tqdm", None)
    with pytest.raises(SepconvError) as info:
        io.require("tqdm", "the progress bar")
    assert str(info.value) == ("the progress bar needs tqdm, which is not installed; "
                               "pip install 'sepconv[cli]'")
