"""BatchNorm makes `tiny` learn faster: the chapter's recipe, 2 epochs, real sample images, fixed seed."""

from __future__ import annotations

import pytest

from sample_subset import sample_subset
from vgg_studio import training_data
from vgg_studio import engine
from vgg_studio.events import Finished
from vgg_studio.spec import preset
from vgg_studio.train_config import TrainConfig


@pytest.mark.slow
def test_tiny_with_batch_norm_beats_tiny_without(tmp_path, monkeypatch):
    # 2,000 of the sample's training images keep this to seconds on 2 cores; README has the full-sample run.
    monkeypatch.setattr(training_data, "load_dataset", lambda name, data_dir=None, device="cpu", download=True:
                        sample_subset(2000, 1000).to(device))
    config = TrainConfig(dataset="sample", device="cpu", epochs=2, seed=0)  # d2l: SGD, lr 0.05, batch 128
    assert (config.optimizer, config.lr, config.batch_size) == ("sgd", 0.05, 128)
    acc = {}
    for bn in (False, True):
        result = engine.train(preset("tiny").replace(batch_norm=bn), config, runs_root=tmp_path)
        assert isinstance(result, Finished) and result.epochs_done == 2, result
        acc[bn] = result.test_acc
    print(f"tiny on 2,000 sample images, 2 epochs: test acc {acc[False]:.3f} without BatchNorm, "
          f"{acc[True]:.3f} with")
    assert acc[True] > acc[False] + 0.02
