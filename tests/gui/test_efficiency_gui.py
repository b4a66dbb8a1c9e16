"""Measuring and sweeping from the window's panels, clicked as a user would, with the real engine."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPushButton

from sample_subset import sample_subset
from training_helpers import points
from vgg_studio import training_data
from vgg_studio import data, engine, measure
from vgg_studio.events import BatchProgress
from vgg_studio.gui.efficiency.chart import EfficiencyChart
from vgg_studio.gui.efficiency.measure_view import MeasureView
from vgg_studio.gui.efficiency.sweep_panel import SweepPanel
from vgg_studio.runs import list_runs
from vgg_studio.spec import preset
from vgg_studio.train_config import TrainConfig

SMALL = preset("tiny").replace(input_size=16)
CONFIG = TrainConfig(dataset="sample", device="cpu", epochs=1, batch_size=50, points_per_epoch=4)


@pytest.fixture(autouse=True)
def small_sample(isolated, monkeypatch, tmp_path):
    """Runs, data and measurements under tmp_path; the engine trains on 400 + 100 real sample images."""
    monkeypatch.setenv("VGG_STUDIO_MEASUREMENTS", str(tmp_path / "measurements.json"))
    monkeypatch.setattr(training_data, "load_dataset", lambda name, data_dir=None, device="cpu", download=True:
                        sample_subset(400, 100, seed=3).to(device) if name == "sample"
                        else data.load_dataset(name, data_dir, device))


def _click(qtbot, button):
    assert button.isEnabled(), button.objectName()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_measure_in_the_background_and_stop(qtbot):
    view = MeasureView(lambda: SMALL, lambda: CONFIG.replace(batch_size=8),
                       measure_fn=functools.partial(measure.measure, budget_s=0.2))
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.measured, timeout=120_000) as got:
        _click(qtbot, view.button)
        assert not view.button.isEnabled() and view.stop_button.isEnabled()
    m = got.args[0]
    qtbot.waitUntil(view.button.isEnabled, timeout=5000)
    assert "measured vs" in view.text.text() and m.arch_name in view.text.text()
    assert sum(view.time_bars.opts["height"]) == pytest.approx(100) and len(view.flop_bars.opts["height"]) == 3
    assert measure.load_measurements() == [m]

    _click(qtbot, view.button)
    _click(qtbot, view.stop_button)  # before the worker's first check: it stops at once
    qtbot.waitUntil(view.button.isEnabled, timeout=60_000)
    assert view.progress.format() == "stopped" and measure.load_measurements() == [m]


def test_values_are_checked_as_typed(qtbot):
    panel = SweepPanel(lambda: SMALL, lambda: CONFIG)
    qtbot.addWidget(panel)
    panel.knob.setCurrentIndex(panel.knob.findData("ratio"))
    assert not panel.start_button.isEnabled()
    qtbot.keyClicks(panel.values, "1,zero")
    assert panel.status.text() == "--vary ratio=zero: not a whole number." and not panel.start_button.isEnabled()
    panel.values.clear()
    qtbot.keyClicks(panel.values, "1, 64")
    assert "ratio=64 is not a valid variant" in panel.status.text() and not panel.start_button.isEnabled()
    panel.values.clear()
    qtbot.keyClicks(panel.values, "1,2,4")
    assert panel.status.text() == "3 variants: ratio=1, ratio=2, ratio=4" and panel.start_button.isEnabled()
    assert panel.knob.findData("block2.channels") >= 0  # one pair of per-block knobs per block


def test_window_sweep_stopped_during_the_second_variant(qtbot, main_window, monkeypatch, tmp_path):
    """In the window: a sweep of 3 variants stopped during the second. The first is complete, the second is
    marked stopped, the third never started; the efficiency chart shows the finished run and its front."""
    gate = threading.Event()  # holds variant 2 at its first progress report until Stop has been clicked
    reached = threading.Event()  # variant 2 has reported its first point (so its run is kept when stopped)
    real_train = engine.train

    def train(spec, config, on_event=None, **kw):
        def forward(event):
            on_event(event)
            if isinstance(event, BatchProgress) and spec.ratio == 2:
                reached.set()
                gate.wait(120)
        return real_train(spec, config, on_event=forward, **kw)

    monkeypatch.setattr(engine, "train", train)  # run_sweep calls engine.train
    window = main_window
    window.open_preset("tiny")
    window.document.set_field("input_size", 16)
    ctl, eff = window.training, window.efficiency
    ctl.panel.dataset.setCurrentIndex(ctl.panel.dataset.findData("sample"))
    ctl.panel.epochs.setValue(1)
    ctl.panel.batch_size.setValue(50)
    ctl.panel.device.setCurrentIndex(ctl.panel.device.findData("cpu"))
    eff.sweep_dock.raise_()
    knob = window.findChild(QComboBox, "sweepKnob")
    knob.setCurrentIndex(knob.findData("ratio"))
    qtbot.keyClicks(window.findChild(QLineEdit, "sweepValues"), "1,2,4")
    status = window.findChild(QLabel, "sweepProgress")
    assert status.text() == "3 variants: ratio=1, ratio=2, ratio=4"

    _click(qtbot, window.findChild(QPushButton, "startSweepButton"))
    assert not window.findChild(QPushButton, "trainButton").isEnabled()  # one thing at a time
    # Variant 1's curve may still be drawn when variant 2 starts: wait for variant 2's own first point.
    qtbot.waitUntil(lambda: status.text().startswith("variant 2/3: ratio=2") and reached.is_set(), timeout=120_000)
    qtbot.waitUntil(lambda: points(ctl.plots.loss_curve) >= 1, timeout=10_000)
    _click(qtbot, window.findChild(QPushButton, "stopSweepButton"))
    gate.set()
    qtbot.waitUntil(lambda: not eff.sweep.is_running(), timeout=60_000)

    assert status.text() == "Sweep stopped: 1 of 3 finished, 1 not started."
    assert window.findChild(QPushButton, "trainButton").isEnabled()
    sweep_dir = Path(eff.sweep.done.sweep_dir)
    assert sweep_dir.parent == tmp_path / "runs"
    assert sorted(p.name for p in sweep_dir.iterdir()) == ["01-ratio=1", "02-ratio=2", "sweep.json"]
    statuses = {i.sweep.label: (i.status, i.epochs_done) for i in list_runs(tmp_path / "runs")}
    assert statuses == {"ratio=1": ("finished", 1), "ratio=2": ("cancelled", 0)}
    labels = {ctl.history.model.info(r).sweep.label for r in range(ctl.history.model.rowCount())}
    assert labels == {"ratio=1", "ratio=2"}  # the Runs list shows both

    chart = window.findChild(EfficiencyChart, "efficiencyChart")
    qtbot.waitUntil(lambda: chart.scope.currentData() == f"sweep:{sweep_dir.name}", timeout=30_000)  # this sweep
    qtbot.waitUntil(lambda: [p.label for p in chart.drawn] == ["ratio=1"], timeout=30_000)
    assert [p.label for p in chart.front] == ["ratio=1"] and chart.front_list.count() == 1
    assert len(chart.scatter.points()) == 1 and len(chart.front_line.xData) == 1

    eff.chart_dock.raise_()  # click the bubble: the run is selected in the Runs list
    qtbot.waitUntil(lambda: chart.plot.isVisible() and chart.plot.width() > 100, timeout=5000)
    spot = chart.scatter.points()[0]
    pos = chart.plot.mapFromScene(chart.scatter.mapToScene(spot.pos()))
    qtbot.mouseClick(chart.plot.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: ctl.history.selected_paths() == [sweep_dir / "01-ratio=1"], timeout=5000)
