"""Which module chains ``accelerate`` fuses: a depthwise ``nn.Conv2d`` → [BatchNorm] →
[activation] → 1×1 ``nn.Conv2d`` → [BatchNorm] → [activation], or a convolution + BatchNorm, and
the fused module built from a matched chain. Used on ``nn.Sequential`` children
(:mod:`sepconv.nn.accelerate`) and on the children a block calls in order (:mod:`sepconv.nn._trace`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import nn

from sepconv.nn._fold import FusedConv2d, FusedSeparable2d
from sepconv.nn._folding import ACTIVATIONS, foldable_bn


@dataclass(frozen=True)
class FusionReport:
    """One depthwise convolution: the modules fused with it, or why it was left alone."""

    name: str
    modules: tuple[str, ...]
    reason: str


def sequential_like(m: nn.Module) -> bool:
    """An ``nn.Sequential`` or a subclass that runs its children in order (torchvision's
    ``Conv2dNormActivation``): its chains are found from its structure."""
    return isinstance(m, nn.Sequential) and type(m).forward is nn.Sequential.forward


def is_depthwise(m: nn.Module) -> bool:
    return (type(m) is nn.Conv2d and m.groups == m.in_channels and m.groups > 1
            and m.out_channels % m.in_channels == 0)


def _is_pointwise(m: nn.Module, channels: int) -> bool:
    return (type(m) is nn.Conv2d and m.kernel_size == (1, 1) and m.stride == (1, 1)
            and m.groups == 1 and m.in_channels == channels
            and m.padding in ((0, 0), "valid", "same"))


def _is_activation(m: nn.Module) -> bool:
    return type(m) in ACTIVATIONS


def match(chain: Sequence[nn.Module]) -> tuple[int, list[int] | str]:
    """Match a chain starting at a depthwise conv: (length, slots) or (0, reason).

    Slots index ``chain`` for (depthwise, bn1, act1, pointwise, bn2, act2), -1 where absent.
    ``nn.Identity`` modules between the steps (timm's ``aa`` and ``se`` where a block has none)
    compute nothing and become part of the chain.
    """
    slots, i = [0], 1

    def optional(ok: Callable[[nn.Module], bool]) -> None:
        nonlocal i
        j = _past_identities(chain, i)
        found = j < len(chain) and ok(chain[j])
        slots.append(j if found else -1)
        i = j + 1 if found else i

    channels = int(chain[0].out_channels)  # type: ignore[arg-type]
    optional(lambda m: foldable_bn(m, channels) is None)
    optional(_is_activation)
    i = _past_identities(chain, i)
    if i >= len(chain) or not _is_pointwise(chain[i], channels):
        found = type(chain[i]).__name__ if i < len(chain) else "nothing"
        return 0, f"no 1×1 pointwise convolution after it (found {found})"
    slots.append(i)
    i += 1
    out = int(chain[slots[3]].out_channels)  # type: ignore[arg-type]
    optional(lambda m: foldable_bn(m, out) is None)
    optional(_is_activation)
    return i, slots


def _past_identities(chain: Sequence[nn.Module], i: int) -> int:
    while i < len(chain) and type(chain[i]) is nn.Identity:
        i += 1
    return i


def _match_conv(chain: Sequence[nn.Module]) -> tuple[int, list[int] | str]:
    """A plain ``nn.Conv2d`` → BatchNorm2d → [activation] chain (a stem or expansion conv)."""
    conv = chain[0]
    if not (type(conv) is nn.Conv2d and conv.padding_mode == "zeros"
            and not isinstance(conv.padding, str)):
        return 0, "not a plain zero-padded nn.Conv2d"
    if len(chain) < 2 or foldable_bn(chain[1], conv.out_channels) is not None:
        return 0, "no BatchNorm2d after it"
    act = len(chain) > 2 and _is_activation(chain[2])
    return 2 + act, [0, 1, 2 if act else -1]


def absorb_after(chain: Sequence[nn.Module]) -> int:
    """Move a BatchNorm2d/activation following a SeparableConv2d into its ``after``; the count."""
    from sepconv.nn.layers import SeparableConv2d

    layer = chain[0]
    if type(layer) is not SeparableConv2d or layer.after is not None:
        return 0
    channels = layer.out_channels
    taken: list[nn.Module] = []
    if len(chain) > 1 and type(chain[1]) is nn.BatchNorm2d and foldable_bn(chain[1], channels) is None:
        taken.append(chain[1])
    if len(chain) > len(taken) + 1 and _is_activation(chain[len(taken) + 1]):
        taken.append(chain[len(taken) + 1])
    if taken:
        layer.after = nn.Sequential(*taken).train(layer.training)
    return len(taken)


def match_any(chain: Sequence[nn.Module]) -> tuple[int, list[int] | str, bool]:
    """(length, slots or reason, is_separable) of the chain starting at ``chain[0]``."""
    if is_depthwise(chain[0]):
        length, slots = match(chain)
        if not isinstance(slots, str):
            return length, slots, True
        conv_length, conv_slots = _match_conv(chain)
        if isinstance(conv_slots, str):
            return 0, slots, True
        return conv_length, conv_slots, False
    length, slots = _match_conv(chain)
    return length, slots, False


def build(chain: Sequence[nn.Module], slots: list[int], separable: bool = True) -> nn.Module:
    parts = [chain[s] if s >= 0 else None for s in slots]
    fused = FusedSeparable2d(*parts) if separable else FusedConv2d(*parts)  # type: ignore[arg-type]
    return fused.train(chain[0].training)
