"""The command's frame: --version, usage errors, --debug, unexpected errors, missing extras."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sepconv import __version__
from sepconv.cli import main as cli_main
from sepconv.cli.main import main


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"sepconv {__version__}\n"


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["filter", "in.png"], ["cost", "--input", "3x3x1"],
                                  ["analyze", "box", "--dtype", "int8"], ["filter", "a", "b", "-k", "box",
                                                                          "--method", "magic"]])
def test_usage_errors_exit_2(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    assert "usage: sepconv" in capsys.readouterr().err


def test_debug_shows_the_traceback(capsys):
    assert main(["analyze", "nope"]) == 1
    assert "Traceback" not in capsys.readouterr().err
    for args in (["--debug", "analyze", "nope"], ["analyze", "nope", "--debug"]):
        with pytest.raises(ValueError, match="kernel: expected a kernel name"):
            main(args)


def test_unexpected_errors_are_one_line(monkeypatch, capsys):
    def broken(args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setitem(cli_main.VERBS, "analyze", broken)
    assert main(["analyze", "box"]) == 1
    assert capsys.readouterr().err == ("sepconv: error: unexpected RuntimeError: boom; run again with "
                                       "--debug and report the traceback\n")


def test_os_errors_are_one_line(monkeypatch, capsys):
    def denied(args: object) -> int:
        raise PermissionError(13, "Permission denied", "out.png")

    monkeypatch.setitem(cli_main.VERBS, "analyze", denied)
    assert main(["analyze", "box"]) == 1
    assert capsys.readouterr().err == "sepconv: error: Permission denied: out.png\n"


def test_missing_extra_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["demo", "--out", str(tmp_path / "d")]) == 1
    assert capsys.readouterr().err == ("sepconv: error: sepconv demo's figures needs matplotlib, which is "
                                       "not installed; pip install 'sepconv[cli]'\n")
    assert not (tmp_path / "d").exists()


def test_the_module_runs_and_stays_light():
    code = ("import sys; from sepconv.cli.main import main; main(['analyze', 'sobel-x']); "
            "print(sorted(m for m in ('torch', 'matplotlib', 'skimage', 'imageio', 'tqdm') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "[]"
    result = subprocess.run([sys.executable, "-m", "sepconv.cli.main", "cost", "--input", "12x12x3",
                             "--kernel", "5", "--filters", "256"], capture_output=True, text=True)
    assert result.returncode == 0 and "1,228,800" in result.stdout
