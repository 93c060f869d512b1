"""``sepconv analyze`` and ``sepconv cost``: exact text and JSON."""

from __future__ import annotations

import json

import pytest

from sepconv.cli.main import main


def run(capsys, *args: str) -> list[str]:
    assert main(list(args)) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out.splitlines()


def test_analyze_a_separable_kernel(capsys):
    assert run(capsys, "analyze", "sobel-x") == [
        "kernel sobel-x: 3×3",
        "  [-1, 0, 1]",
        "  [-2, 0, 2]",
        "  [-1, 0, 1]",
        "rank 1: separable, the outer product of",
        "  y: [1, 2, 1]",
        "  x: [-1, 0, 1]",
        "singular values: 3.464 and 2 zero(s)",
        "multiplications per output: direct 9, separable 6",
        "auto picks separable for a 4096×4096 float32 image (6 multiplications per output)",
    ]


def test_analyze_a_rank_two_kernel(capsys):
    lines = run(capsys, "analyze", "laplacian", "--shape", "512x512", "--dtype", "float64")
    assert lines[4:] == [
        "rank 2: not separable; exactly a sum of 2 separable terms (residual 0)",
        "  term 1: [1, -2, 1] ⊗ [0, 1, 0]",
        "  term 2: [0, 1, 0] ⊗ [1, -2, 1]",
        "singular values: 4.449, 0.4495 and 1 zero(s)",
        "multiplications per output: direct 9, lowrank 12",
        "auto picks direct for a 512×512 float64 image (9 multiplications per output)",
    ]
    lines = run(capsys, "analyze", "log:1.4")
    assert lines[0] == "kernel log:1.4: 13×13"  # too big to print its values
    assert lines[-2:] == ["multiplications per output: direct 169, lowrank 52",
                          "auto picks lowrank for a 4096×4096 float32 image (52 multiplications per output)"]


def test_analyze_inline_matrix_gives_integer_factors(capsys):
    lines = run(capsys, "analyze", "[[1,2,1],[2,4,2],[1,2,1]]")
    assert lines[5:7] == ["  y: [1, 2, 1]", "  x: [1, 2, 1]"]


def test_analyze_json(capsys):
    info = json.loads("\n".join(run(capsys, "analyze", "sobel-y:5", "--json")))
    assert info["rank"] == 1
    assert info["terms"] == [[[-1, -2, 0, 2, 1], [1, 4, 6, 4, 1]]]
    assert info["mults"] == {"direct": 25, "separable": 10}
    assert info["auto"] == {"image_shape": [4096, 4096], "dtype": "float32", "method": "separable",
                            "mults": 10}
    info = json.loads("\n".join(run(capsys, "analyze", "gaussian:1.0", "--json")))
    assert info["shape"] == [9, 9] and sum(info["terms"][0][1]) == pytest.approx(1.0)


def test_analyze_bad_input(capsys):
    assert main(["analyze", "sobel-z"]) == 1
    assert capsys.readouterr().err.startswith("sepconv: error: kernel: expected a kernel name")
    assert main(["analyze", "box", "--shape", "big"]) == 1
    assert capsys.readouterr().err == ("sepconv: error: --shape: expected one or more positive integers "
                                       "joined by 'x', received 'big'; e.g. 12x12x3\n")


SEEDS_VALID = [
    "12×12×3 input, 5×5 kernels, 256 filters, padding 'valid', stride 1×1",
    "                                   mults     params  output     mults vs normal",
    "normal                         1,228,800     19,200  8×8×256    1",
    "depthwise separable               53,952        843  8×8×256    0.04391 (22.78× fewer)",
    "  depthwise 5×5, 3 → 3             4,800         75  8×8×3",
    "  pointwise 1×1, 3 → 256          49,152        768  8×8×256",
    "spatially separable           21,340,160    331,520  8×8×256    17.37 (17.37× more)",
    "  vertical 5×1, 3 → 256          368,640      3,840  8×12×256",
    "  horizontal 1×5, 256 → 256   20,971,520    327,680  8×8×256",
]


def test_cost_table_of_the_seeds_example(capsys):
    assert run(capsys, "cost", "--input", "12x12x3", "--kernel", "5", "--filters", "256") == SEEDS_VALID


def test_cost_same_padding_and_multiplier(capsys):
    lines = run(capsys, "cost", "--input", "12x12x3", "--kernel", "5", "--filters", "256",
                "--padding", "same")
    assert lines[2] == "normal                         2,764,800     19,200  12×12×256  1"
    assert lines[3] == ("depthwise separable              121,392        843  12×12×256  "
                        "0.04391 (22.78× fewer)")
    lines = run(capsys, "cost", "--input", "12x12x3", "--kernel", "5", "--filters", "256",
                "--depth-multiplier", "2")
    assert lines[4].split() == ["depthwise", "5×5,", "3", "→", "6", "9,600", "150", "8×8×6"]


def test_cost_json(capsys):
    info = json.loads("\n".join(run(capsys, "cost", "--input", "12x12x3", "--kernel", "5", "--filters",
                                    "256", "--json")))
    assert info["normal"] == {"mults": 1228800, "params": 19200, "output_shape": [8, 8, 256], "ratio": 1.0}
    sep = info["depthwise_separable"]
    assert (sep["depthwise"]["mults"], sep["pointwise"]["mults"], sep["mults"]) == (4800, 49152, 53952)
    assert sep["output_shape"] == [8, 8, 256]
    info = json.loads("\n".join(run(capsys, "cost", "--input", "12x12x3", "--kernel", "5x5", "--filters",
                                    "256", "--padding", "same", "--json")))
    assert (info["normal"]["mults"], info["depthwise_separable"]["mults"]) == (2764800, 121392)
    info = json.loads("\n".join(run(capsys, "cost", "--input", "32x32x16", "--kernel", "3", "--filters",
                                    "32", "--stride", "2", "--json")))
    assert info["stride"] == [2, 2] and info["normal"]["output_shape"] == [15, 15, 32]


def test_cost_other_dimensions_skip_the_spatial_form(capsys):
    info = json.loads("\n".join(run(capsys, "cost", "--input", "100x8", "--kernel", "5", "--filters",
                                    "16", "--json")))
    assert "spatially_separable" not in info and info["normal"]["output_shape"] == [96, 16]


@pytest.mark.parametrize(("args", "message"), [
    (["--kernel", "5x5x5"], "--kernel: expected 1 or 2 positive integers joined by 'x'"),
    (["--kernel", "13"], "kernel_size: expected at most the input size 12 with padding='valid'"),
    (["--stride", "0"], "--stride: expected 1 or 2 positive integers"),
    (["--filters", "0"], "filters: expected an integer >= 1"),
])
def test_cost_errors(capsys, args, message):
    base = {"--input": "12x12x3", "--kernel": "5", "--filters": "256"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    assert main(["cost", *[x for pair in base.items() for x in pair]]) == 1
    assert capsys.readouterr().err.startswith(f"sepconv: error: {message}")
