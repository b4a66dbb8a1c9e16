"""The cost estimate before Start: a measured speed turned into minutes per epoch, and cheaper choices."""

from __future__ import annotations

import math

import pytest

from vgg_studio import cost
from vgg_studio.spec import preset
from vgg_studio.train_config import TrainConfig


def test_estimate_counts_training_and_test_images_at_the_measured_speed():
    e = cost.estimate(TrainConfig(dataset="fashion-mnist", epochs=10), 200.0, "this CPU")
    assert (e.num_train, e.num_test) == (60_000, 10_000)
    assert e.epoch_s == pytest.approx((60_000 + 10_000 / 3) / 200)  # 317 s
    assert e.total_s == pytest.approx(10 * e.epoch_s) and e.slow
    assert e.sentence() == "≈ 5 min per epoch, ≈ 53 min for 10 epochs on this CPU"
    quick = cost.estimate(TrainConfig(dataset="sample", epochs=1), 1000.0, "the GPU")
    assert not quick.slow and quick.sentence() == "≈ 11 s for 1 epoch on the GPU"
    assert cost.epochs_within(e) == 1 and cost.epochs_within(quick) is None
    assert math.isinf(cost.estimate(TrainConfig(dataset="sample"), 0.0, "x").epoch_s)


def test_rough_durations_and_device_words():
    assert [cost.rough_duration(s) for s in (0.2, 45, 100, 3599, 5400, 40_000, 200_000)] == \
        ["1 s", "45 s", "2 min", "60 min", "1.5 h", "11 h", "2.3 days"]
    assert cost.device_words("cpu") == "this CPU" and cost.device_words("cuda:0") == "the GPU"


def test_a_smaller_input_keeps_every_block_valid():
    assert cost.smaller_input(preset("d2l-small")) == 64  # 5 halvings leave 2x2
    assert cost.smaller_input(preset("tiny")) is None  # 28 px is small already
    assert cost.smaller_input(preset("vgg11").replace(input_size=64)) is None


def test_probe_measures_real_steps_once_per_architecture(monkeypatch):
    spec, config = preset("tiny").replace(ratio=4), TrainConfig(dataset="sample", device="cpu", batch_size=16)
    monkeypatch.setattr(cost, "_cache", {})
    speed = cost.probe_speed(spec, config, steps=1)
    assert speed > 0 and cost.probe_speed(spec, config) == speed  # the second answer comes from the cache
    # The run's own batch (time per image depends on it), halved only while activations would pass 2 GiB.
    assert cost.probe_batch(preset("tiny"), 128) == cost.probe_batch(preset("d2l-small"), 128) == 128
    assert cost.probe_batch(preset("vgg11"), 128) == 32 and cost.probe_batch(preset("vgg19"), 128) == 16
    assert cost.probe_batch(preset("tiny"), 1) == 1
    cancel = __import__("threading").Event()
    cancel.set()
    with pytest.raises(cost.ProbeCancelled):
        cost.probe_speed(spec.replace(ratio=2), config, cancel=cancel)
