"""Tests of sepconv.nn (each module starts with pytest.importorskip("torch"))."""
