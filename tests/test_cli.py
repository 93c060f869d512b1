"""The command line: exit codes and output lines."""

from __future__ import annotations

import pytest

from sepconv.cli.main import main


def test_demo_tells_the_sobel_story(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "is the outer product of [1, 2, 1]ᵀ and [-1, 0, 1]" in out
    assert "9 multiplications per pixel directly, 6 as two 1-D passes" in out
    assert "1,228,800 multiplications normally, 4,800 + 49,152 = 53,952" in out


def test_unknown_verb_is_a_usage_error():
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
