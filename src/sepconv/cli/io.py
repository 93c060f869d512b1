"""Image files for the command line: read, encode, and write atomically (never half a file).

Formats go by extension: PNG and JPEG (imageio/Pillow; 16-bit PNG by :mod:`.png16`), TIFF
(tifffile) and NPY (NumPy). ``.npy`` and ``.tif`` keep float values; PNG and JPEG store integers:
values are clipped to 0..255 (0..65535 for a 16-bit PNG) and rounded, unless ``normalize``
stretches the range min..max onto it.
"""

from __future__ import annotations

import importlib
import io
import os
import shutil
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np

from .._errors import SepconvError, bad_argument
from . import png16

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
           ".npy": "NPY"}
INSTALL = "pip install 'sepconv[cli]'"


def require(module: str, purpose: str) -> ModuleType:
    """Import an optional dependency of the command line, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0].replace("skimage", "scikit-image")
        raise SepconvError(f"{purpose} needs {top}, which is not installed; {INSTALL}") from None


def image_format(path: str | Path, name: str) -> str:
    """'PNG', 'JPEG', 'TIFF' or 'NPY', from the file's extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise bad_argument(name, f"a file ending in one of {tuple(sorted(FORMATS))}", str(path),
                           "rename it or convert it to one of these formats")
    return FORMATS[suffix]


def _decode(data: bytes, fmt: str) -> np.ndarray:
    if fmt == "NPY":
        return np.load(io.BytesIO(data), allow_pickle=False)
    if fmt == "TIFF":
        return require("tifffile", "reading TIFF").imread(io.BytesIO(data))
    if fmt == "PNG" and png16.is_png16(data[:32]):
        return png16.decode(data)
    iio = require("imageio.v3", f"reading {fmt}")
    return iio.imread(data, plugin="pillow", extension=".png" if fmt == "PNG" else ".jpg")


def read_image(path: str | Path) -> np.ndarray:
    """The pixels of an image file, as stored (uint8, uint16, float ...); errors are SepconvErrors."""
    fmt = image_format(path, "IN")
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise bad_argument("IN", "an existing file", str(path), "check the path") from None
    except OSError as exc:
        raise bad_argument("IN", "a readable file", str(path), f"({exc.strerror})") from None
    try:
        image = np.asarray(_decode(data, fmt))
    except SepconvError:
        raise
    except Exception as exc:  # every decoder has its own errors for a damaged file
        raise bad_argument("IN", f"a valid {fmt} file", str(path),
                           f"the file is damaged or not {fmt} ({exc})") from None
    if image.size == 0:
        raise bad_argument("IN", f"a valid {fmt} file", str(path), "it holds no pixels (damaged?)")
    if image.dtype.kind not in "biuf" or image.ndim not in (2, 3):
        raise bad_argument("IN", "an (H, W) or (H, W, C) image of numbers", str(path),
                           f"it holds shape {image.shape}, dtype {image.dtype}")
    return image


def to_integers(values: np.ndarray, bits: int, normalize: bool) -> np.ndarray:
    """Clip and round to uint8/uint16, or stretch min..max onto the full range (``normalize``)."""
    top = float(2**bits - 1)
    v = np.nan_to_num(values.astype(np.float64), nan=0.0)
    if normalize:
        low, high = float(v.min()), float(v.max())
        v = (v - low) * (top / (high - low)) if high > low else np.zeros_like(v)
    return np.clip(np.rint(v), 0, top).astype(np.uint8 if bits == 8 else np.uint16)


def _check_channels(image: np.ndarray, fmt: str, allowed: tuple[int, ...]) -> None:
    channels = 1 if image.ndim == 2 else image.shape[2]
    if image.ndim > 3 or channels not in allowed:
        raise bad_argument("OUT", f"an image with {allowed} channel(s) for {fmt}",
                           f"shape {image.shape}", "write .npy or .tif instead")


def encode(image: np.ndarray, fmt: str, *, bits: int = 8, normalize: bool = False) -> bytes:
    """File contents for ``image`` in ``fmt``; ``bits`` (8 or 16) is the PNG depth."""
    buffer = io.BytesIO()
    if fmt == "NPY":
        np.save(buffer, image, allow_pickle=False)
        return buffer.getvalue()
    if fmt == "TIFF":
        rgb = image.ndim == 3 and image.shape[2] in (3, 4)
        require("tifffile", "writing TIFF").imwrite(buffer, image,
                                                    photometric="rgb" if rgb else "minisblack")
        return buffer.getvalue()
    _check_channels(image, fmt, (1, 2, 3, 4) if fmt == "PNG" else (1, 3))
    if fmt == "PNG" and bits == 16:
        return png16.encode(to_integers(image, 16, normalize))
    pixels = to_integers(image, 8, normalize)
    pixels = pixels[:, :, 0] if pixels.ndim == 3 and pixels.shape[2] == 1 else pixels
    iio = require("imageio.v3", f"writing {fmt}")
    if fmt == "JPEG":
        return bytes(iio.imwrite("<bytes>", pixels, plugin="pillow", extension=".jpg", quality=95))
    return bytes(iio.imwrite("<bytes>", pixels, plugin="pillow", extension=".png"))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write to a temporary file in the target folder, then rename it over ``path``.

    An interrupted run leaves either the old file or the new one, never half of one.
    """
    target = Path(path)
    fd, temp = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual mode
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def check_target(out: Path, source: Path, force: bool, name: str = "OUT") -> None:
    """Refuse to overwrite the input (ever) or an existing file (without ``force``)."""
    if out.exists() and source.exists() and out.resolve() == source.resolve():
        raise bad_argument(name, "a file other than the input", str(out),
                           "choose another output name (the input is never overwritten)")
    if out.is_dir():
        raise bad_argument(name, "a file name", f"{out} (a folder)", "give a file name")
    if out.exists() and not force:
        raise bad_argument(name, "a file that does not exist yet", str(out),
                           "pass --force to overwrite it, or choose another name")
    if not out.parent.is_dir():
        raise bad_argument(name, "a file in an existing folder", str(out), "create the folder first")


MARKER = ".sepconv-demo"


def fresh_folder(path: str | Path) -> Path:
    """An empty folder at ``path`` marked as ours; replaces it only if we made it before.

    A non-empty folder without the marker file is refused, so a typo cannot delete someone's data.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise bad_argument("--out", "a folder", f"{folder} (a file)", "choose another --out")
    if folder.is_dir() and any(folder.iterdir()):
        if not (folder / MARKER).is_file():
            raise bad_argument("--out", "a new or empty folder, or one made by sepconv demo",
                               str(folder), "choose another --out, or empty this folder yourself")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by `sepconv demo`; the next run replaces this folder\n")
    return folder
