"""``convert_model``: replace a model's convolutions by separable ones, and report the cost.

Per layer the choice (depth multiplier m for ``form='depthwise'``, rank R for ``form='spatial'``)
is fixed, or the smallest that keeps ``energy`` of the weight's squared Frobenius norm, or set by a
global ``budget``: the fraction of the converted layers' MACs to keep (``cost='macs'``) or of their
measured time (``cost='time'``: each layer and its separable forms are timed on the layer's own
input shape). The budget is met greedily: every layer starts at 1; the step that retains the most
(relative) weight energy per added MAC (or second) is taken until no further step fits.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from sepconv._errors import bad_argument, unknown_choice
from sepconv.nn import convert
from sepconv.nn.profiling import (
    layer_shapes,
    module_macs,
    module_params,
    run_hooked,
    time_pair,
)

FORMS = ("depthwise", "spatial")
COSTS = ("macs", "time")


@dataclass(frozen=True)
class LayerReport:
    """One converted layer. MACs are None without ``input_shape``; errors are relative.

    ``predicted_speedup``: old ÷ new MACs; ``measured_speedup``: old ÷ new time on the input
    shape (speed guard); ``kept_dense``: why the original convolution stayed (None: converted).
    """

    name: str
    old: str
    new: str
    choice: int
    old_params: int
    new_params: int
    old_macs: int | None
    new_macs: int | None
    weight_error: float
    output_error: float | None
    predicted_speedup: float | None = None
    measured_speedup: float | None = None
    kept_dense: str | None = None


@dataclass(frozen=True)
class ConversionReport:
    form: str
    layers: tuple[LayerReport, ...]
    model_output_error: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {"form": self.form, "model_output_error": self.model_output_error,
                "layers": [asdict(layer) for layer in self.layers]}

    def totals(self) -> dict[str, int | None]:
        def total(key: str) -> int | None:  # a layer kept dense counts with its old size
            values = [getattr(layer, "old" + key[3:] if layer.kept_dense else key)
                      for layer in self.layers]
            return None if any(v is None for v in values) else sum(values)
        return {key: total(key) for key in ("old_params", "new_params", "old_macs", "new_macs")}

    def __str__(self) -> str:
        key = "m" if self.form == "depthwise" else "rank"
        head = (f"{'layer':<20} {'conversion':<34} {key:>4} {'params':>21} {'MACs':>27} "
                f"{'weight err':>10} {'output err':>10}")
        rows = [head, "-" * len(head)]
        for r in self.layers:
            rows.append(f"{r.name:<20} {r.old + ' → ' + r.new:<34} {r.choice:>4} "
                        f"{_pair(r.old_params, r.new_params):>21} {_pair(r.old_macs, r.new_macs):>27} "
                        f"{r.weight_error:>10.4f} {_num(r.output_error):>10}")
        t = self.totals()
        rows.append(f"{'total':<20} {'':<34} {'':>4} {_pair(t['old_params'], t['new_params']):>21} "
                    f"{_pair(t['old_macs'], t['new_macs']):>27}")
        rows += [f"{r.name}: kept dense ({r.kept_dense})" for r in self.layers if r.kept_dense]
        if self.model_output_error is not None:
            rows.append(f"model output relative error on the calibration batch: "
                        f"{self.model_output_error:.4f}")
        return "\n".join(rows)


def _pair(old: int | None, new: int | None) -> str:
    return "-" if old is None or new is None else f"{old:,} → {new:,}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _eligible(model: nn.Module, form: str) -> list[tuple[str, nn.modules.conv._ConvNd]]:
    found = []
    for name, module in model.named_modules():
        try:
            convert.check_convertible(module, spatial=form == "spatial")
        except ValueError:
            continue
        assert isinstance(module, nn.modules.conv._ConvNd)
        found.append((name, module))
    return found


def _energy_curve(conv: nn.modules.conv._ConvNd, form: str) -> list[float]:
    """Fraction of ‖W‖² kept at choice 1, 2, ... (the last value is 1: exact)."""
    s = convert.singular_values(conv, form)
    per_choice = (s**2).sum(dim=0) if form == "depthwise" else s**2
    kept = torch.cumsum(per_choice, 0) / max(float(per_choice.sum()), 1e-300)
    return [float(v) for v in kept]


def _build(conv: nn.modules.conv._ConvNd, form: str, choice: int) -> nn.Module:
    """The separable layer for ``conv``, in ``conv``'s mode: an eval model's layer is timed
    (speed guard, ``cost='time'``) and returned in eval mode, where it takes the eval paths."""
    new: nn.Module = (convert.to_depthwise_separable(conv, choice) if form == "depthwise"
                      else convert.to_spatial_separable(conv, choice))
    return new.train(conv.training)


def _choose(convs: list[tuple[str, nn.modules.conv._ConvNd]], form: str, fixed: int | None,
            energy: float | None, budget: float | None,
            shapes: dict[int, tuple[tuple[int, ...], tuple[int, ...]]], cost: str = "macs",
            ) -> list[int]:
    curves = [_energy_curve(conv, form) for _, conv in convs]
    if fixed is not None:
        return [min(fixed, len(curve)) for curve in curves]
    if energy is not None:
        return [next(i + 1 for i, kept in enumerate(curve) if kept >= energy - 1e-12)
                for curve in curves]
    assert budget is not None
    costs = _time_costs if cost == "time" else _mac_costs
    return _allocate(curves, budget, *costs(convs, form, curves, shapes))


def _macs_at(conv: nn.modules.conv._ConvNd, form: str, choice: int,
             shapes: dict[int, tuple[tuple[int, ...], tuple[int, ...]]]) -> int:
    ins, outs = shapes[id(conv)]
    return module_macs(_build(conv, form, choice), ins, outs)


Shapes = dict[int, tuple[tuple[int, ...], tuple[int, ...]]]


def _mac_costs(convs: list[tuple[str, nn.modules.conv._ConvNd]], form: str,
               curves: list[list[float]], shapes: Shapes) -> tuple[list[float], list[float], list[float]]:
    """Each convolution's MACs, its separable form's at choice 1, and per added choice (exact:
    MACs are linear in the choice)."""
    old = [float(module_macs(conv, *shapes[id(conv)])) for _, conv in convs]
    one = [float(_macs_at(conv, form, 1, shapes)) for _, conv in convs]
    step = [_macs_at(conv, form, 2, shapes) - m1 if len(curve) > 1 else 0.0
            for (_, conv), m1, curve in zip(convs, one, curves)]
    return old, one, step


def _time_costs(convs: list[tuple[str, nn.modules.conv._ConvNd]], form: str,
                curves: list[list[float]], shapes: Shapes) -> tuple[list[float], list[float], list[float]]:
    """Each convolution's measured seconds on its own input shape, its separable form's at
    choice 1, and per added choice (from choice 1 and a larger one, up to 4, assumed linear)."""
    old, one, step = [], [], []
    for (_, conv), curve in zip(convs, curves):
        ins = shapes[id(conv)][0]
        t_old, t_one = time_pair(conv, _build(conv, form, 1), ins)
        top = min(len(curve), 4)
        slope = 0.0
        if top > 1:
            t_top = time_pair(conv, _build(conv, form, top), ins)[1]
            slope = max((t_top - t_one) / (top - 1), 0.01 * t_one)  # timing noise: never free
        old.append(t_old)
        one.append(t_one)
        step.append(slope)
    return old, one, step


def _allocate(curves: list[list[float]], budget: float, old: list[float], one: list[float],
              step: list[float]) -> list[int]:
    """Greedy: start at 1, take the best energy-per-cost step while the budget holds.

    No layer grows past its own original cost: a budget asks for savings, so a layer is never
    made more expensive than the convolution it replaces (unless even its choice 1 is).
    """
    limit = budget * sum(old)
    choice = [1] * len(curves)
    total = sum(one)
    while True:
        best, best_gain = -1, 0.0
        for i, curve in enumerate(curves):
            grown = one[i] + choice[i] * step[i]  # the cost at choice[i] + 1
            if choice[i] < len(curve) and total + step[i] <= limit and grown <= old[i]:
                gain = (curve[choice[i]] - curve[choice[i] - 1]) / max(step[i], 1e-300)
                if gain > best_gain:
                    best, best_gain = i, gain
        if best < 0:
            return choice
        choice[best] += 1
        total += step[best]


def _check_options(form: object, fixed: object, energy: object, budget: object,
                   input_shape: object, cost: object = "macs") -> None:
    if form not in FORMS:
        raise unknown_choice("form", form, FORMS)
    if cost not in COSTS:
        raise unknown_choice("cost", cost, COSTS)
    if cost == "time" and budget is None:
        raise bad_argument("cost", "cost='time' together with budget=", "no budget",
                           "pass e.g. budget=0.5 (half the convolutions' measured time)")
    given = [n for n, v in (("depth_multiplier/rank", fixed), ("energy", energy), ("budget", budget))
             if v is not None]
    if len(given) > 1:
        raise bad_argument("depth_multiplier, rank, energy, budget", "at most one of them",
                           given, "choose one way to pick each layer's size")
    if fixed is not None:
        convert._check_rank("depth_multiplier" if form == "depthwise" else "rank", fixed, 2**31)
    if energy is not None and not (isinstance(energy, (int, float)) and 0 < energy <= 1):
        raise bad_argument("energy", "a fraction in (0, 1]", energy, "e.g. energy=0.95")
    if budget is not None:
        if not (isinstance(budget, (int, float)) and 0 < budget <= 1):
            raise bad_argument("budget", "a fraction in (0, 1]", budget, "e.g. budget=0.25")
        if input_shape is None:
            raise bad_argument("input_shape", "the input shape (batch included) with budget=",
                               None, "pass input_shape=(1, C, H, W) or a calibration batch")


def convert_model(model: nn.Module, *, form: str = "depthwise", depth_multiplier: int | None = None,
                  rank: int | None = None, energy: float | None = None, budget: float | None = None,
                  input_shape: Sequence[int] | None = None, calibration: torch.Tensor | None = None,
                  speed_guard: bool = True, cost: str = "macs") -> tuple[nn.Module, ConversionReport]:
    """A copy of ``model`` with every eligible convolution made separable, and a report.

    Eligible: ``nn.Conv{1,2,3}d`` (``form='depthwise'``) or ``nn.Conv2d`` (``'spatial'``) with
    groups=1 and a kernel larger than 1×1. Choose each layer's size with ``depth_multiplier``
    (or ``rank``), ``energy`` or ``budget``; without any, depthwise uses m = 1. ``budget`` is
    a fraction of the converted layers' MACs (``cost='macs'``) or of their time measured on the
    input shape (``cost='time'``).
    ``calibration`` (a batch) adds each layer's and the model's output error to the report.
    With an input shape (``input_shape`` or ``calibration``) and ``speed_guard`` (default), each
    converted layer and the convolution it replaces are timed on that layer's input shape; a
    converted layer slower than the original is not kept (the report says so, with the
    predicted and measured speed-ups).
    """
    fixed = depth_multiplier if form == "depthwise" else rank
    if (form == "depthwise" and rank is not None) or (form == "spatial" and depth_multiplier is not None):
        wrong = "rank" if form == "depthwise" else "depth_multiplier"
        raise bad_argument(wrong, f"None with form={form!r}", "a value",
                           "use depth_multiplier= for 'depthwise' and rank= for 'spatial'")
    if calibration is not None and input_shape is None:
        input_shape = tuple(calibration.shape)
    _check_options(form, fixed, energy, budget, input_shape, cost)
    if fixed is None and energy is None and budget is None:
        if form == "spatial":
            raise bad_argument("rank", "a rank, energy= or budget= for form='spatial'", None,
                               "e.g. rank=4 or energy=0.95")
        fixed = 1
    new_model = copy.deepcopy(model)
    convs = _eligible(new_model, form)
    shapes = _shapes(new_model, input_shape, convs)
    choices = _choose(convs, form, fixed, energy, budget, shapes, cost)
    inputs = _captured_inputs(new_model, calibration, convs)
    reports = []
    for (name, conv), choice in zip(convs, choices):
        new = _build(conv, form, choice)
        report = _layer_report(name, conv, new, choice, form, shapes, inputs.get(id(conv)))
        if speed_guard and id(conv) in shapes:
            report = _guarded(report, conv, new, shapes[id(conv)][0])
        reports.append(report)
        if report.kept_dense is None:
            new_model = _replace(new_model, name, new)
    model_error = None
    if calibration is not None:
        with torch.no_grad():
            want, got = model(calibration), new_model(calibration)
        model_error = _relative(got, want)
    return new_model, ConversionReport(form, tuple(reports), model_error)


def _shapes(model: nn.Module, input_shape: Sequence[int] | None,
            convs: list[tuple[str, nn.modules.conv._ConvNd]]
            ) -> dict[int, tuple[tuple[int, ...], tuple[int, ...]]]:
    if input_shape is None or not convs:
        return {}
    weight = convs[0][1].weight
    example = torch.zeros(tuple(input_shape), dtype=weight.dtype, device=weight.device)
    return layer_shapes(model, example, [conv for _, conv in convs])


def _captured_inputs(model: nn.Module, batch: torch.Tensor | None,
                     convs: list[tuple[str, nn.modules.conv._ConvNd]]) -> dict[int, torch.Tensor]:
    captured: dict[int, torch.Tensor] = {}
    if batch is None:
        return captured

    def hook(module: nn.Module, args: tuple) -> None:
        captured[id(module)] = args[0].detach()

    run_hooked(model, batch, [conv.register_forward_pre_hook(hook) for _, conv in convs])
    return captured


def _relative(got: torch.Tensor, want: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(got - want) / torch.linalg.vector_norm(want).clamp_min(1e-30))


def _layer_report(name: str, conv: nn.modules.conv._ConvNd, new: nn.Module, choice: int, form: str,
                  shapes: dict[int, tuple[tuple[int, ...], tuple[int, ...]]],
                  x: torch.Tensor | None) -> LayerReport:
    curve = _energy_curve(conv, form)
    weight_error = math.sqrt(max(1.0 - curve[min(choice, len(curve)) - 1], 0.0))
    output_error = None
    if x is not None:
        with torch.no_grad():
            output_error = _relative(new(x), conv(x))
    old_macs = new_macs = None
    if id(conv) in shapes:
        old_macs = module_macs(conv, *shapes[id(conv)])
        new_macs = module_macs(new, *shapes[id(conv)])
    return LayerReport(name, type(conv).__name__, type(new).__name__, choice,
                       module_params(conv, False), module_params(new, False), old_macs, new_macs,
                       weight_error, output_error)


def _guarded(report: LayerReport, conv: nn.Module, new: nn.Module,
             input_shape: Sequence[int]) -> LayerReport:
    """The report with measured speed-up; the original conv is kept where it was faster."""
    old_s, new_s = time_pair(conv, new, input_shape)
    measured = old_s / max(new_s, 1e-12)
    predicted = None
    if report.old_macs is not None and report.new_macs:
        predicted = report.old_macs / report.new_macs
    kept = None
    if measured < 1:
        kept = (f"the separable layer ran at {measured:.2f}× the convolution's speed on "
                f"{tuple(input_shape)}; pass speed_guard=False to convert it anyway")
    return replace(report, predicted_speedup=predicted, measured_speedup=measured, kept_dense=kept)


def _replace(model: nn.Module, name: str, new: nn.Module) -> nn.Module:
    """``model`` with the submodule ``name`` replaced (the model itself when ``name`` is "")."""
    if not name:
        return new
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)
    return model
