from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def engine_writes(monkeypatch) -> list[np.ndarray]:
    """The memory every fused pass of the engine wrote into (flat views), call by call: the
    separable and low-rank paths, bound (a repeated call) or general."""
    from sepconv._engine import passes

    seen: list[np.ndarray] = []
    original = passes.FusedPass.__call__

    def spy(self, xf, of):
        seen.append(of)
        return original(self, xf, of)

    monkeypatch.setattr(passes.FusedPass, "__call__", spy)
    return seen
