"""Run folders: atomic files, unique names, reading back, listing, deleting; no training needed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from vgg_studio import runs
from vgg_studio.runs import RunError, RunFolder, RunResults, default_runs_dir, delete_run, list_runs, load_run
from vgg_studio.spec import preset
from vgg_studio.train_config import TrainConfig


def _results(k: int = 3) -> RunResults:
    return RunResults(classes=tuple(f"c{i}" for i in range(k)), confusion=np.eye(k, dtype=np.int64) * 5,
                      examples=np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 1, 28, 28),
                      example_pred=np.array([0, 1]), example_true=np.array([1, 1]))


def _make(root: Path, **meta) -> RunFolder:
    return RunFolder.create(preset("tiny"), TrainConfig(epochs=2, dataset="sample"), root=root, dataset="sample",
                            device="cpu", params=123, epochs=2, **meta)


def test_default_runs_dir_env_and_per_user(monkeypatch, tmp_path):
    monkeypatch.setenv("VGG_STUDIO_RUNS", str(tmp_path / "mine"))
    assert default_runs_dir() == tmp_path / "mine"
    monkeypatch.delenv("VGG_STUDIO_RUNS")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    if os.name == "posix" and not str(default_runs_dir()).startswith(str(Path.home() / "Library")):
        assert default_runs_dir() == tmp_path / "xdg" / "vgg-studio" / "runs"


def test_round_trip(tmp_path):
    run = _make(tmp_path)
    assert run.path.parent == tmp_path and run.path.name.endswith("-tiny")
    run.add_steps([{"epoch_float": 0.5, "train_loss": 2.0, "train_acc": 0.3}])
    run.add_epoch({"epoch": 1, "train_loss": 1.5, "train_acc": 0.5, "test_acc": 0.6, "examples_per_sec": 900.0,
                   "elapsed_s": 3.0, "lr": 0.05})
    run.save_results(_results())
    run.update(status="finished")

    record = load_run(run.path)
    assert record.spec == preset("tiny")
    assert record.config == TrainConfig(epochs=2, dataset="sample")
    assert record.steps == [{"epoch_float": 0.5, "train_loss": 2.0, "train_acc": 0.3}]
    assert record.epochs[0]["epoch"] == 1 and record.epochs[0]["test_acc"] == 0.6
    info = record.info
    assert (info.status, info.epochs_done, info.epochs, info.best_test_acc, info.params) == ("finished", 1, 2, 0.6, 123)
    assert info.arch_name == "tiny" and info.dataset == "sample" and info.device == "cpu"
    res = record.results
    assert res.classes == ("c0", "c1", "c2") and res.confusion.trace() == 15
    assert res.examples.dtype == np.uint8 and res.examples.shape == (2, 1, 28, 28)
    assert list(res.example_pred) == [0, 1] and list(res.example_true) == [1, 1]
    # no temporary files are left behind
    assert not [p for p in run.path.iterdir() if p.name.endswith(".tmp")]


def test_names_are_unique_and_list_is_newest_first(tmp_path):
    a, b = _make(tmp_path), _make(tmp_path)
    assert a.path != b.path
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{trunc")
    a.update(created="2020-01-01T00:00:00+00:00")
    infos = list_runs(tmp_path)
    assert [i.path for i in infos] == [b.path, a.path]
    assert list_runs(tmp_path / "absent") == []


def test_explicit_folder_must_be_empty(tmp_path):
    out = tmp_path / "out"
    RunFolder.create(preset("tiny"), TrainConfig(), path=out)
    with pytest.raises(RunError, match="already exists"):
        RunFolder.create(preset("tiny"), TrainConfig(), path=out)


def test_truncate_drops_a_partial_epoch(tmp_path):
    run = _make(tmp_path)
    run.add_steps([{"epoch_float": x, "train_loss": 1.0, "train_acc": 0.5} for x in (0.5, 1.0, 1.5)])
    run.add_epoch({"epoch": 1, "train_loss": 1, "train_acc": 0.5, "test_acc": 0.5, "examples_per_sec": 1,
                   "elapsed_s": 1, "lr": 0.05})
    reopened = RunFolder.reopen(run.path)
    reopened.truncate(1)
    assert [r["epoch_float"] for r in load_run(run.path).steps] == [0.5, 1.0]


def test_checkpoint_round_trip_and_missing(tmp_path):
    import torch

    run = _make(tmp_path)
    with pytest.raises(RunError, match="nothing to resume"):
        run.load_checkpoint()
    run.save_torch("checkpoint.pt", {"epoch": 3, "w": torch.ones(2), "rows": [{"a": 1.0}]})
    ckpt = run.load_checkpoint()
    assert ckpt["epoch"] == 3 and ckpt["w"].tolist() == [1.0, 1.0]


def test_errors_are_words(tmp_path):
    with pytest.raises(RunError, match="not a vgg-studio run"):
        load_run(tmp_path)
    run = _make(tmp_path)
    (run.path / "config.json").unlink()
    with pytest.raises(RunError, match="config.json is missing"):
        load_run(run.path)
    (run.path / "run.json").write_text(json.dumps({"format": runs.RUN_FORMAT}))
    with pytest.raises(RunError, match="damaged"):
        load_run(run.path)


def test_delete_refuses_non_runs(tmp_path):
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "file.txt").write_text("x")
    with pytest.raises(RunError):
        delete_run(keep)
    assert (keep / "file.txt").exists()
    run = _make(tmp_path)
    delete_run(run.path)
    assert not run.path.exists()


def test_a_run_whose_process_died_reads_as_interrupted(tmp_path):
    """A `kill -9` leaves run.json saying "running"; readers must not show it as live forever."""
    import json
    import subprocess
    import sys

    from vgg_studio.runs import RunFolder, list_runs
    from vgg_studio.spec import preset
    from vgg_studio.train_config import TrainConfig

    run = RunFolder.create(preset("tiny"), TrainConfig(), root=tmp_path)
    assert list_runs(tmp_path)[0].status == "running"  # this process is alive
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    meta = json.loads((run.path / "run.json").read_text())
    meta["pid"] = int(dead.stdout)
    (run.path / "run.json").write_text(json.dumps(meta))
    info = list_runs(tmp_path)[0]
    assert info.status == "interrupted" and "resume" in info.message


def test_a_column_added_later_reads_from_older_rows(tmp_path):
    """Rows written before `test_examples_per_sec` existed are read back without it, even once rewritten."""
    run = _make(tmp_path)
    old = {"epoch": 1, "train_loss": 1.5, "train_acc": 0.5, "test_acc": 0.6, "examples_per_sec": 900.0,
           "elapsed_s": 3.0, "lr": 0.05}
    run.add_epoch(old)
    run.add_epoch({**old, "epoch": 2, "test_examples_per_sec": 3000.0})
    assert load_run(run.path).epochs == [old, {**old, "epoch": 2, "test_examples_per_sec": 3000.0}]
