"""Warm start after an edit, end to end: a finished `tiny` run, then `tiny` with a third block started from it.

Real sample images (a fixed draw), fixed seeds. The warm start must name the reused and the new layers in
the log and in the run record, and its first epoch must start from a much lower training loss than the
same edited net started fresh.
"""

from __future__ import annotations

import json

import pytest

from sample_subset import sample_subset
from vgg_studio import training_data
from vgg_studio import engine
from vgg_studio.cli import main
from vgg_studio.events import BatchProgress, EpochEnd, Failed, Finished, RunStarted
from vgg_studio.runs import load_run
from vgg_studio.spec import Block, preset
from vgg_studio.train_config import TrainConfig

TINY3 = preset("tiny").inserting(2, Block(2, 128))  # the edit: a third block (28 -> 14 -> 7 -> 3)
# d2l's recipe (SGD, lr 0.05) with batches of 32, so that one epoch of 1,000 images has 32 steps to compare
CONFIG = TrainConfig(dataset="sample", device="cpu", epochs=1, batch_size=32, seed=0, points_per_epoch=4)


def _load(name, data_dir=None, device="cpu", download=True):
    return sample_subset(1000, 200).to(device)


@pytest.fixture(scope="module")
def finished_tiny(tmp_path_factory):
    """A finished 2-epoch `tiny` run on real sample images."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training_data, "load_dataset", _load)
        result = engine.train(preset("tiny"), CONFIG.replace(epochs=2), runs_root=tmp_path_factory.mktemp("runs"))
    assert isinstance(result, Finished) and result.epochs_done == 2, result
    return result.run_dir


@pytest.fixture
def sample(monkeypatch):
    monkeypatch.setattr(training_data, "load_dataset", _load)


def _first_epoch(spec, config, tmp_path):
    events: list = []
    result = engine.train(spec, config, on_event=events.append, runs_root=tmp_path)
    assert isinstance(result, Finished), result
    first = next(e for e in events if isinstance(e, BatchProgress))
    end = next(e for e in events if isinstance(e, EpochEnd))
    return events[0], first.train_loss, end.train_loss, result


@pytest.mark.slow
def test_warm_start_after_adding_a_block_starts_well_below_a_fresh_start(finished_tiny, sample, tmp_path):
    fresh_started, fresh_first, fresh_epoch, _ = _first_epoch(TINY3, CONFIG, tmp_path / "fresh")
    warm_started, warm_first, warm_epoch, result = _first_epoch(TINY3, CONFIG.replace(init_from=finished_tiny),
                                                                tmp_path / "warm")
    print(f"tiny + block 3, first quarter / first epoch train loss: fresh {fresh_first:.3f} / {fresh_epoch:.3f}, "
          f"warm start {warm_first:.3f} / {warm_epoch:.3f}")
    assert fresh_started.init_from is None and fresh_started.reused_layers == ()
    assert isinstance(warm_started, RunStarted)
    assert warm_started.reused_layers == ("block1.conv1", "block2.conv1", "block2.conv2", "fc2")
    assert warm_started.new_layers == ("block3.conv1", "block3.conv2", "fc1")
    # Measured here: first quarter 2.006 vs 2.247, whole first epoch 1.584 vs 2.079 (test acc 0.615 vs 0.31).
    assert warm_first < fresh_first - 0.1 and warm_epoch < fresh_epoch - 0.3

    record = load_run(result.run_dir)
    assert record.config.init_from == finished_tiny
    meta = json.loads((record.info.path / "run.json").read_text())
    assert meta["warm_start"]["reused"] == list(warm_started.reused_layers)
    assert meta["warm_start"]["why_new"]["fc1"] == "256x3136 in the run, 256x1152 now"


def test_cli_init_from_names_the_reused_and_new_layers(finished_tiny, sample, tmp_path, capsys):
    arch = tmp_path / "tiny3.json"
    from vgg_studio.spec import save

    save(TINY3, arch)
    code = main(["train", "--arch", str(arch), "--dataset", "sample", "--device", "cpu", "--epochs", "1",
                 "--init-from", finished_tiny, "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"warm start from {finished_tiny}:" in err
    assert "  reused (4): block1.conv1, block2.conv1, block2.conv2, fc2" in err
    assert "  new (3): block3.conv1, block3.conv2, fc1" in err


@pytest.mark.parametrize("argv, words", [
    (["--init-from", "{missing}"], "is not a vgg-studio run"),
    (["--init-from", "{run}", "--resume", "{run}"], "Use one of them"),
])
def test_cli_init_from_bad_input_exits_2(finished_tiny, sample, tmp_path, capsys, argv, words):
    argv = [a.format(missing=tmp_path / "nope", run=finished_tiny) for a in argv]
    extra = [] if "--resume" in argv else ["--preset", "tiny", "--out", str(tmp_path / "run")]
    code = main(["train", "--dataset", "sample", "--device", "cpu", "--epochs", "1", *extra, *argv])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # nothing was started


def test_a_failed_warm_start_is_reported_by_the_engine(sample, tmp_path):
    result = engine.train(TINY3, CONFIG.replace(init_from=str(tmp_path)), runs_root=tmp_path / "runs")
    assert isinstance(result, Failed) and result.kind == "spec" and "not a vgg-studio run" in result.message
    assert result.run_dir is None
