"""Training from the real main window with the real engine on the bundled sample, as a user would."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressBar, QPushButton, QTableView

from training_helpers import FAST_TINY, points
from vgg_studio import spec as spec_mod
from vgg_studio.events import Failed, Finished, RunStarted
from vgg_studio.spec import Block

pytestmark = pytest.mark.slow


def _prepare(window, epochs: int, lr: float = 0.05):
    """The tiny preset at a quarter of its widths, on the bundled sample, through the window's own controls."""
    window.open_preset("tiny")
    window.document.set_field("ratio", FAST_TINY.ratio)
    assert window.document.spec == FAST_TINY
    ctl = window.training
    ctl.panel.dataset.setCurrentIndex(ctl.panel.dataset.findData("sample"))
    ctl.panel.epochs.setValue(epochs)
    ctl.panel.lr.setValue(lr)
    ctl.panel.device.setCurrentIndex(ctl.panel.device.findData("cpu"))
    return ctl


def _click(qtbot, window, name: str) -> None:
    button = window.findChild(QPushButton, name)
    assert button is not None and button.isEnabled(), name
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_train_stop_train_again_then_inspect(qtbot, main_window):
    window = main_window
    ctl = _prepare(window, epochs=1)
    train = window.findChild(QPushButton, "trainButton")
    stop = window.findChild(QPushButton, "stopButton")
    assert window.findChild(QProgressBar, "progressBar") is ctl.panel.progress

    # First run: curves receive points, then Stop gives the UI back within a second.
    _click(qtbot, window, "trainButton")
    assert not train.isEnabled() and stop.isEnabled()
    qtbot.waitUntil(lambda: points(ctl.plots.loss_curve) >= 2, timeout=30_000)
    qtbot.waitUntil(lambda: points(ctl.plots.loss_curve) >= 3, timeout=30_000)
    assert points(ctl.plots.train_acc_curve) >= 3
    _click(qtbot, window, "stopButton")
    qtbot.waitUntil(train.isEnabled, timeout=1000)
    assert not stop.isEnabled()
    stopped = ctl.last_result
    assert isinstance(stopped, Finished) and stopped.cancelled

    # Second run to the end, two epochs at a constant learning rate.
    started: list[RunStarted] = []
    ctl.panel.epochs.setValue(2)
    _click(qtbot, window, "trainButton")
    ctl.job.started.connect(started.append)
    qtbot.waitUntil(lambda: ctl.job is None, timeout=120_000)
    result = ctl.last_result
    assert isinstance(result, Finished) and not result.cancelled and result.epochs_done == 2
    assert points(ctl.plots.loss_curve) == 2 * 20  # twenty points per epoch (79 batches each)
    assert points(ctl.plots.test_acc_curve) == 2
    assert "examples/sec on cpu" in ctl.panel.summary.text()
    # The hardware's share beside the speed: a percentage of this CPU's measured peak, also in the run.
    share = re.fullmatch(r"[\d,]+ ex/s ≈ ([\d.]+)% of this CPU's (bf16|fp32) peak", ctl.panel.hardware_share.text())
    assert share and 0 < float(share.group(1)) <= 100, ctl.panel.hardware_share.text()
    assert ctl.panel.progress.format() == "Done: 2 epochs"

    # No step in the loss curve at the epoch boundary: each point is the mean since the previous one. The
    # running mean since each epoch began (what was plotted before) drops there; computed here from the
    # same points, it shows the step the plotted curve does not have.
    x, y = ctl.plots.loss_curve.getData()
    boundary = int(np.searchsorted(x, 1.0))  # the last point of epoch 1
    assert x[boundary] == pytest.approx(1.0)
    steps = np.abs(np.diff(y))
    assert steps[boundary] <= np.delete(steps, boundary).max()
    running = np.concatenate([np.cumsum(y[:20]) / np.arange(1, 21), np.cumsum(y[20:]) / np.arange(1, 21)])
    assert abs(running[20] - running[19]) > steps[boundary]

    run_dir = Path(result.run_dir)
    epochs_csv = (run_dir / "epochs.csv").read_text().splitlines()
    assert epochs_csv[0].endswith(",hardware_share") and 0 < float(epochs_csv[1].split(",")[-1]) <= 1
    for name in ("arch.json", "config.json", "run.json", "steps.csv", "epochs.csv", "results.npz"):
        assert (run_dir / name).is_file(), name
    assert len((run_dir / "epochs.csv").read_text().splitlines()) == 1 + 2

    run_list = window.findChild(QTableView, "runList")
    shown = [ctl.history.model.info(r).path for r in range(run_list.model().rowCount())]
    assert run_dir in shown and Path(stopped.run_dir) in shown

    confusion = ctl.results.confusion_model.counts
    assert confusion.shape == (10, 10) and int(confusion.sum()) == started[0].num_test
    assert ctl.results.examples.count() > 0

    # Comparing: select both runs, the stopped one is overlaid on the finished one's curves.
    ctl.history.select([run_dir, Path(stopped.run_dir)])
    overlaid = [name for name in ctl.plots.drawn_curves() if not name.startswith(f"{FAST_TINY.name}:")]
    assert len(overlaid) == 2  # the stopped run: train loss and train acc, no test point
    assert ctl.history.open_button.isEnabled() is False  # two selected

    # Delete the stopped run (asked first; "no" keeps it).
    ctl.history.select([Path(stopped.run_dir)])
    asked = []
    ctl.history.confirm = lambda text: asked.append(text) or False
    _click(qtbot, window, "deleteRunButton")
    assert Path(stopped.run_dir).is_dir() and asked
    ctl.history.confirm = lambda text: True
    _click(qtbot, window, "deleteRunButton")
    assert not Path(stopped.run_dir).exists()
    assert [i.path for i in ctl.history.infos()] == [run_dir]

    # Open the finished run's architecture in the editor.
    window.document.undo_stack.setClean()  # no unsaved-changes question
    window.document.set_field("ratio", 8)
    window.document.undo_stack.setClean()
    ctl.history.select([run_dir])
    _click(qtbot, window, "openRunArchButton")
    assert window.document.spec == spec_mod.load(run_dir / "arch.json") == FAST_TINY


def test_close_mid_run_ends_the_thread(qtbot, main_window, qtlog):
    window = main_window
    ctl = _prepare(window, epochs=5)
    _click(qtbot, window, "trainButton")
    qtbot.waitUntil(lambda: points(ctl.plots.loss_curve) >= 1, timeout=30_000)
    thread = ctl.job.thread
    assert thread.isRunning()
    window.document.undo_stack.setClean()  # no unsaved-changes question
    assert window.close()
    assert not thread.isRunning() and thread.isFinished()
    assert ctl.job is None and isinstance(ctl.last_result, Finished) and ctl.last_result.cancelled
    assert not [r for r in qtlog.records if "Destroyed while thread" in r.message]


def test_divergence_is_reported_and_app_stays_usable(qtbot, main_window):
    window = main_window
    ctl = _prepare(window, epochs=1, lr=100)
    _click(qtbot, window, "trainButton")
    qtbot.waitUntil(lambda: ctl.job is None, timeout=30_000)
    assert isinstance(ctl.last_result, Failed) and ctl.last_result.kind == "diverged"
    assert "diverged" in ctl.panel.status.text() and "smaller learning rate" in ctl.panel.status.text()
    assert "diverged" in window.statusBar().currentMessage()
    assert window.findChild(QPushButton, "trainButton").isEnabled() and ctl.panel.lr.isEnabled()
    window.document.set_field("ratio", 8)  # the editor still works
    assert window.document.spec.ratio == 8


def test_edits_during_training_do_not_reach_the_job(qtbot, main_window):
    window = main_window
    ctl = _prepare(window, epochs=3)
    at_start = window.document.spec
    _click(qtbot, window, "trainButton")
    # Edit at once, before the worker has even written the run folder.
    window.document.set_block(0, Block(2, 48))
    window.document.set_field("input_size", 32)
    window.document.set_field("name", "edited")
    qtbot.waitUntil(lambda: points(ctl.plots.loss_curve) >= 1, timeout=30_000)
    run_dir = Path(ctl.job.run_dir)
    _click(qtbot, window, "stopButton")
    qtbot.waitUntil(lambda: ctl.job is None, timeout=5000)
    saved = spec_mod.load(run_dir / "arch.json")
    assert saved == at_start and window.document.spec != at_start
    config = json.loads((run_dir / "config.json").read_text())
    assert config["epochs"] == 3 and config["dataset"] == "sample"
    assert np.isfinite(ctl.plots.loss_curve.getData()[1]).all()


def test_two_processes_from_the_window_train_live_and_stop(qtbot, main_window):
    """Processes = 2 on the CPU: torchrun's two Gloo processes train one run; rank 0's events draw the curves."""
    window = main_window
    ctl = _prepare(window, epochs=3)
    ctl.panel.processes.setValue(2)
    _click(qtbot, window, "trainButton")
    qtbot.waitUntil(lambda: points(ctl.plots.loss_curve) >= 2, timeout=240_000)
    assert "Epoch 1/3" in ctl.panel.progress.format()
    _click(qtbot, window, "stopButton")
    qtbot.waitUntil(lambda: ctl.job is None, timeout=60_000)
    result = ctl.last_result
    assert isinstance(result, Finished) and result.cancelled, result
    meta = json.loads((Path(result.run_dir) / "run.json").read_text())
    assert meta["world_size"] == 2 and meta["backend"] == "gloo" and meta["status"] == "cancelled"
    assert [p.name for p in Path(result.run_dir).parent.iterdir()] == [Path(result.run_dir).name]  # one folder
