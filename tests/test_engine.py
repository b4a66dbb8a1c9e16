"""The training engine on real data (the bundled Fashion-MNIST sample, subsampled to stay fast on a CPU)."""

from __future__ import annotations

import errno
import itertools
import json
import math
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from sample_subset import sample_subset
from vgg_studio import data, engine, training_data
from vgg_studio.events import BatchProgress, EpochEnd, Failed, Finished, RunStarted, StepProgress
from vgg_studio.model import build_model
from vgg_studio.runs import load_run
from vgg_studio.spec import preset
from vgg_studio.train_config import TrainConfig


def _subset(n_train: int, n_test: int) -> data.Dataset:
    return sample_subset(n_train, n_test, seed=0)


@pytest.fixture
def small_sample(monkeypatch):
    """Make the engine load `n_train` + `n_test` real sample images; returns a setter."""

    def use(n_train: int, n_test: int) -> None:
        monkeypatch.setattr(training_data, "load_dataset", lambda name, data_dir=None, device="cpu", download=True:
                            _subset(n_train, n_test).to(device))

    use(1000, 200)
    return use


def _train(tmp_path, events=None, cancel=None, **config):
    events = [] if events is None else events
    config = TrainConfig(**{"dataset": "sample", "device": "cpu", "epochs": 1, "batch_size": 50, **config})
    result = engine.train(preset("tiny"), config, on_event=events.append, cancel=cancel, runs_root=tmp_path)
    return result, events


def test_tiny_learns_on_real_data(tmp_path, small_sample):
    small_sample(3000, 600)
    result, events = _train(tmp_path, epochs=3, batch_size=50, points_per_epoch=4)
    assert isinstance(result, Finished) and not result.cancelled, result
    assert isinstance(events[0], RunStarted) and events[-1] is result
    assert events[0].num_train == 3000 and events[0].batches_per_epoch == 60 and events[0].dataset == "sample"
    ends = [e for e in events if isinstance(e, EpochEnd)]
    print("tiny on the sample:", [(e.epoch, round(e.train_loss, 3), round(e.test_acc, 3),
                                    round(e.examples_per_sec)) for e in ends])
    assert [e.epoch for e in ends] == [1, 2, 3]
    assert ends[-1].train_loss < ends[0].train_loss
    assert ends[-1].test_acc > ends[0].test_acc and ends[-1].test_acc > 0.6  # chance is 0.1
    progress = [e for e in events if isinstance(e, BatchProgress)]
    assert len(progress) == 12 and progress[-1].epoch_float == 3.0
    assert all(a.epoch_float < b.epoch_float for a, b in itertools.pairwise(progress))
    # Points are interval means (15 batches each here): an epoch's points average to its running mean, and
    # its last point is not that running mean (which would drop at every epoch boundary).
    for end in ends:
        points = [p for p in progress if p.epoch == end.epoch]
        assert np.mean([p.train_loss for p in points]) == pytest.approx(end.train_loss, rel=1e-4)
        assert np.mean([p.train_acc for p in points]) == pytest.approx(end.train_acc, rel=1e-4)
        assert points[-1].train_loss != pytest.approx(end.train_loss, rel=1e-3)
    # Between points, progress without metrics, from the first step of each epoch on.
    steps = [e for e in events if isinstance(e, StepProgress)]
    assert [(s.epoch, s.batch) for s in steps if s.batch == 1] == [(1, 1), (2, 1), (3, 1)]
    assert all(0 < s.batch < s.num_batches and s.examples_per_sec > 0 for s in steps)
    assert result.summary_lines()[0].startswith("loss ") and "examples/sec on cpu" in result.summary_lines()[1]

    record = load_run(result.run_dir)
    assert record.info.status == "finished" and record.info.epochs_done == 3
    assert record.info.best_test_acc == max(e.test_acc for e in ends)
    assert [r["epoch"] for r in record.epochs] == [1, 2, 3] and len(record.steps) == 12
    assert record.spec.in_channels == 1 and record.spec.num_classes == 10
    res = record.results
    assert res.confusion.sum() == 600 and np.trace(res.confusion) / 600 == pytest.approx(ends[-1].test_acc)
    assert res.examples.shape == (64, 1, 28, 28) and res.examples.dtype == np.uint8
    wrong = res.example_pred != res.example_true
    assert wrong.any() and not (np.diff(wrong.astype(int)) > 0).any()  # misclassified first
    net = build_model(record.spec)
    net.load_state_dict(torch.load(f"{result.run_dir}/final.pt", weights_only=True))


_HOST_READS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__")


def _count_host_reads(monkeypatch) -> list[str]:
    calls: list[str] = []
    for name in _HOST_READS:
        original = getattr(torch.Tensor, name)

        def spy(self, *args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, spy)
    return calls


def test_no_host_sync_per_batch(tmp_path, monkeypatch, small_sample):
    """Reading tensors back to the host is independent of the number of batches (a few per epoch)."""
    counts = []
    _subset(600, 100)  # loaded once (its mean/std are read back), outside the counts
    for batch_size in (50, 10):  # 12 and 60 batches per epoch
        small_sample(600, 100)
        calls = _count_host_reads(monkeypatch)
        result, _ = _train(tmp_path, batch_size=batch_size, points_per_epoch=3)
        monkeypatch.undo()
        assert isinstance(result, Finished)
        counts.append(len(calls))
    assert counts[0] == counts[1], counts
    assert counts[0] < 30, counts  # 3 read-backs + the test pass's predictions + saving final.pt


def test_cancel_stops_within_one_batch(tmp_path, small_sample):
    cancel = threading.Event()
    events: list = []

    def on_event(event):
        events.append(event)
        if isinstance(event, BatchProgress):
            cancel.set()  # the engine must not start another batch

    result = engine.train(preset("tiny"), TrainConfig(dataset="sample", device="cpu", epochs=2, batch_size=50,
                                                      points_per_epoch=4), on_event=on_event, cancel=cancel,
                          runs_root=tmp_path)
    assert isinstance(result, Finished) and result.cancelled and result.epochs_done == 0
    assert sum(isinstance(e, BatchProgress) for e in events) == 1
    first = next(e for e in events if isinstance(e, BatchProgress))
    record = load_run(result.run_dir)
    assert record.info.status == "cancelled" and "resume" in record.info.message
    assert [s["epoch_float"] for s in record.steps] == [first.epoch_float]  # nothing trained after it
    assert record.steps[0]["train_loss"] == pytest.approx(first.train_loss)
    assert record.epochs == [] and math.isnan(result.test_acc)
    assert (record.info.path / "final.pt").exists() and not (record.info.path / "checkpoint.pt").exists()


def test_a_stop_before_anything_is_measured_leaves_no_run_folder(tmp_path, small_sample):
    cancel = threading.Event()
    cancel.set()
    result, events = _train(tmp_path, cancel=cancel)
    assert isinstance(result, Finished) and result.cancelled and result.epochs_done == 0
    assert not any(isinstance(e, (BatchProgress, EpochEnd)) for e in events)
    assert result.run_dir == "" and list(tmp_path.iterdir()) == []  # no "cancelled, 0 epochs" clutter


class _SetAfter:
    """A cancel flag that becomes set after `n` checks: a Stop a few batches in, before any progress point."""

    def __init__(self, n: int) -> None:
        self.n = n

    def is_set(self) -> bool:
        self.n -= 1
        return self.n < 0


def test_a_stop_before_the_first_progress_point_leaves_no_run_folder(tmp_path, small_sample):
    result, events = _train(tmp_path, cancel=_SetAfter(3), points_per_epoch=1)
    assert isinstance(result, Finished) and result.cancelled and result.run_dir == ""
    assert not any(isinstance(e, BatchProgress) for e in events) and list(tmp_path.iterdir()) == []


def test_lr_100_diverges_with_a_message(tmp_path, small_sample):
    result, events = _train(tmp_path, lr=100.0, epochs=3, points_per_epoch=2)
    assert isinstance(result, Failed) and result.kind == "diverged", result
    assert "learning rate 100" in result.message and "smaller learning rate" in result.message
    assert "such as 10" in result.message
    assert not any(isinstance(e, EpochEnd) for e in events)
    record = load_run(result.run_dir)  # the folder stays readable
    assert record.info.status == "failed" and "diverged" in record.info.message
    assert all(math.isfinite(s["train_loss"]) for s in record.steps)


def test_divergence_inside_the_first_read_back_window(tmp_path, small_sample):
    """One read-back per epoch: a NaN early in the epoch is still caught (the sums keep it)."""
    result, _ = _train(tmp_path, lr=100.0, epochs=2, points_per_epoch=1)
    assert isinstance(result, Failed) and result.kind == "diverged"
    assert "epoch 1" in result.message


def test_missing_data_is_a_data_failure(tmp_path, monkeypatch):
    import torchvision

    def no_network(self):
        raise OSError("network disabled in the tests")

    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", no_network)
    empty = tmp_path / "data"
    empty.mkdir()
    config = TrainConfig(dataset="fashion-mnist", data_dir=str(empty), device="cpu")
    events: list = []
    result = engine.train(preset("tiny"), config, on_event=events.append, runs_root=tmp_path / "runs")
    assert isinstance(result, Failed) and result.kind == "data"
    assert str(empty) in result.message and "train-images-idx3-ubyte" in result.message
    assert result.run_dir is None and events == [result]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_resume_continues_from_the_last_epoch(tmp_path, small_sample):
    small_sample(600, 100)
    straight, _ = _train(tmp_path / "a", epochs=2, points_per_epoch=2)

    cancel = threading.Event()
    events: list = []

    def stop_after_epoch_1(event):
        events.append(event)
        if isinstance(event, EpochEnd):
            cancel.set()

    config = TrainConfig(dataset="sample", device="cpu", epochs=2, batch_size=50, points_per_epoch=2)
    first = engine.train(preset("tiny"), config, on_event=stop_after_epoch_1, cancel=cancel, runs_root=tmp_path / "b")
    assert first.cancelled and first.epochs_done == 1

    record = load_run(first.run_dir)
    events = []
    resumed = engine.train(record.spec, record.config, on_event=events.append, resume=first.run_dir)
    assert isinstance(resumed, Finished) and not resumed.cancelled and resumed.run_dir == first.run_dir
    assert events[0].start_epoch == 1 and [e.epoch for e in events if isinstance(e, EpochEnd)] == [2]
    record = load_run(first.run_dir)
    assert record.info.status == "finished" and [r["epoch"] for r in record.epochs] == [1, 2]
    assert [s["epoch_float"] for s in record.steps] == [0.5, 1.0, 1.5, 2.0]
    # the same numbers as without the interruption: weights, optimizer, shuffling and dropout RNG restored
    assert resumed.train_loss == pytest.approx(straight.train_loss, rel=1e-4)
    assert resumed.test_acc == pytest.approx(straight.test_acc, abs=0.011)

    again = engine.train(record.spec, record.config, resume=first.run_dir)
    assert isinstance(again, Failed) and again.kind == "spec" and "more than 2 epochs" in again.message
    assert load_run(first.run_dir).info.status == "finished"  # a refused resume leaves the run alone


def test_bad_input_is_a_spec_failure(tmp_path, small_sample):
    result, _ = _train(tmp_path, lr=-1.0)
    assert isinstance(result, Failed) and result.kind == "spec" and "Learning rate" in result.message
    deep = preset("vgg11").replace(input_size=28)  # five halvings do not fit 28x28
    result = engine.train(deep, TrainConfig(dataset="sample", device="cpu"), runs_root=tmp_path)
    assert isinstance(result, Failed) and result.kind == "spec" and "Block 5" in result.message
    assert result.run_dir is None and list(tmp_path.iterdir()) == []
    if not torch.cuda.is_available():
        result, _ = _train(tmp_path, device="cuda")
        assert isinstance(result, Failed) and result.kind == "spec" and "CUDA" in result.message


def test_unexpected_error_and_out_of_memory(tmp_path, small_sample, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("boom in the test pass")

    monkeypatch.setattr(engine, "evaluate", boom)
    result, _ = _train(tmp_path / "err")
    assert isinstance(result, Failed) and result.kind == "error" and "boom in the test pass" in result.message
    assert "Traceback" in (Path(result.run_dir) / "error.log").read_text()
    assert load_run(result.run_dir).info.status == "failed"

    def oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(engine, "evaluate", oom)
    result, _ = _train(tmp_path / "oom")
    assert isinstance(result, Failed) and result.kind == "out_of_memory"
    assert "smaller batch size" in result.message and "ratio" in result.message


def test_schedules_and_optimizers():
    assert engine.lr_factor("constant", 50, 100) == 1.0
    assert engine.lr_factor("cosine", 0, 100) == 1.0 and engine.lr_factor("cosine", 100, 100) == pytest.approx(0)
    assert engine.lr_factor("cosine", 50, 100) == pytest.approx(0.5)
    assert engine.lr_factor("onecycle", 0, 100) == pytest.approx(1 / 25)
    assert engine.lr_factor("onecycle", 30, 100) == pytest.approx(1.0)
    assert engine.lr_factor("onecycle", 100, 100) == pytest.approx(1 / 25e4)
    params = [torch.nn.Parameter(torch.zeros(2))]
    sgd = engine.make_optimizer(params, TrainConfig(momentum=0.9, weight_decay=1e-4))
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.9
    assert isinstance(engine.make_optimizer(params, TrainConfig(optimizer="adam", lr=1e-3)), torch.optim.Adam)
    assert isinstance(engine.make_optimizer(params, TrainConfig(optimizer="adamw", lr=1e-3)), torch.optim.AdamW)


def test_cosine_schedule_reaches_zero_in_the_run(tmp_path, small_sample):
    small_sample(300, 100)
    result, events = _train(tmp_path, epochs=2, schedule="cosine", optimizer="sgd", momentum=0.9)
    lrs = [e.lr for e in events if isinstance(e, EpochEnd)]
    assert isinstance(result, Finished) and lrs[0] == pytest.approx(0.025, rel=0.02) and lrs[1] == pytest.approx(0)


# ---- issue 11: resumes that change nothing they should not, disks that fail, folders that vanish ---------------

def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def one_epoch_run(tmp_path, small_sample):
    """A finished one-epoch SGD run on 300 sample images, to resume."""
    small_sample(300, 100)
    result, _ = _train(tmp_path, epochs=1, points_per_epoch=2)
    assert isinstance(result, Finished), result
    return Path(result.run_dir)


@pytest.mark.parametrize("changes, words", [
    ({"lr": 0.001, "momentum": 0.9}, "cannot change lr 0.05 → 0.001, momentum 0.0 → 0.9"),
    ({"optimizer": "adam"}, "cannot change optimizer sgd → adam"),
    ({"batch_size": 25, "seed": 3}, "cannot change batch_size 50 → 25, seed 0 → 3"),
])
def test_a_refused_resume_changes_nothing_on_disk(one_epoch_run, changes, words):
    record = load_run(one_epoch_run)
    before = _files(one_epoch_run)
    result = engine.train(record.spec, record.config.replace(epochs=2, **changes), resume=one_epoch_run)
    assert isinstance(result, Failed) and result.kind == "spec" and words in result.message
    assert "start a new run" in result.message
    assert _files(one_epoch_run) == before  # byte-identical: a plain resume still works afterwards
    assert load_run(one_epoch_run).info.resumable


def test_a_resume_records_what_it_used(one_epoch_run):
    record = load_run(one_epoch_run)
    result = engine.train(record.spec, record.config.replace(epochs=2, points_per_epoch=1, amp=False),
                          resume=one_epoch_run)
    assert isinstance(result, Finished) and result.epochs_done == 2
    after = load_run(one_epoch_run)
    assert after.config == record.config.replace(epochs=2, points_per_epoch=1, amp=False)
    assert [r["lr"] for r in after.epochs] == [record.config.lr] * 2
    meta = json.loads((one_epoch_run / "run.json").read_text())
    assert [s["from_epoch"] for s in meta["sessions"]] == [1, 2] and meta["sessions"][1]["bf16"] is False


@pytest.mark.skipif(os.name != "posix", reason="folder locks are POSIX flock")
def test_a_second_resume_of_a_run_in_training_is_refused(one_epoch_run):
    from vgg_studio.runs import RunFolder

    record = load_run(one_epoch_run)
    holder = RunFolder.reopen(one_epoch_run)
    holder.lock()  # as a process training it would
    try:
        before = _files(one_epoch_run)
        result = engine.train(record.spec, record.config.replace(epochs=2), resume=one_epoch_run)
        assert isinstance(result, Failed) and result.kind == "spec" and "being trained right now" in result.message
        assert _files(one_epoch_run) == before
    finally:
        holder.unlock()


def test_a_foreign_checkpoint_is_a_clear_refusal(one_epoch_run, tmp_path):
    record = load_run(one_epoch_run)
    ckpt = torch.load(one_epoch_run / "checkpoint.pt", weights_only=True)
    ckpt["model"] = {k: torch.zeros(3) for k in ckpt["model"]}  # another network's weights
    torch.save(ckpt, one_epoch_run / "checkpoint.pt")
    before = _files(one_epoch_run)
    result = engine.train(record.spec, record.config.replace(epochs=2), resume=one_epoch_run)
    assert isinstance(result, Failed) and result.kind == "spec"
    assert "do not fit the run's architecture" in result.message and "size mismatch" not in result.message
    assert _files(one_epoch_run) == before


def test_a_run_folder_deleted_mid_run_stops_training_and_is_not_rebuilt(tmp_path, small_sample):
    small_sample(300, 100)

    def delete_at_first_point(event):  # as `rm -rf` or another window would, while the run trains
        if isinstance(event, RunStarted):
            folder.append(Path(event.run_dir))
        elif isinstance(event, BatchProgress):
            shutil.rmtree(folder[0], ignore_errors=True)

    folder: list[Path] = []
    result, _ = _train(tmp_path, events=_Tee(delete_at_first_point), epochs=2, points_per_epoch=6)
    assert isinstance(result, Failed) and result.kind == "disk" and "was deleted while training" in result.message
    assert not folder[0].exists() and list(tmp_path.iterdir()) == []


class _Tee(list):
    """An event list that also calls `hook` on each event, for `_train(events=...)`."""

    def __init__(self, hook):
        super().__init__()
        self.hook = hook

    def append(self, event):
        super().append(event)
        self.hook(event)


def test_a_full_disk_mid_run_is_one_message_and_not_called_resumable(tmp_path, small_sample, monkeypatch):
    """ENOSPC from the first metrics write on: the message names the file and the error; run.json cannot be
    updated either, so the listing must not offer a resume without a checkpoint."""
    small_sample(300, 100)
    from vgg_studio import atomic, runs

    real = atomic.atomic_write
    full = {"on": False}

    def maybe_full(path, write):
        if full["on"]:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, write)

    monkeypatch.setattr(runs, "atomic_write", maybe_full)
    monkeypatch.setattr(runs, "atomic_write_text", lambda path, text: maybe_full(path, lambda fh: fh.write(
        text.encode())))

    def fill_disk(event):
        if isinstance(event, RunStarted):
            full["on"] = True

    result, _ = _train(tmp_path, events=_Tee(fill_disk), epochs=2, points_per_epoch=2)
    assert isinstance(result, Failed) and result.kind == "disk", result
    assert "steps.csv (No space left on device)" in result.message and "nothing to resume" in result.message
    run_dir = Path(result.run_dir)
    assert not (run_dir / "error.log").exists()
    full["on"] = False
    [info] = runs.list_runs(tmp_path)
    assert info.status == "interrupted" and not info.resumable and "nothing to resume" in info.message
