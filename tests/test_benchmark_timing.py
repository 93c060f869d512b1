"""The benchmarks' shared timing harness (benchmarks/_timing.py): rotation and ratios."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "_timing.py"


@pytest.fixture(scope="module")
def timing():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("_timing", PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_interleaved_rotates_the_order_and_pairs_rounds(timing) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []
    fns = {name: (lambda name=name: calls.append(name)) for name in ("a", "b")}
    result = timing.interleaved(lambda: calls.append("ours"), fns, rounds=3, warmup=1)
    assert calls == ["ours", "a", "b",  # warm-up
                     "ours", "a", "b", "a", "b", "ours", "b", "ours", "a"]
    assert result["rounds"] == 3 and set(result["ratio"]) == {"a", "b"}
    assert all(len(ts) == 3 for ts in result["times_s"].values())
