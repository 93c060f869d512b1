"""16-bit PNG files, which Pillow reads and writes only for gray images.

Writing is simple (filter type 0, one zlib stream). Reading undoes the five PNG row filters:
``None``, ``Sub`` and ``Up`` are vectorized, ``Average`` and ``Paeth`` go pixel by pixel, so a
large 16-bit color PNG made by another program takes a few seconds per megapixel (TIFF is the
faster 16-bit format).

>>> rgb = np.arange(2 * 3 * 3, dtype=np.uint16).reshape(2, 3, 3) * 3000
>>> data = encode(rgb)
>>> is_png16(data[:32]), bool(np.array_equal(decode(data), rgb))
(True, True)
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour type for 1, 2, 3, 4 channels: gray, gray + alpha, RGB, RGBA
_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}
_CHANNELS = {v: k for k, v in _COLOR_TYPE.items()}


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def encode(image: np.ndarray) -> bytes:
    """A 16-bit PNG of an (H, W) or (H, W, 1..4) uint16 array."""
    pixels = image if image.ndim == 3 else image[:, :, None]
    h, w, c = pixels.shape
    header = struct.pack(">IIBBBBB", w, h, 16, _COLOR_TYPE[c], 0, 0, 0)
    rows = pixels.astype(">u2").reshape(h, w * c).view(np.uint8)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1)  # filter byte 0 per row
    return (SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
            + _chunk(b"IEND", b""))


def is_png16(head: bytes) -> bool:
    """True for the first bytes of a non-interlaced 16-bit PNG with more than one channel."""
    if len(head) < 29 or not head.startswith(SIGNATURE) or head[12:16] != b"IHDR":
        return False
    depth, color = head[24], head[25]
    return depth == 16 and color in (2, 4, 6)


def _chunks(data: bytes) -> tuple[bytes, bytes]:
    """(IHDR body, concatenated IDAT bodies); ValueError when the file is cut short."""
    pos, header, idat = len(SIGNATURE), b"", []
    while pos + 8 <= len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            break
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            return header, b"".join(idat)
        pos += 12 + length
    raise ValueError("the PNG file is truncated (no IEND chunk)")


def _sequential(kind: int, line: np.ndarray, prev: np.ndarray, bpp: int) -> np.ndarray:
    """Undo the Average (3) or Paeth (4) filter of one row, pixel by pixel."""
    cur = np.zeros(line.size + bpp, dtype=np.int16)
    up = np.concatenate([np.zeros(bpp, np.int16), prev.astype(np.int16)])
    for i in range(bpp, cur.size, bpp):
        a, b, c = cur[i - bpp:i], up[i:i + bpp], up[i - bpp:i]
        if kind == 3:
            pred = (a + b) // 2
        else:
            p = a + b - c
            pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
            pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        cur[i:i + bpp] = (line[i - bpp:i] + pred) & 255
    return cur[bpp:].astype(np.uint8)


def _unfilter(raw: np.ndarray, bpp: int) -> np.ndarray:
    out = np.zeros((raw.shape[0] + 1, raw.shape[1] - 1), dtype=np.uint8)
    for y, row in enumerate(raw):
        kind, line, prev = int(row[0]), row[1:], out[y]
        if kind == 0:
            out[y + 1] = line
        elif kind == 1:  # uint8 sums wrap modulo 256, as the filter asks
            out[y + 1] = np.cumsum(line.reshape(-1, bpp), axis=0, dtype=np.uint8).ravel()
        elif kind == 2:
            out[y + 1] = line + prev
        elif kind in (3, 4):
            out[y + 1] = _sequential(kind, line, prev, bpp)
        else:
            raise ValueError(f"row {y} has an unknown PNG filter type {kind}")
    return out[1:]


def decode(data: bytes) -> np.ndarray:
    """The (H, W, C) uint16 pixels of a non-interlaced 16-bit PNG (see :func:`is_png16`)."""
    header, idat = _chunks(data)
    w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 16 or color not in _CHANNELS or interlace:
        raise ValueError("only non-interlaced 16-bit PNGs are read here; save it as TIFF instead")
    c = _CHANNELS[color]
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8)
    if raw.size != h * (1 + w * c * 2):
        raise ValueError("the PNG image data has the wrong size (a damaged file?)")
    pixels = _unfilter(raw.reshape(h, 1 + w * c * 2), 2 * c)
    return pixels.view(">u2").reshape(h, w, c).astype(np.uint16)
