"""Run folders: atomic files, unique names, reading back, listing, deleting; no training needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def _make(root: Path, locked: bool = False, **meta) -> RunFolder:
    """A run folder as a training process makes it; unlocked (as after that process ended) unless `locked`."""
    run = RunFolder.create(preset("tiny"), TrainConfig(epochs=2, dataset="sample"), root=root, dataset="sample",
                           device="cpu", params=123, epochs=2, **meta)
    if not locked:
        run.unlock()
    return run


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
    assert [i.path for i in infos if i.status != "damaged"] == [b.path, a.path]
    assert [i.name for i in infos if i.status == "damaged"] == ["broken"]  # listed, so it does not vanish
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
    with pytest.raises(RunError, match=r"config\.json is missing"):
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
    assert list_runs(tmp_path)[0].status == "running"  # this process is alive and holds the folder
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    meta = json.loads((run.path / "run.json").read_text())
    meta["pid"] = int(dead.stdout)
    (run.path / "run.json").write_text(json.dumps(meta))
    run.unlock()  # what the OS does when that process dies
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


# ---- issue 11: runs in use, damaged runs, truthful statuses ----------------------------------------------------

def _hold_lock_in_another_process(path: Path) -> subprocess.Popen:
    """A second process that holds the run folder's lock, as a CLI `train` writing it would."""
    code = ("import sys; from vgg_studio.runs import RunFolder\n"
            "run = RunFolder.reopen(sys.argv[1]); run.lock(); run.update(status='running')\n"
            "print('locked', flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.skipif(os.name != "posix", reason="folder locks are POSIX flock")
def test_a_run_another_process_trains_is_running_and_cannot_be_deleted(tmp_path):
    run = _make(tmp_path)
    run.update(status="cancelled")
    proc = _hold_lock_in_another_process(run.path)
    try:
        assert runs.is_locked(run.path)
        [info] = list_runs(tmp_path)
        assert info.status == "running" and info.in_use and not info.resumable
        with pytest.raises(RunError, match=rf"being trained right now \(by process {proc.pid}\)"):
            delete_run(run.path)
        assert (run.path / "run.json").is_file()
    finally:
        proc.kill()
        proc.wait()
    assert not runs.is_locked(run.path)
    [info] = list_runs(tmp_path)  # run.json still says running, but nobody holds the lock: the process died
    assert info.status == "interrupted" and "nothing to resume" in info.message and not info.resumable
    delete_run(run.path)
    assert not run.path.exists()


def test_the_engine_s_own_lock_counts_in_the_same_process(tmp_path):
    run = _make(tmp_path, locked=True)
    assert runs.is_locked(run.path) and list_runs(tmp_path)[0].status == "running"
    with pytest.raises(RunError, match="being trained right now"):
        delete_run(run.path)
    run.unlock()
    assert not runs.is_locked(run.path)


def test_an_interrupted_run_with_a_checkpoint_says_resume(tmp_path):
    run = _make(tmp_path)
    run.save_torch("checkpoint.pt", {"epoch": 1})
    [info] = list_runs(tmp_path)
    assert info.status == "interrupted" and "resume it" in info.message and info.resumable


def test_a_damaged_run_json_is_listed_as_damaged_and_can_be_deleted(tmp_path):
    run = _make(tmp_path)
    (run.path / "run.json").write_text('{"format": "vgg-studio.run", "created": ')
    [info] = list_runs(tmp_path)
    assert info.status == "damaged" and "run.json is damaged" in info.message and info.name == run.path.name
    delete_run(run.path)
    assert not run.path.exists()


def test_runs_folder_that_is_a_file_is_a_clear_error(tmp_path):
    file = tmp_path / "runs"
    file.write_text("not a folder")
    with pytest.raises(RunError, match="is a file, not a folder; point VGG_STUDIO_RUNS or --out at a folder"):
        _make(file)
    assert file.read_text() == "not a folder"


def test_damaged_results_do_not_block_loading_the_run(tmp_path):
    run = _make(tmp_path)
    (run.path / "results.npz").write_bytes(b"garbage")
    record = load_run(run.path)
    assert record.results is None and "results.npz is damaged" in record.results_error
    assert "allow_pickle" not in record.results_error  # numpy's advice to load unsafely is not passed on
    assert record.spec == preset("tiny")


@pytest.mark.parametrize("content, words", [(b"", "it is empty (0 bytes)"),
                                            (os.urandom(4096), "not a vgg-studio checkpoint")])
def test_a_damaged_checkpoint_says_what_to_do_without_torch_advice(tmp_path, content, words):
    run = _make(tmp_path)
    (run.path / "checkpoint.pt").write_bytes(content)
    with pytest.raises(RunError) as caught:
        run.load_checkpoint()
    message = str(caught.value)
    assert words in message and "start a new run with its architecture" in message
    assert "weights_only" not in message and "issue" not in message
