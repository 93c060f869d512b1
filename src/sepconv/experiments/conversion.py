"""The conversion study: train a normal CNN, make its convolutions separable, measure the cost.

For every task a ``normal`` :func:`~sepconv.experiments.models.small_cnn` is trained, then its
body's three 3×3 convolutions (the stem is left alone, as in the capacity study) are converted with
:func:`sepconv.nn.convert_model`: ``form='depthwise'`` at several depth multipliers and
``form='spatial'`` at several ranks ("full" is exact). Each converted model is scored right
after conversion and after a short fine-tune of all its weights; the original gets the same
fine-tune as a control. MACs come from :func:`sepconv.nn.profile`; CPU time is the median of
forward passes on one batch, the original and the converted model timed alternately.
"""

from __future__ import annotations

import copy
import json
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from sepconv.experiments import figures
from sepconv.experiments.data import TASKS, Task, load_task
from sepconv.experiments.models import small_cnn
from sepconv.experiments.training import Recipe, accuracy, environment, progress, reproducible, seeded, train
from sepconv.nn import convert_model, profile

Record = dict[str, Any]
FULL_RANK = 0  # stands for "exact" in Config.multipliers and Config.ranks


@dataclass(frozen=True)
class Config:
    """The model (``width``, ``recipe``, ``seed``), the conversions and how they are measured."""

    tasks: tuple[str, ...] = TASKS
    width: int = 32
    seed: int = 0
    recipe: Recipe = field(default_factory=Recipe)
    finetune: Recipe = field(default_factory=lambda: Recipe(epochs=2, lr=2e-3))
    multipliers: tuple[int, ...] = (1, 2, 4, FULL_RANK)
    ranks: tuple[int, ...] = (2, 4, 8, 16, 32, FULL_RANK)
    time_batch: int = 256
    time_repeats: int = 25
    threads: int = 1
    train_limit: int | None = None


FULL = Config()
QUICK = Config(width=16, recipe=Recipe(epochs=8), finetune=Recipe(epochs=1, lr=2e-3),
               multipliers=(1, 4, FULL_RANK), ranks=(4, 16, FULL_RANK), time_repeats=7)
SMOKE = Config(tasks=("digits",), width=4, recipe=Recipe(epochs=1, batch_size=32),
               finetune=Recipe(epochs=1, batch_size=32, lr=2e-3), multipliers=(1, FULL_RANK),
               ranks=(2,), time_batch=8, time_repeats=2, train_limit=96)


def exact_choice(body: nn.Module, form: str) -> int:
    """The largest multiplier (rank) any conv of ``body`` needs to be converted exactly."""
    limits = [min(m.out_channels, math.prod(m.kernel_size)) if form == "depthwise"
              else min(m.in_channels * m.kernel_size[0], m.out_channels * m.kernel_size[1])
              for m in body.modules() if isinstance(m, nn.Conv2d)]
    return max(limits)


def convert_body(model: nn.Sequential, form: str, choice: int, calibration: Tensor
                 ) -> tuple[nn.Sequential, Any]:
    """A copy of ``model`` whose ``body`` is converted; the report of :func:`convert_model`."""
    with torch.no_grad():
        body_input = model.get_submodule("stem")(calibration)
    depthwise = form == "depthwise"
    body, report = convert_model(model.get_submodule("body"), form=form, calibration=body_input,
                                 depth_multiplier=choice if depthwise else None,
                                 rank=None if depthwise else choice, speed_guard=False)
    new = copy.deepcopy(model)
    new.body = body
    return new, report


def median_times(models: Sequence[nn.Module], batch: Tensor, repeats: int) -> list[float]:
    """Median milliseconds of one forward pass of each model, the models timed in turn."""
    samples: list[list[float]] = [[] for _ in models]
    with torch.no_grad():
        for round_ in range(repeats + 1):
            for model, times in zip(models, samples):
                start = time.perf_counter()
                model(batch)
                if round_:  # the first round warms up
                    times.append(1e3 * (time.perf_counter() - start))
    return [statistics.median(times) for times in samples]


def time_batch(task: Task, size: int) -> Tensor:
    repeats = -(-size // len(task.x_test))
    return task.x_test.repeat(repeats, 1, 1, 1)[:size].contiguous()


def measure(task: Task, original: nn.Sequential, model: nn.Sequential, config: Config) -> Record:
    """Accuracy right after conversion and after the fine-tune, size, and time against the original."""
    shape = (1, *task.image_shape)
    size, base = profile(model, shape), profile(original, shape)
    after = accuracy(model, task.x_test, task.y_test)
    tuned = copy.deepcopy(model)
    seconds = train(tuned, task.x_train, task.y_train, config.finetune, config.seed)
    base_ms, ms = median_times([original, model], time_batch(task, config.time_batch),
                               config.time_repeats)
    return {"params": size.params, "macs": size.macs, "accuracy_converted": after,
            "accuracy_finetuned": accuracy(tuned, task.x_test, task.y_test),
            "finetune_seconds": round(seconds, 3), "time_ms": ms, "time_original_ms": base_ms,
            "mac_speedup": base.macs / size.macs, "time_speedup": base_ms / ms}


def conversions(model: nn.Sequential, config: Config) -> list[tuple[str, int, str]]:
    """(form, choice, label) of every conversion to try; "full" is the exact one."""
    plan = []
    for form, choices in (("depthwise", config.multipliers), ("spatial", config.ranks)):
        for choice in choices:
            exact = exact_choice(model.get_submodule("body"), form)
            prefix = "m=" if form == "depthwise" else "r="
            plan.append((form, choice or exact, "full" if choice == FULL_RANK else f"{prefix}{choice}"))
    return plan


def run_task(task: Task, config: Config, show_progress: bool) -> list[Record]:
    """Train the original on ``task`` and measure it and every conversion of it."""
    model = seeded(lambda: small_cnn("normal", config.width, len(task.classes)), config.seed)
    train_seconds = train(model, task.x_train, task.y_train, config.recipe, config.seed)
    common = {"task": task.name, "width": config.width, "seed": config.seed,
              "accuracy_before": accuracy(model, task.x_test, task.y_test),
              "train_seconds": round(train_seconds, 3), "threads": torch.get_num_threads()}
    assert isinstance(model, nn.Sequential)
    records = [common | {"form": "original", "choice": None, "label": "original",
                         "weight_error": 0.0, "output_error": 0.0}
               | measure(task, model, model, config)]
    calibration = task.x_train[:256]
    for form, choice, label in progress(conversions(model, config), f"convert {task.name}",
                                        show_progress):
        converted, report = convert_body(model, form, choice, calibration)
        records.append(common | {"form": form, "choice": choice, "label": label,
                                 "weight_error": max(layer.weight_error for layer in report.layers),
                                 "output_error": report.model_output_error}
                       | measure(task, model, converted, config))
    return records


def run(config: Config = FULL, *, show_progress: bool = False) -> list[Record]:
    """All records of ``config``, one task after another."""
    with reproducible(config.threads):
        records = []
        for name in config.tasks:
            records += run_task(load_task(name, train_limit=config.train_limit), config, show_progress)
    return records


def table(records: Sequence[Record]) -> list[str]:
    """Text lines: accuracy before / right after / fine-tuned, MACs and time per conversion."""
    lines = [f"{'task':<9} {'conversion':<16} {'params':>7} {'MACs':>10} {'before':>7} {'after':>7} "
             f"{'tuned':>7} {'MACs ×':>7} {'time ms':>8} {'time ×':>7}"]
    for r in records:
        name = r["form"] if r["form"] == "original" else f"{r['form']} {r['label']}"
        lines.append(f"{r['task']:<9} {name:<16} {r['params']:>7,} {r['macs']:>10,} "
                     f"{100 * r['accuracy_before']:>7.1f} {100 * r['accuracy_converted']:>7.1f} "
                     f"{100 * r['accuracy_finetuned']:>7.1f} {r['mac_speedup']:>7.2f} "
                     f"{r['time_ms']:>8.2f} {r['time_speedup']:>7.2f}")
    return lines


def write(records: Sequence[Record], config: Config, out: str | Path) -> list[Path]:
    """``results.json`` and the two figures in ``out``; returns the paths written."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with reproducible(config.threads):
        env = environment()
    document = {"experiment": "convert", "config": asdict(config), "environment": env,
                "records": list(records)}
    results = folder / "results.json"
    results.write_text(json.dumps(document, indent=1) + "\n")
    return [results, figures.conversion_accuracy(folder / "accuracy.png", records),
            figures.conversion_speed(folder / "speed.png", records)]
