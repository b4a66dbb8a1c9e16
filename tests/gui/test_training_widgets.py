"""The training panels against a fake engine: wiring, state changes, stop, errors, close, exports."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox, QPushButton

from training_helpers import FakeEngine, StandInWindow, points
from vgg_studio.events import EpochEnd, Finished, RunStarted
from vgg_studio.gui.training.live_plots import LivePlots
from vgg_studio.metrics import Curves, write_curves_csv
from vgg_studio.gui.training.results_view import ResultsView, abbreviate
from vgg_studio.gui.training.controller import install_training
from vgg_studio.gui.training.panel import TrainingPanel
from vgg_studio.units import format_duration
from vgg_studio.runs import RunResults
from vgg_studio.spec import Block


def _install(window: StandInWindow, engine: FakeEngine):
    return install_training(window, train_fn=engine)


def test_start_streams_points_and_finishes(qtbot, stand_in):
    engine = FakeEngine(epochs_delay=0.005)
    ctl = _install(stand_in, engine)
    train = stand_in.findChild(QPushButton, "trainButton")
    stop = stand_in.findChild(QPushButton, "stopButton")
    ctl.panel.epochs.setValue(2)
    assert train.isEnabled() and not stop.isEnabled()

    qtbot.mouseClick(train, Qt.MouseButton.LeftButton)
    assert not train.isEnabled() and stop.isEnabled()
    with qtbot.waitSignal(ctl.panel.progress.valueChanged, timeout=5000):
        pass
    qtbot.waitUntil(lambda: ctl.job is None, timeout=5000)
    assert train.isEnabled() and not stop.isEnabled()
    assert isinstance(ctl.last_result, Finished) and not ctl.last_result.cancelled
    qtbot.waitUntil(lambda: points(ctl.plots.loss_curve) == 10, timeout=2000)
    assert points(ctl.plots.test_acc_curve) == 2
    assert "loss" in ctl.panel.summary.text() and "examples/sec on cpu" in ctl.panel.summary.text()
    assert engine.threads[0] != threading.main_thread().name
    assert ctl.panel.progress.value() == ctl.panel.progress.maximum()


def test_stop_reenables_within_a_second(qtbot, stand_in):
    engine = FakeEngine(epochs_delay=0.05)
    ctl = _install(stand_in, engine)
    ctl.panel.epochs.setValue(50)
    qtbot.mouseClick(ctl.panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctl.plots._loss.n > 0, timeout=5000)
    qtbot.mouseClick(ctl.panel.stop_button, Qt.MouseButton.LeftButton)
    assert not ctl.panel.stop_button.isEnabled()
    qtbot.waitUntil(lambda: ctl.panel.train_button.isEnabled(), timeout=1000)
    assert ctl.last_result.cancelled
    assert "Stopped" in ctl.panel.progress.format()


def test_failure_is_shown_and_app_stays_usable(qtbot, stand_in):
    ctl = _install(stand_in, FakeEngine())
    ctl.panel.lr.setValue(100)
    qtbot.mouseClick(ctl.panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctl.job is None, timeout=3000)
    assert "diverged" in ctl.panel.status.text()
    assert ctl.panel.train_button.isEnabled() and ctl.panel.lr.isEnabled()


def test_invalid_architecture_disables_start(qtbot, stand_in):
    ctl = _install(stand_in, FakeEngine())
    stand_in.document.set_field("input_size", 2)  # two blocks cannot pool a 2x2 input twice
    assert not ctl.panel.train_button.isEnabled()
    stand_in.document.undo_stack.undo()
    assert ctl.panel.train_button.isEnabled()


def test_snapshot_ignores_edits_and_resize_override(qtbot, stand_in):
    engine = FakeEngine(epochs_delay=0.02)
    ctl = _install(stand_in, engine)
    at_start = stand_in.document.spec
    ctl.panel.resize_box.setValue(32)
    assert "28 px" in ctl.panel.resize_box.specialValueText()
    qtbot.mouseClick(ctl.panel.train_button, Qt.MouseButton.LeftButton)
    stand_in.document.set_block(0, Block(3, 48))
    qtbot.waitUntil(lambda: ctl.job is None, timeout=10000)
    trained = engine.calls[0][0]
    assert trained == at_start.replace(input_size=32)


def test_close_mid_run_stops_the_thread(qtbot, isolated):
    window = StandInWindow(__import__("vgg_studio.spec", fromlist=["preset"]).preset("tiny"))
    qtbot.addWidget(window)
    ctl = _install(window, FakeEngine(epochs_delay=0.05))
    ctl.panel.epochs.setValue(100)
    qtbot.mouseClick(ctl.panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctl.plots._loss.n > 0, timeout=5000)
    thread = ctl.job.thread
    assert thread.isRunning()
    assert window.close()
    assert ctl.job is None and thread.isFinished() and not thread.isRunning()
    assert isinstance(ctl.last_result, Finished) and ctl.last_result.cancelled


def test_panel_config_roundtrip_and_availability(qtbot):
    panel = TrainingPanel(devices=[("auto", "Auto (cpu)"), ("cpu", "CPU")])
    qtbot.addWidget(panel)
    config = panel.config().replace(epochs=3, batch_size=64, lr=0.1, optimizer="adam", schedule="cosine",
                                    dataset="sample", seed=7)
    panel.set_config(config)
    assert panel.config() == config
    assert not panel.momentum.isEnabled()  # momentum is SGD's

    class Avail:
        def __init__(self, available, detail):
            self.available, self.detail = available, detail

    panel.set_availability({"sample": Avail(True, "/res/sample.npz"), "mnist": Avail(False, "Put MNIST in /d")})
    panel.dataset.setCurrentIndex(panel.dataset.findData("mnist"))
    assert "Put MNIST in /d" in panel.dataset_hint.text()
    assert "not on disk" in panel.dataset.currentText()
    assert format_duration(75) == "1:15" and format_duration(3725) == "1:02:05"
    assert format_duration(float("nan")) == "?"


def test_plots_export_and_overlays(qtbot, tmp_path: Path):
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.resize(900, 350)
    plots.show()
    plots.start_run(RunStarted("r", "cpu", "sample", 80, 20, 10, 2, 0, 100), label="now")
    from vgg_studio.events import BatchProgress

    for i in range(1, 11):
        x = i / 5
        plots.add_step(BatchProgress(1 + (i - 1) // 5, (i - 1) % 5 + 1, 5, x, 1 / x, x / 2, 500.0, 1.0))
    plots.add_epoch(EpochEnd(1, 0.5, 0.5, 0.45, 500.0, 1.0, 1.0, 0.05))
    plots.set_overlays([Curves("old", np.array([0.5, 1.0]), np.array([1.0, 0.8]), np.array([0.3, 0.5]),
                               np.array([1.0]), np.array([0.4]))])
    qtbot.waitUntil(lambda: points(plots.loss_curve) == 10, timeout=2000)
    # Each run its own colour; train solid, test dashed; the legend lists exactly the curves drawn.
    acc_items = plots.accuracy_plot.getPlotItem().listDataItems()
    assert len([i for i in acc_items if i.getData()[0] is not None and len(i.getData()[0])]) == 2 + 2
    colors = {item.opts["pen"].color().name() for item in acc_items}
    assert len(colors) == 2
    legend = [plots.legend.item(i).text() for i in range(plots.legend.count())]
    assert legend == plots.drawn_curves() == ["now: train loss", "now: train acc", "now: test acc",
                                              "old: train loss", "old: train acc", "old: test acc"]
    legend_box = plots.legend.geometry()
    for plot in (plots.loss_plot, plots.accuracy_plot):  # beside the plots, never over their data
        assert not plot.geometry().intersects(legend_box)
        assert plot.height() >= 150
    plots.set_overlays([])
    assert plots.drawn_curves() == ["now: train loss", "now: train acc", "now: test acc"]
    assert "examples/sec" in plots.speed_label.text()

    # Hovering over epoch 1 reads every run's values there.
    plots.set_overlays([Curves("old", np.array([0.5, 1.0]), np.array([1.0, 0.8]), np.array([0.3, 0.5]),
                               np.array([1.0]), np.array([0.4]))])
    vb = plots.loss_plot.getPlotItem().getViewBox()
    plots._hover(plots.loss_plot, vb.mapViewToScene(QPointF(1.02, 0.6)))
    text = plots.hover_text()
    assert text.startswith("epoch 1.00")
    assert "now: train loss 1.000" in text and "now: test acc 0.450" in text
    assert "old: train loss 0.800" in text and "old: test acc 0.400" in text

    # Smoothing changes what is drawn of the training curves, not the data or the test points.
    plots.smoothing_slider.setValue(60)
    assert plots.loss_curve.getData()[1][-1] != pytest.approx(0.5) and plots._loss.y[-1] == pytest.approx(0.5)
    assert list(plots.test_acc_curve.getData()[1]) == [0.45]
    plots.smoothing_slider.setValue(0)

    ticks = plots.loss_plot.getPlotItem().getAxis("bottom")._tickLevels[0]
    assert [label for _, label in ticks] == ["0", "1", "2"]  # up to the last epoch
    assert plots.loss_plot.getPlotItem().viewRange()[0][1] > 2.0  # the last point is not on the edge

    plots.export_png(tmp_path / "curves.png", width=800)
    image = QImage(str(tmp_path / "curves.png"))
    assert image.width() == 800 and image.height() > 200
    plots.export_csv(tmp_path / "curves.csv")
    lines = (tmp_path / "curves.csv").read_text().splitlines()
    assert lines[0] == "epoch,train_loss,train_acc,test_acc" and len(lines) == 11
    assert lines[5].endswith(",0.45")  # epoch 1 has its test accuracy
    write_curves_csv(tmp_path / "empty.csv", Curves("none"))
    assert (tmp_path / "empty.csv").read_text().strip() == "epoch,train_loss,train_acc,test_acc"


def test_results_view_confusion_and_tiles(qtbot):
    view = ResultsView()
    qtbot.addWidget(view)
    confusion = np.array([[5, 1], [2, 7]])
    images = np.random.default_rng(0).integers(0, 255, size=(3, 1, 28, 28), dtype=np.uint8)
    results = RunResults(("cat", "dog"), confusion, images, np.array([1, 0, 1]), np.array([0, 1, 1]))
    view.show_results(results, "run")
    model = view.confusion_model
    assert sum(model.data(model.index(r, c)) for r in range(2) for c in range(2)) == 15
    # Class names on both axes (columns abbreviated), right and wrong apart without red/green (issue 12 item 8).
    assert model.headerData(1, Qt.Orientation.Horizontal) == "dog"
    assert model.headerData(1, Qt.Orientation.Vertical) == "dog"
    assert abbreviate("T-shirt/top") == "T-sh…" and abbreviate("Bag") == "Bag"
    right = model.data(model.index(1, 1), Qt.ItemDataRole.BackgroundRole)
    wrong = model.data(model.index(1, 0), Qt.ItemDataRole.BackgroundRole)
    assert right.blue() > right.red() and wrong.red() > wrong.blue()  # blue diagonal, orange confusions
    assert model.data(model.index(1, 1), Qt.ItemDataRole.FontRole).bold()
    assert model.data(model.index(1, 0), Qt.ItemDataRole.FontRole) is None
    assert view.examples.count() == 3
    assert "true: cat" in view.examples.item(0).text()
    assert "12 of 15" in view.caption.text()
    rgb = RunResults(("a",), np.array([[1]]), np.zeros((1, 3, 32, 32), np.uint8), np.array([0]), np.array([0]))
    view.show_results(rgb)
    assert view.examples.count() == 1
    view.show_results(None, "x")
    assert view.examples.count() == 0 and "no results" in view.caption.text()
    view.show_pair(results, "A: one", None, "B: two")
    assert not view.pane_b.isHidden() and view.tabs.isHidden() and view.examples.count() == 0
    assert view.pane.caption.text().startswith("A: one: 12 of 15") and "no results" in view.pane_b.caption.text()
    view.show_results(results, "one")
    assert view.pane_b.isHidden() and not view.tabs.isHidden() and view.examples.count() == 3


def test_settings_are_remembered(qtbot, isolated):
    settings = QSettings(str(isolated / "training.ini"), QSettings.Format.IniFormat)
    panel = TrainingPanel(devices=[("auto", "Auto (cpu)"), ("cpu", "CPU")])
    qtbot.addWidget(panel)
    panel.set_config(panel.config().replace(epochs=4, lr=0.01, optimizer="adamw", dataset="mnist"))
    panel.resize_box.setValue(32)
    panel.save_settings(settings)
    again = TrainingPanel(devices=[("auto", "Auto (cpu)"), ("cpu", "CPU")])
    qtbot.addWidget(again)
    again.restore_settings(settings)
    assert again.config() == panel.config() and again.resize_override() == 32


def test_cancelling_the_close_question_keeps_training(qtbot, main_window, dialogs):
    ctl = main_window.training
    ctl.train_fn = FakeEngine(epochs_delay=0.05)
    ctl.panel.epochs.setValue(100)
    main_window.document.set_block(0, Block(2, 64))  # unsaved: closing asks first
    qtbot.mouseClick(ctl.panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctl.plots._loss.n > 0, timeout=5000)
    dialogs.answer = QMessageBox.StandardButton.Cancel
    assert not main_window.close()
    assert ctl.job is not None and not ctl.job.cancel.is_set() and ctl.job.thread.isRunning()
    dialogs.answer = QMessageBox.StandardButton.Discard
    assert main_window.close()
    assert ctl.job is None and ctl.last_result.cancelled


def test_a_run_stopped_before_its_first_epoch_is_offered_for_discarding(qtbot, stand_in):
    # 100 batches of 0.05 s: a point every 2 batches, and a Stop lands well inside the first epoch even when slow.
    engine = FakeEngine(epochs_delay=0.05, points=50, num_batches=100, write_runs=True)
    ctl = _install(stand_in, engine)
    discard = ctl.panel.discard_button
    qtbot.mouseClick(ctl.panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctl.plots._loss.n > 0, timeout=5000)
    qtbot.mouseClick(ctl.panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctl.job is None, timeout=5000)
    run = Path(ctl.last_result.run_dir)
    assert run.is_dir() and not discard.isHidden() and ctl.history.infos()
    qtbot.mouseClick(discard, Qt.MouseButton.LeftButton)
    assert not run.exists() and discard.isHidden() and ctl.history.infos() == []

    # Stopped before any point: nothing worth keeping, so it goes without asking.
    engine.delay = 0.5
    qtbot.mouseClick(ctl.panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctl.job is not None and ctl.job.run_dir is not None, timeout=5000)
    qtbot.mouseClick(ctl.panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctl.job is None, timeout=5000)
    assert not Path(ctl.last_result.run_dir).exists() and discard.isHidden()
    assert "discarded" in ctl.panel.status.text() and ctl.history.infos() == []


def test_cost_is_estimated_before_start_and_cheaper_choices_are_one_click(qtbot, stand_in, cost_probe):
    ctl = _install(stand_in, FakeEngine(epochs_delay=0.01))
    label = ctl.panel.cost_estimate
    ctl.panel.dataset.setCurrentIndex(ctl.panel.dataset.findData("sample"))
    qtbot.waitUntil(lambda: "per epoch" in label.text(), timeout=5000)
    # 500 images/s (the test's probe): (10,000 + 2,000 / 3) / 500 = 21 s per epoch; 10 epochs: 4 min.
    assert label.text() == "≈ 21 s per epoch, ≈ 4 min for 10 epochs on this CPU."
    assert ctl.panel.ways_out.isHidden() and cost_probe[-1][0] == stand_in.document.spec

    ctl.panel.epochs.setValue(100)  # 36 min: said plainly, with a way out
    qtbot.waitUntil(lambda: "A long run" in label.text(), timeout=5000)
    assert not ctl.panel.ways_out.isHidden()
    fewer = ctl.panel.findChild(QPushButton, "wayOut_epochs")
    assert fewer.text() == "28 epochs" and ctl.panel.findChild(QPushButton, "wayOut_resize") is None
    qtbot.mouseClick(fewer, Qt.MouseButton.LeftButton)
    assert ctl.panel.epochs.value() == 28
    qtbot.waitUntil(lambda: "for 28 epochs" in label.text(), timeout=5000)
    assert ctl.panel.ways_out.isHidden()

    ctl.panel.epochs.setValue(1)
    seen = []
    qtbot.mouseClick(ctl.panel.train_button, Qt.MouseButton.LeftButton)
    ctl.job.progress.connect(lambda _e: seen.append(label.text()))
    qtbot.waitUntil(lambda: ctl.job is None, timeout=5000)
    # Refined from the run's own speed as batches come in: the fake engine's 1,000 images/s over its 80 + 20 images.
    assert seen and seen[0].startswith("Measured: ≈ 1 s per epoch; ≈ 1 s left.")
    assert "took" in label.text() and "estimated before Start: ≈ 21 s" in label.text()


def test_progress_shows_from_the_first_step_before_any_point(qtbot, stand_in):
    from vgg_studio.events import StepProgress

    ctl = _install(stand_in, FakeEngine())
    ctl.panel.set_running(True)
    assert ctl.panel.progress.format() == "Preparing data…"
    ctl.panel.show_started(RunStarted("r", "cpu", "sample", 800, 200, 100, 2, 0, 1000))
    assert ctl.panel.progress.format() == "Epoch 1/2 · batch 0/100 · first batch…"
    ctl.panel.show_progress(StepProgress(1, 1, 100, 42.0, 380.0))
    assert ctl.panel.progress.format() == "Epoch 1/2 · batch 1/100 · 42 ex/s · ETA 6:20"
    assert ctl.panel.progress.value() == 1
