"""Training recipes: named presets of training settings, and the on-device pieces the fast one uses (no Qt).

A recipe never changes the architecture and never hides a setting: it is a set of TrainConfig values that
the CLI and the panel fill in, every one of them still visible, editable and saved in config.json.

- `d2l` is the chapter's `train_ch6`: plain SGD at lr 0.05, batch 128, no augmentation. It is the default,
  so a run without `--recipe` trains exactly as d2l does.
- `fast` is airbench-style practice for these small nets (see the airbench and hlb-CIFAR10 projects):
  Nesterov momentum, a one-cycle schedule to a high peak learning rate, label smoothing and weight decay on
  weights only. Tuned on the full Fashion-MNIST for `tiny` in 3 epochs (benchmarks/RESULTS.md): batch 128
  beat 256 (twice the steps) and 64 (slower steps, same accuracy); augmentation is off, as in 3 epochs these
  nets underfit (train accuracy ~0.93) and flips/shifts only slow the fit. They are there as settings
  (random flips and shifts drawn on the device for a whole batch at once) for longer runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from .train_config import RECIPES, TrainConfig

# The settings a recipe decides. Epochs are not among them: a recipe suggests a length (below), but how
# long to train is the user's call and does not make a run "custom".
RECIPE_SETTINGS = ("batch_size", "lr", "optimizer", "momentum", "nesterov", "weight_decay", "bias_decay",
                   "schedule", "label_smoothing", "flip", "shift")


@dataclass(frozen=True)
class Recipe:
    name: str
    settings: Mapping[str, Any]  # a value for every name in RECIPE_SETTINGS
    epochs: int  # the length it was tuned for
    about: str  # one line for help texts and tooltips


_D2L = TrainConfig()  # TrainConfig's defaults are d2l's train_ch6: one source for both
_PRESETS = {
    "d2l": Recipe("d2l", MappingProxyType({k: getattr(_D2L, k) for k in RECIPE_SETTINGS}), _D2L.epochs,
                  "d2l's train_ch6: SGD lr 0.05, batch 128, no momentum, no augmentation, 10 epochs"),
    "fast": Recipe("fast", MappingProxyType({
        "batch_size": 128, "lr": 0.2, "optimizer": "sgd", "momentum": 0.9, "nesterov": True,
        "weight_decay": 5e-4, "bias_decay": False, "schedule": "onecycle", "label_smoothing": 0.1,
        "flip": False, "shift": 0}), 3,
        "Nesterov SGD (momentum 0.9), one-cycle to lr 0.2, label smoothing 0.1, weight decay 5e-4 on weights "
        "only, batch 128, 3 epochs"),
}
assert tuple(_PRESETS) == RECIPES and all(set(r.settings) == set(RECIPE_SETTINGS) for r in _PRESETS.values())


def recipe(name: str) -> Recipe:
    return _PRESETS[name]


def apply_recipe(config: TrainConfig, name: str) -> TrainConfig:
    """`config` with the recipe's settings and suggested epochs; everything else (data, device...) kept."""
    r = _PRESETS[name]
    return config.replace(epochs=r.epochs, **r.settings)


def recipe_of(config: TrainConfig) -> str:
    """The recipe whose settings `config` has, or "custom" when some differ."""
    for r in _PRESETS.values():
        if all(getattr(config, k) == v for k, v in r.settings.items()):
            return r.name
    return "custom"


def augment(images_u8: torch.Tensor, generator: torch.Generator, *, flip: bool, shift: int) -> torch.Tensor:
    """A randomly flipped (left-right) and shifted copy of a uint8 batch (N, C, H, W), drawn per image.

    Runs at the native size before the batch is resized, so it touches 28x28 pixels, not the input size.
    A shift moves the image by up to `shift` pixels each way with zero fill (the background of the
    MNIST-style sets; a small dark border on CIFAR), as a padded random crop does. The random draws come
    from `generator` (on the CPU), so a seeded run is repeatable and a resumed one continues its stream.
    """
    n, _, h, w = images_u8.shape
    device = images_u8.device
    out = images_u8
    if flip:
        flips = torch.rand(n, generator=generator) < 0.5
        out = torch.where(flips.to(device).view(n, 1, 1, 1), out.flip(-1), out)
    if shift > 0:
        dy, dx = torch.randint(-shift, shift + 1, (2, n), generator=generator).to(device)
        padded = nn.functional.pad(out, (shift, shift, shift, shift))
        rows = (torch.arange(h, device=device).view(1, h) + shift - dy.view(n, 1))  # (N, H)
        cols = (torch.arange(w, device=device).view(1, w) + shift - dx.view(n, 1))  # (N, W)
        index_n = torch.arange(n, device=device).view(n, 1, 1)
        # (N, H, W, C) -> (N, C, H, W): advanced indexing puts the indexed dims first.
        out = padded.permute(0, 2, 3, 1)[index_n, rows.view(n, h, 1), cols.view(n, 1, w)].permute(0, 3, 1, 2)
    return out.contiguous()


def decay_groups(model: nn.Module, weight_decay: float, biases: bool) -> list[dict]:
    """Optimizer parameter groups: weight decay on the weight matrices and kernels, and on biases only if asked.

    Decaying biases pulls them towards zero for no benefit (they add no capacity to overfit with).
    """
    if biases:
        return [{"params": list(model.parameters()), "weight_decay": weight_decay}]
    weights = [p for p in model.parameters() if p.dim() > 1]
    others = [p for p in model.parameters() if p.dim() <= 1]
    return [{"params": weights, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]
