"""Smoke versions of both studies (tiny widths, one epoch): records, files, determinism."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("skimage")
pytest.importorskip("matplotlib")

from sepconv import SepconvError  # noqa: E402
from sepconv.experiments import capacity, conversion, data, models  # noqa: E402
from sepconv.nn import SeparableConv2d, profile  # noqa: E402

CAPACITY_KEYS = {"task", "family", "width", "seed", "params", "macs", "accuracy", "train_accuracy",
                 "epochs", "steps", "train_seconds", "threads"}


@pytest.mark.parametrize("name", data.TASKS)
def test_task_shapes_and_classes(name):
    task = data.load_task(name)
    c, h, w = task.x_train.shape[1:]
    assert (c, h, w) == task.image_shape == ((1, 8, 8) if name == "digits" else (1, 12, 12))
    assert task.x_train.dtype == torch.float32 and task.y_train.dtype == torch.int64
    assert set(task.y_test.tolist()) == set(range(len(task.classes)))
    small = data.load_task(name, train_limit=30)
    assert len(small.y_train) == len(small.y_test) == 30
    assert set(small.y_train.tolist()) == set(range(len(task.classes)))


def test_textures_are_standardized_patches():
    task = data.load_task("textures")
    means = task.x_train.mean(dim=(1, 2, 3))
    assert float(means.abs().max()) < 1e-4
    assert len(task.y_train) == 3 * 1000 and len(task.y_test) == 3 * 400


def test_unknown_task_is_a_sepconv_error():
    with pytest.raises(SepconvError, match="task"):
        data.load_task("cifar")
    with pytest.raises(SepconvError, match="family"):
        models.small_cnn("dense", 4, 10)


def test_families_share_the_topology():
    normal, separable = (models.small_cnn(f, 8, 10) for f in models.FAMILIES)
    assert isinstance(separable.stem[0], torch.nn.Conv2d)
    assert sum(isinstance(m, SeparableConv2d) for m in separable.modules()) == 3
    assert not any(isinstance(m, SeparableConv2d) for m in normal.modules())
    x = torch.randn(2, 1, 8, 8)
    assert normal(x).shape == separable(x).shape == (2, 10)
    # normal: 8·8·9 + 8·16·9 + 16·16·9; separable: 8·9 + 8·8 + 8·9 + 8·16 + 16·9 + 16·16;
    # both + 8 + 16 + 16 BatchNorm scales (profile counts weights, not biases)
    body = profile(normal.body, (1, 8, 8, 8)).params, profile(separable.body, (1, 8, 8, 8)).params
    assert body == (4032 + 40, 736 + 40)


def _accuracies(records, key="accuracy"):
    return [(r.get("family", r.get("form")), r.get("width"), r[key]) for r in records]


def test_capacity_smoke(tmp_path):
    config = capacity.SMOKE
    records = capacity.run(config)
    assert len(records) == len(config.tasks) * len(config.widths) * config.seeds * 2
    assert all(CAPACITY_KEYS <= set(r) for r in records)
    assert {r["family"] for r in records} == {"normal", "separable"}
    assert all(r["threads"] == config.threads for r in records)
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in records)
    assert _accuracies(capacity.run(config)) == _accuracies(records)  # same seed, same numbers
    paths = capacity.write(records, config, tmp_path)
    assert {p.name for p in paths} == {"results.json", "accuracy_vs_width.png", "accuracy_vs_params.png"}
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["records"] == records
    assert len(document["summary"]) == len(records) // config.seeds
    assert all(p.stat().st_size > 1000 for p in paths)
    assert capacity.table(document["summary"])[0].startswith("task")


def test_conversion_smoke(tmp_path):
    config = conversion.SMOKE
    records = conversion.run(config)
    assert [(r["form"], r["label"]) for r in records] == [
        ("original", "original"), ("depthwise", "m=1"), ("depthwise", "full"), ("spatial", "r=2")]
    by_label = {(r["form"], r["label"]): r for r in records}
    full = by_label["depthwise", "full"]
    assert full["output_error"] < 1e-5 and full["accuracy_converted"] == full["accuracy_before"]
    assert by_label["depthwise", "m=1"]["macs"] < records[0]["macs"] < full["macs"]
    assert all(r["time_ms"] > 0 and r["time_original_ms"] > 0 for r in records)
    for key in ("accuracy_converted", "accuracy_finetuned"):
        assert _accuracies(conversion.run(config), key) == _accuracies(records, key)
    paths = conversion.write(records, config, tmp_path)
    assert {p.name for p in paths} == {"results.json", "accuracy.png", "speed.png"}
    assert json.loads(paths[0].read_text())["records"] == records
    assert len(conversion.table(records)) == len(records) + 1


def test_reproducible_restores_torch_settings():
    from sepconv.experiments.training import reproducible

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    with reproducible(1):
        assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == (
        threads, deterministic)
