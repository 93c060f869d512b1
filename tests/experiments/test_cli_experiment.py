"""``sepconv experiment capacity|convert`` through main(), with the smoke configurations."""

from __future__ import annotations

import dataclasses
import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("skimage")
pytest.importorskip("matplotlib")

from sepconv.cli.main import main
from sepconv.experiments import capacity, conversion


@pytest.fixture
def smoke(monkeypatch):
    """Make the full runs smoke runs (the command line has no smoke option)."""
    tiny = dataclasses.replace(capacity.SMOKE, tasks=("digits",), widths=(2,))
    monkeypatch.setattr(capacity, "FULL", tiny)
    monkeypatch.setattr(conversion, "FULL", conversion.SMOKE)


def test_capacity_writes_results_and_prints_the_table(smoke, tmp_path, capsys):
    assert main(["experiment", "capacity", "--out", str(tmp_path), "--seeds", "2"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["task", "family", "width"]
    assert len(lines) == 1 + 2 + 1  # header, one row per family, closing line
    assert lines[-1].startswith("4 records in ") and "1 thread(s)" in lines[-1]
    assert "capacity" in err  # the progress bar
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["config"]["seeds"] == 2 and {r["seed"] for r in document["records"]} == {0, 1}
    assert (tmp_path / "accuracy_vs_width.png").exists() and (tmp_path / "accuracy_vs_params.png").exists()


def test_convert_quiet_prints_nothing(smoke, tmp_path, capsys):
    assert main(["experiment", "convert", "--out", str(tmp_path), "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accuracy.png", "results.json", "speed.png"]


@pytest.mark.parametrize("option", [["--seeds", "0"], ["--threads", "0"]])
def test_bad_counts_are_errors(smoke, tmp_path, capsys, option):
    assert main(["experiment", "capacity", "--out", str(tmp_path), *option]) == 1
    assert capsys.readouterr().err.startswith("sepconv: error: --threads/--seeds")


@pytest.mark.parametrize("args", [["experiment"], ["experiment", "train"],
                                  ["experiment", "convert", "--seeds", "2"]])
def test_usage_errors_exit_2(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
