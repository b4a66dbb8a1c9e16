"""Recipes and their on-device pieces: augmentation and weight-decay groups."""

from __future__ import annotations

import torch

from vgg_studio import recipes
from vgg_studio.model import build_model
from vgg_studio.spec import preset


def _images(n: int = 64, size: int = 8) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randint(1, 256, (n, 1, size, size), generator=g, dtype=torch.uint8)  # no zeros: fill shows


def test_augment_flips_or_shifts_each_image_and_keeps_the_rest():
    x = _images()
    out = recipes.augment(x, torch.Generator().manual_seed(0), flip=True, shift=2)
    assert out.shape == x.shape and out.dtype == torch.uint8
    for original, moved in zip(x, out):
        # An independent check: the image is one of the 2 x 25 flips/shifts with zero fill.
        candidates = []
        for image in (original, original.flip(-1)):
            padded = torch.nn.functional.pad(image, (2, 2, 2, 2))
            candidates += [padded[:, 2 - dy:10 - dy, 2 - dx:10 - dx] for dy in range(-2, 3) for dx in range(-2, 3)]
        assert any(torch.equal(moved, c) for c in candidates)
    flipped = sum(torch.equal(a.flip(-1), b) for a, b in zip(x, recipes.augment(x, torch.Generator().manual_seed(0),
                                                                                flip=True, shift=0)))
    assert 16 < flipped < 48  # about half of 64
    assert torch.equal(recipes.augment(x, torch.Generator(), flip=False, shift=0), x)


def test_augment_is_repeatable_from_the_generator_state():
    x = _images()
    a = recipes.augment(x, torch.Generator().manual_seed(3), flip=True, shift=2)
    b = recipes.augment(x, torch.Generator().manual_seed(3), flip=True, shift=2)
    c = recipes.augment(x, torch.Generator().manual_seed(4), flip=True, shift=2)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_decay_groups_leave_biases_undecayed_unless_asked():
    model = build_model(preset("tiny").replace(in_channels=1, num_classes=10))
    weights, others = recipes.decay_groups(model, 5e-4, biases=False)
    assert weights["weight_decay"] == 5e-4 and others["weight_decay"] == 0.0
    named = dict(model.named_parameters())
    assert {id(p) for p in weights["params"]} == {id(p) for n, p in named.items() if n.endswith("weight")}
    assert {id(p) for p in others["params"]} == {id(p) for n, p in named.items() if n.endswith("bias")}
    (everything,) = recipes.decay_groups(model, 5e-4, biases=True)
    assert len(everything["params"]) == len(named)
