"""Recipes: presets of TrainConfig, their on-device pieces (augmentation, decay groups), and the engine using them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sample_subset import sample_subset
from vgg_studio import engine, recipes, training_data
from vgg_studio.events import BatchProgress, EpochEnd, Finished, RunStarted
from vgg_studio.model import build_model
from vgg_studio.runs import load_run
from vgg_studio.spec import preset
from vgg_studio.summary import summarize
from vgg_studio.train_config import TrainConfig, validate_config

GOLDEN = Path(__file__).parent / "golden"


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


# ---- recipes as presets of TrainConfig ---------------------------------------------------------------


def test_d2l_is_the_default_and_fast_changes_only_training_settings():
    assert recipes.apply_recipe(TrainConfig(), "d2l") == TrainConfig()
    assert recipes.recipe_of(TrainConfig()) == "d2l"
    base = TrainConfig(dataset="sample", data_dir="/data", device="cpu", seed=7, amp=False, compile=True)
    fast = recipes.apply_recipe(base, "fast")
    assert recipes.recipe_of(fast) == "fast" and not validate_config(fast)
    changed = {k for k in TrainConfig.__dataclass_fields__ if getattr(fast, k) != getattr(base, k)}
    assert changed <= set(recipes.RECIPE_SETTINGS) | {"epochs"}
    assert (fast.dataset, fast.data_dir, fast.device, fast.seed, fast.amp, fast.compile) == \
        ("sample", "/data", "cpu", 7, False, True)
    assert recipes.recipe_of(fast.replace(epochs=20)) == "fast"  # the length is the user's
    assert recipes.recipe_of(fast.replace(lr=0.3)) == "custom"


def test_recipe_settings_are_validated_like_any_other():
    problems = validate_config(TrainConfig(nesterov=True, label_smoothing=1.5, shift=-1, flip="yes"))
    text = " ".join(problems)
    assert "Nesterov momentum needs the sgd optimizer with a momentum above 0" in text
    assert "Label smoothing must be a number" in text and "Shift must be a whole number" in text
    assert "Flip must be true or false" in text


# ---- the engine with recipes ------------------------------------------------------------------------------


@pytest.fixture
def sample_600(monkeypatch):
    monkeypatch.setattr(training_data, "load_dataset", lambda name, data_dir=None, device="cpu", download=True:
                        sample_subset(600, 200).to(device))


@pytest.fixture
def one_thread():
    """As the golden curve was recorded: another thread count sums in another order, and 24 steps amplify that."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_d2l_recipe_trains_exactly_as_before_recipes_existed(tmp_path, sample_600, one_thread):
    """Today's default curve, recorded from the engine before this change (tests/golden), within float noise."""
    golden = json.loads((GOLDEN / "d2l-curve-tiny-fp32.json").read_text())
    config = recipes.apply_recipe(TrainConfig(dataset="sample", device="cpu", amp=False, points_per_epoch=3), "d2l")
    result = engine.train(preset("tiny"), config.replace(epochs=2, batch_size=50), runs_root=tmp_path)
    assert isinstance(result, Finished), result
    record = load_run(result.run_dir)
    steps = [[r["epoch_float"], r["train_loss"], r["train_acc"]] for r in record.steps]
    epochs = [[r["train_loss"], r["train_acc"], r["test_acc"]] for r in record.epochs]
    for got, want in ((steps, golden["steps"]), (epochs, golden["epochs"])):
        assert len(got) == len(want)
        for row, expected in zip(got, want):
            # Losses to 0.1%; accuracies to within one test image (thread counts reorder float sums).
            assert row == [pytest.approx(v, rel=1e-3, abs=0.006) for v in expected]


def test_fast_recipe_augments_smooths_and_records_every_setting(tmp_path, sample_600, monkeypatch):
    calls = []
    original = recipes.augment

    def spy(images, generator, *, flip, shift):
        calls.append((flip, shift))
        return original(images, generator, flip=flip, shift=shift)

    monkeypatch.setattr(engine, "augment", spy)
    config = recipes.apply_recipe(TrainConfig(dataset="sample", device="cpu"), "fast").replace(
        epochs=2, batch_size=100, lr=0.05, flip=True, shift=2)  # lr 0.2 needs more than these 12 steps
    events: list = []
    result = engine.train(preset("tiny"), config, on_event=events.append, runs_root=tmp_path)
    assert isinstance(result, Finished) and result.test_acc > 0.3, result  # it learns: chance is 0.1
    assert calls == [(True, 2)] * 12  # every training batch, never the test pass
    saved = json.loads((Path(result.run_dir) / "config.json").read_text())
    assert TrainConfig.from_dict(saved) == config.replace(dataset="sample")
    assert saved["nesterov"] is True and saved["label_smoothing"] == config.label_smoothing
    assert saved["bias_decay"] is False and saved["compile"] is False


def test_the_hardware_share_is_reported_and_recorded(tmp_path, sample_600):
    events: list = []
    result = engine.train(preset("tiny"), TrainConfig(dataset="sample", device="cpu", epochs=1, batch_size=100,
                                                      points_per_epoch=2), on_event=events.append,
                          runs_root=tmp_path)
    started = next(e for e in events if isinstance(e, RunStarted))
    uses_bf16 = engine.cpu_has_bf16()
    assert started.peak_label == f"this CPU's {'bf16' if uses_bf16 else 'fp32'} peak" and started.peak_flops > 0
    progress = [e for e in events if isinstance(e, (BatchProgress, EpochEnd))]
    assert len(progress) == 3 and all(0 < e.hardware_share <= 1 for e in progress)
    end = next(e for e in events if isinstance(e, EpochEnd))
    forward = summarize(load_run(result.run_dir).spec).total_flops
    assert end.hardware_share == pytest.approx(min(1.0, 3 * forward * end.examples_per_sec / started.peak_flops))
    record = load_run(result.run_dir)
    assert record.epochs[0]["hardware_share"] == pytest.approx(end.hardware_share)
    meta = json.loads((Path(result.run_dir) / "run.json").read_text())
    assert meta["hardware"]["peak_flops"] == started.peak_flops and meta["hardware"]["flops_per_example"] == 3 * forward
    assert meta["hardware"]["dtype"] == ("bf16" if uses_bf16 else "fp32") and meta["compile"] == "off"
