"""Fusing chains inside model-zoo blocks (not nn.Sequential) from a traced call order (issue 14).

One forward pass on the example input records, per parent module, the calls of its direct
children in order with the identity of their input and output tensors. A chain qualifies when
:func:`sepconv.nn._match.match` accepts the children in call order, each called once, and
each step's input is the previous step's output. After replacing it (the fused module in the
depthwise conv's place, ``nn.Identity`` in the others'), the parent must reproduce its recorded
output on its recorded input; otherwise (a residual or another use of an intermediate) the
original modules are put back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from sepconv.nn._fold import FusedConv2d, FusedSeparable2d
from sepconv.nn._match import FusionReport, build, match_any, sequential_like

Call = tuple[str, nn.Module, int, int]  # child name, child, id(input), id(output)


def _record(model: nn.Module, example: Any) -> tuple[dict[nn.Module, list[Call]],
                                                     dict[nn.Module, tuple[Any, Any]]]:
    calls: dict[nn.Module, list[Call]] = {}
    inputs: dict[nn.Module, tuple[Any, Any]] = {}
    handles = []
    # a fused module's parts are not hooked: a hook there would make it run them one by one
    fused = {id(m) for f in model.modules() if isinstance(f, (FusedSeparable2d, FusedConv2d))
             for m in f.modules()}
    for parent in model.modules():
        if sequential_like(parent) or id(parent) in fused:
            continue
        for name, child in parent.named_children():
            def hook(mod: nn.Module, args: tuple, out: Any, parent: nn.Module = parent,
                     name: str = name) -> None:
                first = args[0] if args else None
                calls.setdefault(parent, []).append((name, mod, id(first), id(out)))
            handles.append(child.register_forward_hook(hook))

        def pre(mod: nn.Module, args: tuple, kwargs: dict) -> None:
            if mod not in inputs:
                inputs[mod] = _cloned((args, kwargs))
        handles.append(parent.register_forward_pre_hook(pre, with_kwargs=True))
    try:
        with torch.no_grad():
            _call(model, example)
    finally:
        for handle in handles:
            handle.remove()
    return calls, inputs


def _cloned(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, (tuple, list)):
        return type(value)(_cloned(v) for v in value)
    if isinstance(value, dict):
        return {k: _cloned(v) for k, v in value.items()}
    return value


def _call(module: nn.Module, example: Any) -> Any:
    if isinstance(example, torch.Tensor):
        return module(example)
    return module(*example)


def _relative(got: Any, want: Any) -> float:
    if isinstance(want, torch.Tensor):
        return float((got - want).abs().max() / want.abs().max().clamp_min(1e-30))
    if isinstance(want, (tuple, list)):
        return max((_relative(g, w) for g, w in zip(got, want)), default=0.0)
    return 0.0 if got == want else float("inf")


def _chained(calls: Sequence[Call]) -> bool:
    return all(calls[k + 1][2] == calls[k][3] for k in range(len(calls) - 1))


def fuse_traced(model: nn.Module, example: Any, rtol: float, replaced: list, left: list) -> None:
    """Fuse the chains found in non-Sequential blocks of ``model`` (see the module docstring)."""
    modes = {m: m.training for m in model.modules()}
    model.eval()  # no statistics update, no dropout while tracing and checking
    try:
        _fuse_all(model, example, rtol, replaced, left)
    finally:
        for m in model.modules():
            m.training = modes.get(m, m.training)
        for m in model.modules():  # new fused modules take their depthwise conv's mode
            if isinstance(m, (FusedSeparable2d, FusedConv2d)):
                m.train(m.parts()[0].training)


def _fuse_all(model: nn.Module, example: Any, rtol: float, replaced: list, left: list) -> None:
    calls, inputs = _record(model, example)
    names = {m: n for n, m in model.named_modules()}
    for parent, seq in calls.items():
        counts = Counter(id(c[1]) for c in seq)
        prefix = names[parent] + "." if names[parent] else ""
        i = 0
        while i < len(seq):
            name = seq[i][0]
            length, slots, separable = match_any([c[1] for c in seq[i:]])
            reason = slots if isinstance(slots, str) else _refuse(seq[i:i + length], counts)
            if reason is None:
                assert not isinstance(slots, str)
                reason = _try(parent, seq[i:i + length], slots, separable, inputs[parent], rtol)
            if reason is not None:
                if separable:
                    left.append(FusionReport(prefix + name, (), reason))
                i += 1
                continue
            assert not isinstance(slots, str)
            used = tuple(prefix + call[0] for call in seq[i:i + length])
            kind = "fused (traced block)" if separable else "fused conv + BatchNorm (traced block)"
            replaced.append(FusionReport(prefix + name, used, kind))
            i += length


def _refuse(chain: Sequence[Call], counts: Counter) -> str | None:
    if any(counts[id(c[1])] != 1 for c in chain):
        return "a module of the chain is called more than once"
    if not _chained(chain):
        return "something else runs between the steps (an input is not the previous output)"
    return None


def _try(parent: nn.Module, chain: Sequence[Call], slots: list[int], separable: bool,
         recorded: tuple[Any, Any], rtol: float) -> str | None:
    """Replace the chain in ``parent``; put it back unless the parent's output is unchanged."""
    args, kwargs = recorded
    modules = [c[1] for c in chain]
    with torch.no_grad():
        want = parent(*args, **kwargs)
        fused = build(modules, slots, separable).train(parent.training)
        setattr(parent, chain[0][0], fused)
        for c in chain[1:]:
            setattr(parent, c[0], nn.Identity())
        error = _relative(parent(*args, **kwargs), want)
    if error <= rtol:
        return None
    for c in chain:
        setattr(parent, c[0], c[1])
    return (f"the block's output changed by {error:.1e} when fused (a residual or another use "
            "of an intermediate)")
