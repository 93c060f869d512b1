"""``sepconv filter``: round trips against sepconv.correlate, folders, globs and refusals."""

from __future__ import annotations

import numpy as np
import pytest

import sepconv
from sepconv import kernels
from sepconv.cli import io
from sepconv.cli.main import main

from .conftest import files_in


def expected(image: np.ndarray, kernel: object, **kw: object) -> np.ndarray:
    axes = (0, 1) if image.ndim == 3 else None
    return sepconv.correlate(image, kernel, axes=axes, **kw)


def as_integers(values: np.ndarray, top: int) -> np.ndarray:
    return np.clip(np.rint(values.astype(np.float64)), 0, top)


@pytest.mark.parametrize(("source", "target", "spec", "kernel", "top"), [
    ("gray.png", "out.png", "sobel-x", kernels.sobel("x"), 255),
    ("color.png", "out.png", "gaussian:1.5", kernels.gaussian(1.5), 255),
    ("rgba.png", "out.png", "box:3", kernels.box(3), 255),
    ("gray16.png", "out.png", "log:1.4", kernels.log(1.4), 65535),
    ("color16.png", "out.png", "binomial:5", kernels.binomial(5), 65535),
    ("depth16.tif", "out.png", "box:5", kernels.box(5), 65535),
])
def test_integer_outputs_clip_and_round(images, source, target, spec, kernel, top):
    image = io.read_image(images[source])
    out = images[source].parent.parent / target
    assert main(["filter", str(images[source]), str(out), "--kernel", spec, "--quiet"]) == 0
    written = io.read_image(out)
    assert written.dtype == (np.uint16 if top == 65535 else np.uint8)
    np.testing.assert_array_equal(written, as_integers(expected(image, kernel), top))


@pytest.mark.parametrize(("source", "target", "dtype"), [
    ("gray.png", "out.tif", np.float32), ("color.png", "out.npy", np.float32),
    ("gray16.png", "out.tiff", np.float32), ("colorf.tif", "out.npy", np.float32),
    ("noise.npy", "out.tif", np.float32), ("color64.npy", "out.npy", np.float64),
    ("photo.jpg", "out.npy", np.float32),
])
def test_float_outputs_keep_values(images, source, target, dtype):
    image = io.read_image(images[source])
    out = images[source].parent.parent / target
    assert main(["filter", str(images[source]), str(out), "-k", "scharr-y", "--mode", "mirror",
                 "-q"]) == 0
    written = io.read_image(out)
    assert written.dtype == dtype
    np.testing.assert_array_equal(written, expected(image, kernels.scharr("y"), mode="mirror"))


def test_jpeg_output_is_close(images):
    image = io.read_image(images["photo.jpg"])
    out = images["photo.jpg"].parent / "out.jpg"
    assert main(["filter", str(images["photo.jpg"]), str(out), "-k", "gaussian:1", "-q"]) == 0
    written = io.read_image(out).astype(float)
    assert np.abs(written - as_integers(expected(image, kernels.gaussian(1.0)), 255)).mean() < 2.0


@pytest.mark.parametrize("method", ["direct", "separable", "fft"])
def test_method_and_mode_are_passed_on(images, method, tmp_path):
    out = tmp_path / "out.npy"
    args = ["filter", str(images["noise.npy"]), str(out), "-k", "sobel-y", "--method", method,
            "--mode", "valid", "-q"]
    assert main(args) == 0
    image = np.load(images["noise.npy"])
    np.testing.assert_allclose(np.load(out), expected(image, kernels.sobel("y"), mode="valid"),
                               atol=1e-5)


def test_normalize_stretches_to_the_full_range(images, tmp_path):
    for name, top in (("gray.png", 255), ("gray16.png", 65535)):
        out = tmp_path / f"n-{name}"
        assert main(["filter", str(images[name]), str(out), "-k", "sobel-x", "--normalize", "-q"]) == 0
        values = expected(io.read_image(images[name]), kernels.sobel("x")).astype(np.float64)
        stretched = (values - values.min()) * (top / np.ptp(values))
        written = io.read_image(out)
        assert written.min() == 0 and written.max() == top
        np.testing.assert_array_equal(written, np.rint(stretched))


def test_success_line(images, tmp_path, capsys):
    out = tmp_path / "edges.png"
    assert main(["filter", str(images["gray.png"]), str(out), "-k", "sobel-x"]) == 0
    assert capsys.readouterr().out == f"wrote {out} (40×52, 8-bit PNG; sobel-x by the separable plan)\n"
    out = tmp_path / "blob.tif"
    assert main(["filter", str(images["color.png"]), str(out), "-k", "log:2", "--method", "direct"]) == 0
    assert capsys.readouterr().out == f"wrote {out} (40×52×3, TIFF float32; log:2 by the direct plan)\n"


def test_inline_and_file_kernels(images, tmp_path):
    k = np.array([[1.0, 0.0], [0.0, -1.0]])
    np.save(tmp_path / "k.npy", k)
    image = np.load(images["noise.npy"])
    for spec in (str(tmp_path / "k.npy"), "[[1, 0], [0, -1]]"):
        out = tmp_path / "out.npy"
        assert main(["filter", str(images["noise.npy"]), str(out), "-k", spec, "-q", "--force"]) == 0
        np.testing.assert_array_equal(np.load(out), sepconv.correlate(image, k))


def error_of(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


def test_never_overwrites_without_force(images, tmp_path, capsys):
    out = tmp_path / "out.npy"
    out.write_bytes(b"precious")
    assert main(["filter", str(images["noise.npy"]), str(out), "-k", "box"]) == 1
    assert error_of(capsys) == (f"sepconv: error: OUT: expected a file that does not exist yet, received "
                                f"'{out}'; pass --force to overwrite it, or choose another name\n")
    assert out.read_bytes() == b"precious"
    assert main(["filter", str(images["noise.npy"]), str(out), "-k", "box", "--force", "-q"]) == 0
    np.testing.assert_array_equal(np.load(out), sepconv.correlate(np.load(images["noise.npy"]),
                                                                  kernels.box(3)))
    assert files_in(tmp_path) == sorted(["in", "out.npy"])


def test_never_overwrites_the_input(images, capsys):
    source = images["gray.png"]
    before = source.read_bytes()
    for out in (source, source.parent / ".." / "in" / "gray.png"):
        assert main(["filter", str(source), str(out), "-k", "box", "--force"]) == 1
        assert "OUT: expected a file other than the input" in error_of(capsys)
    assert source.read_bytes() == before


@pytest.mark.parametrize(("content", "message"), [
    (None, "IN: expected an existing file, received '{src}'; check the path"),
    (b"", "IN: expected a valid PNG file, received '{src}'; the file is damaged or not PNG"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "IN: expected a valid PNG file"),
])
def test_bad_input_writes_nothing(tmp_path, capsys, content, message):
    src = tmp_path / "in.png"
    if content is not None:
        src.write_bytes(content)
    out = tmp_path / "out.png"
    assert main(["filter", str(src), str(out), "-k", "sobel-x"]) == 1
    assert error_of(capsys).startswith("sepconv: error: " + message.format(src=src))
    assert not out.exists()
    assert files_in(tmp_path) == (["in.png"] if content is not None else [])


def test_truncated_files_write_nothing(images, tmp_path, capsys):
    for name in ("gray.png", "color16.png", "photo.jpg", "depth16.tif", "noise.npy"):
        data = images[name].read_bytes()
        src = tmp_path / f"cut-{name}"
        src.write_bytes(data[: len(data) // 2])
        out = tmp_path / f"out-{name}"
        assert main(["filter", str(src), str(out), "-k", "box"]) == 1, name
        assert "sepconv: error: IN: expected a valid" in error_of(capsys)
        assert not out.exists()
    assert not [p for p in files_in(tmp_path) if p.startswith((".", "out"))]


@pytest.mark.parametrize(("args", "message"), [
    (["x.png", "out.bmp"], "OUT: expected a file ending in one of ('.jpeg', '.jpg', '.npy', '.png', "
                           "'.tif', '.tiff'), received 'out.bmp'"),
    (["color.png", "out.jpg", "-k", "box"], None),
    (["rgba.png", "out.jpg"], "OUT: expected an image with (1, 3) channel(s) for JPEG"),
    (["gray.png", "missing/out.png"], "OUT: expected a file in an existing folder"),
    (["gray.png", "out.png", "--mode", "reflekt"], "mode: expected one of"),
    (["gray.png", "out.png", "-k", "laplacian", "--method", "separable"],
     "kernel: expected a separable (rank-1) kernel, received one of rank 2"),
])
def test_errors_name_the_fix(images, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(images["gray.png"].parent)
    full = ["filter", *args] + ([] if "-k" in args else ["-k", "box"])
    code = main(full)
    if message is None:
        assert code == 0
        return
    assert code == 1
    assert error_of(capsys).startswith(f"sepconv: error: {message}")
    assert not (images["gray.png"].parent / "out.png").exists()


def test_folder_mode(images, tmp_path, capsys):
    out = tmp_path / "edges"
    assert main(["filter", str(images["gray.png"].parent), str(out), "-k", "sobel-x", "--format", ".npy",
                 "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")
    names = sorted(p.stem for p in images.values())
    assert files_in(out) == [f"{n}.npy" for n in names]
    for name, path in images.items():
        np.testing.assert_array_equal(np.load(out / f"{path.stem}.npy"),
                                      expected(io.read_image(path), kernels.sobel("x")), err_msg=name)


def test_glob_mode_with_progress(images, tmp_path, capsys):
    out = tmp_path / "blurred"
    pattern = str(images["gray.png"].parent / "*.png")
    assert main(["filter", pattern, str(out), "-k", "box:3"]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"filtered 5 of 5 files into {out}\n"
    assert "filtering: 100%" in captured.err and "5/5" in captured.err
    assert files_in(out) == ["color.png", "color16.png", "gray.png", "gray16.png", "rgba.png"]
    # a second run refuses before writing anything, unless --force
    assert main(["filter", pattern, str(out), "-k", "box:3"]) == 1
    assert "pass --force to overwrite it" in capsys.readouterr().err
    assert main(["filter", pattern, str(out), "-k", "box:3", "--force", "-q"]) == 0
    assert files_in(out) == ["color.png", "color16.png", "gray.png", "gray16.png", "rgba.png"]


def test_folder_mode_skips_a_bad_file_and_fails(images, tmp_path, capsys):
    (images["gray.png"].parent / "broken.tif").write_bytes(b"II*\0garbage")
    out = tmp_path / "out"
    assert main(["filter", str(images["gray.png"].parent), str(out), "-k", "box", "-q"]) == 1
    captured = capsys.readouterr()
    assert captured.out == f"filtered 10 of 11 files into {out} (1 failed)\n"
    assert "broken.tif: IN: expected a valid TIFF file" in captured.err
    assert "broken.tif" not in files_in(out) and len(files_in(out)) == 10
    assert not [p for p in files_in(out) if p.startswith(".")]


def test_folder_mode_errors(images, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["filter", str(empty), str(tmp_path / "o"), "-k", "box"]) == 1
    assert "IN: expected a folder or glob with image files" in capsys.readouterr().err
    folder = str(images["gray.png"].parent)
    assert main(["filter", folder, folder, "-k", "box", "--force"]) == 1
    assert "OUT: expected a file other than the input" in capsys.readouterr().err
    np.save(images["gray.png"].with_suffix(".npy"), np.zeros((3, 3)))
    assert main(["filter", folder, str(tmp_path / "o"), "-k", "box", "--format", ".png"]) == 1
    assert "expected files whose outputs have different names" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_tiff_chunk_by_chunk_equals_in_memory(images, tmp_path):
    pytest.importorskip("dask")
    pytest.importorskip("zarr")
    for name in ("depth16.tif", "colorf.tif"):
        image = io.read_image(images[name])
        out = tmp_path / f"chunked-{name}"
        assert main(["filter", str(images[name]), str(out), "-k", "gaussian:1.5", "--chunks", "16",
                     "-q"]) == 0
        written = io.read_image(out)
        assert written.dtype == np.float32
        np.testing.assert_allclose(written, expected(image, kernels.gaussian(1.5)), atol=1e-4)
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]
    assert main(["filter", str(images["depth16.tif"]), str(tmp_path / "x.tif"), "-k", "box:3",
                 "--chunks", "0"]) == 1


def test_a_tiff_stack_is_filtered_page_by_page_in_memory_and_chunked(tmp_path):
    """(pages, Y, X): both paths filter each page's Y and X, never across pages."""
    tifffile = pytest.importorskip("tifffile")
    pytest.importorskip("zarr")
    stack = np.random.default_rng(0).integers(0, 60000, (3, 40, 30)).astype(np.uint16)
    source = tmp_path / "stack.tif"
    tifffile.imwrite(source, stack, photometric="minisblack")  # three pages
    want = np.stack([sepconv.correlate(page.astype(np.float32), kernels.gaussian(1.5))
                     for page in stack])
    for extra, name in (([], "memory.tif"), (["--chunks", "16"], "chunked.tif")):
        assert main(["filter", str(source), str(tmp_path / name), "-k", "gaussian:1.5", "-q",
                     *extra]) == 0
        got = tifffile.imread(tmp_path / name)
        assert got.shape == stack.shape
        np.testing.assert_allclose(got.astype(np.float64), want, rtol=1e-5, atol=0.05)
