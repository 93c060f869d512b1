"""The capacity study: do depthwise separable nets learn worse when the network is small?

Every combination of task, width, seed and family (normal / separable, see
:mod:`sepconv.experiments.models`) is trained with the same recipe and the same number of steps,
then scored on the held-out test set. Records carry ``params`` and ``macs`` from
:func:`sepconv.nn.profile`, so accuracy can be compared at equal width and at equal size.

Run it with ``sepconv experiment capacity`` or::

    from sepconv.experiments import capacity
    records = capacity.run(capacity.QUICK)
    capacity.write(records, capacity.QUICK, "out/")
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from sepconv.experiments import figures
from sepconv.experiments.data import TASKS, Task, load_task
from sepconv.experiments.models import FAMILIES, small_cnn
from sepconv.experiments.training import Recipe, accuracy, environment, progress, reproducible, seeded, train
from sepconv.nn import profile

Record = dict[str, Any]


@dataclass(frozen=True)
class Config:
    """What to run: ``seeds`` seeds (0, 1, ...) of every task × width × family."""

    tasks: tuple[str, ...] = TASKS
    widths: tuple[int, ...] = (2, 4, 8, 16, 32)
    seeds: int = 5
    recipe: Recipe = field(default_factory=Recipe)
    threads: int = 1
    train_limit: int | None = None


FULL = Config()
QUICK = Config(seeds=2, recipe=Recipe(epochs=6))
SMOKE = Config(widths=(2, 4), seeds=1, recipe=Recipe(epochs=1, batch_size=32), train_limit=96)


def run_one(task: Task, family: str, width: int, seed: int, recipe: Recipe) -> Record:
    """Train one model and describe it in one record."""
    model = seeded(lambda: small_cnn(family, width, len(task.classes)), seed)
    size = profile(model, (1, *task.image_shape))
    seconds = train(model, task.x_train, task.y_train, recipe, seed)
    return {"task": task.name, "family": family, "width": width, "seed": seed,
            "params": size.params, "macs": size.macs,
            "accuracy": accuracy(model, task.x_test, task.y_test),
            "train_accuracy": accuracy(model, task.x_train, task.y_train),
            "epochs": recipe.epochs, "steps": recipe.epochs * -(-len(task.y_train) // recipe.batch_size),
            "train_seconds": round(seconds, 3), "threads": torch.get_num_threads()}


def run(config: Config = FULL, *, show_progress: bool = False) -> list[Record]:
    """All records of ``config``. The families alternate, so machine load hits both alike."""
    records = []
    with reproducible(config.threads):
        tasks = [load_task(name, train_limit=config.train_limit) for name in config.tasks]
        runs = [(task, family, width, seed) for task in tasks for seed in range(config.seeds)
                for width in config.widths for family in FAMILIES]
        for task, family, width, seed in progress(runs, "capacity", show_progress):
            records.append(run_one(task, family, width, seed, config.recipe))
    return records


def summarize(records: Sequence[Record]) -> list[Record]:
    """One row per task, family and width: accuracy mean, std, min and max over the seeds."""
    groups: dict[tuple[str, str, int], list[Record]] = {}
    for record in records:
        groups.setdefault((record["task"], record["family"], record["width"]), []).append(record)
    rows = []
    for (task, family, width), group in groups.items():
        scores = [r["accuracy"] for r in group]
        rows.append({"task": task, "family": family, "width": width, "params": group[0]["params"],
                     "macs": group[0]["macs"], "seeds": len(scores),
                     "mean": statistics.fmean(scores), "std": statistics.pstdev(scores),
                     "min": min(scores), "max": max(scores)})
    return sorted(rows, key=lambda r: (r["task"], r["family"], r["width"]))


def table(rows: Sequence[Record]) -> list[str]:
    """The summary as aligned text lines (accuracy in percent)."""
    lines = [f"{'task':<9} {'family':<9} {'width':>5} {'params':>7} {'MACs':>10} "
             f"{'accuracy % mean ± std':>22} {'min':>6} {'max':>6}"]
    for r in rows:
        lines.append(f"{r['task']:<9} {r['family']:<9} {r['width']:>5} {r['params']:>7,} "
                     f"{r['macs']:>10,} {100 * r['mean']:>14.1f} ± {100 * r['std']:<5.1f} "
                     f"{100 * r['min']:>6.1f} {100 * r['max']:>6.1f}")
    return lines


def write(records: Sequence[Record], config: Config, out: str | Path) -> list[Path]:
    """``results.json`` and the two figures in ``out``; returns the paths written."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    rows = summarize(records)
    with reproducible(config.threads):
        env = environment()
    document = {"experiment": "capacity", "config": asdict(config), "environment": env,
                "summary": rows, "records": list(records)}
    results = folder / "results.json"
    results.write_text(json.dumps(document, indent=1) + "\n")
    return [results,
            figures.accuracy_bands(folder / "accuracy_vs_width.png", rows, "width", "width (channels)"),
            figures.accuracy_bands(folder / "accuracy_vs_params.png", rows, "params",
                                   "parameters (weights, no biases)")]
