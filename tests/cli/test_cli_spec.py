"""Kernel SPECs (names, files, inline matrices) and shape strings."""

from __future__ import annotations

import numpy as np
import pytest

from sepconv import SepconvError, kernels
from sepconv.cli.spec import NAMES, parse_kernel, parse_shape


@pytest.mark.parametrize(("spec", "expected"), [
    ("sobel-x", kernels.sobel("x")),
    ("sobel-y:5", kernels.sobel("y", 5)),
    ("SOBEL-X", kernels.sobel("x")),
    ("scharr-x", kernels.scharr("x")),
    ("prewitt-y", kernels.prewitt("y")),
    ("gaussian:2.0", kernels.gaussian(2.0)),
    ("gaussian:2.0,1", kernels.gaussian(2.0, order=1)),
    ("gaussian-x:1.5", kernels.gaussian(1.5, order=(0, 1))),
    ("gaussian-y:1.5,2", kernels.gaussian(1.5, order=(2, 0))),
    ("box:5", kernels.box(5)),
    ("binomial:5", kernels.binomial(5)),
    ("laplacian", kernels.laplacian()),
    ("log:1.4", kernels.log(1.4)),
    (" log : 1.4 ", kernels.log(1.4)),
])
def test_named_kernels(spec, expected):
    parsed = parse_kernel(spec)
    assert parsed.text == spec
    np.testing.assert_array_equal(parsed.dense(), expected.dense())


def test_every_name_builds_with_its_defaults():
    for name in NAMES:
        assert parse_kernel(name).dense().ndim == 2


@pytest.mark.parametrize("spec", ["[[1,2,1],[2,4,2],[1,2,1]]", "[[1, 2, 1], [2, 4, 2], [1, 2, 1],]",
                                  "[[1.0, 2e0, 1], [2, 4, 2], [1, 2, 1]]"])
def test_inline_matrices(spec):
    np.testing.assert_array_equal(parse_kernel(spec).dense(), [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_kernel_files(tmp_path):
    k = np.arange(6.0).reshape(2, 3)
    np.save(tmp_path / "k.npy", k)
    np.savetxt(tmp_path / "k.txt", k)
    np.savetxt(tmp_path / "k.csv", k, delimiter=",")
    for name in ("k.npy", "k.txt", "k.csv"):
        np.testing.assert_array_equal(parse_kernel(str(tmp_path / name)).dense(), k)


@pytest.mark.parametrize(("spec", "message"), [
    ("sobl-x", "received 'sobl-x'; did you mean 'sobel-x'?"),
    ("gausian:2", "did you mean 'gaussian'?"),
    ("frobnicate", "names: binomial, box, gaussian"),
    ("sobel-x:3,4", "expected at most 1 parameter(s) for 'sobel-x', received 'sobel-x:3,4'; "
                    "write sobel-x:size"),
    ("laplacian:2", "expected at most 0 parameter(s) for 'laplacian'"),
    ("box:2.5", "expected an integer for size, received 'box:2.5'; e.g. box:5"),
    ("gaussian:wide", "expected a number for sigma, received 'gaussian:wide'"),
    ("gaussian:-1", "sigma: expected a positive number"),
    ("sobel-x:4", "size: expected 3, 5 or 7"),
    ("[[1,2],[3]]", "expected a rectangular matrix of numbers"),
    ("[[1,2],[3,4]", "expected a matrix of numbers like [[1,2,1],[2,4,2],[1,2,1]]"),
    ("[__import__('os')]", "expected a matrix of numbers"),
    ("[['a']]", "expected a rectangular matrix of numbers"),
    ("[]", "expected a non-empty kernel"),
    ("[[1, NaN]]", "expected finite weights"),
    ("", "expected a kernel name, a file or a matrix"),
    ("missing.npy", "expected an existing .npy or .txt file, received 'missing.npy'; check the path"),
])
def test_bad_specs_say_what_to_do(spec, message):
    with pytest.raises(SepconvError) as info:
        parse_kernel(spec)
    assert message in str(info.value)


def test_unreadable_kernel_files(tmp_path):
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    (tmp_path / "bad.txt").write_text("1 2\n3 x\n")
    for name in ("bad.npy", "bad.txt"):
        with pytest.raises(SepconvError, match=r"expected a readable \.npy file or a text file"):
            parse_kernel(str(tmp_path / name))


@pytest.mark.parametrize(("text", "shape"), [("12x12x3", (12, 12, 3)), ("4096×4096", (4096, 4096)),
                                             ("5", (5,)), ("2, 3", (2, 3)), ("7X7", (7, 7))])
def test_shapes(text, shape):
    assert parse_shape(text, "input") == shape


@pytest.mark.parametrize("text", ["12x", "0x3", "axb", "-1x2", "1.5x2", ""])
def test_bad_shapes(text):
    with pytest.raises(SepconvError, match="--input: expected one or more positive integers"):
        parse_shape(text, "input")


def test_shape_length_is_checked():
    with pytest.raises(SepconvError, match="--kernel: expected 1 or 2 positive integers"):
        parse_shape("5x5x5", "kernel", dims=(1, 2))
