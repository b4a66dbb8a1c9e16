"""Measuring and sweeping from the window's panels, clicked as a user would, with the real engine."""

from __future__ import annotations

import functools
import threading

import pytest
from PySide6.QtCore import Qt

from sample_subset import sample_subset
from vgg_studio import data, engine, measure
from vgg_studio.efficiency import collect
from vgg_studio.events import BatchProgress, Finished
from vgg_studio.gui.efficiency_chart import EfficiencyChart
from vgg_studio.gui.measure_view import MeasureView
from vgg_studio.gui.sweep_panel import SweepPanel
from vgg_studio.runs import list_runs
from vgg_studio.spec import preset
from vgg_studio.train_config import TrainConfig

SMALL = preset("tiny").replace(input_size=16)
CONFIG = TrainConfig(dataset="sample", device="cpu", epochs=1, batch_size=50, points_per_epoch=4)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("VGG_STUDIO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("VGG_STUDIO_MEASUREMENTS", str(tmp_path / "measurements.json"))
    monkeypatch.setattr(engine, "load_dataset", lambda name, data_dir=None, device="cpu", download=True:
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


def test_stop_during_the_second_variant(qtbot, tmp_path):
    """First variant complete, second stopped, third never started; the chart shows what finished."""
    gate = threading.Event()  # holds variant 2 at its first progress report until Stop has been clicked

    def train(spec, config, on_event=None, **kw):
        def forward(event):
            on_event(event)
            if isinstance(event, BatchProgress) and spec.ratio == 2:
                gate.wait(60)
        return engine.train(spec, config, on_event=forward, **kw)

    panel = SweepPanel(lambda: SMALL, lambda: CONFIG, train_fn=train)
    qtbot.addWidget(panel)
    panel.knob.setCurrentIndex(panel.knob.findData("ratio"))
    qtbot.keyClicks(panel.values, "1,2,4")
    seen = []
    panel.engineEvent.connect(seen.append)
    _click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: panel.status.text().startswith("variant 2/3: ratio=2")
                    and isinstance(seen[-1], BatchProgress), timeout=120_000)
    _click(qtbot, panel.stop_button)
    gate.set()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=60_000)

    done = panel.done
    assert done.stopped and done.not_started == 1 and panel.start_button.isEnabled()
    assert panel.status.text() == "Sweep stopped: 1 of 3 finished, 1 not started."
    first, second = (v.result for v in done.results)
    assert isinstance(first, Finished) and not first.cancelled and first.epochs_done == 1
    assert isinstance(second, Finished) and second.cancelled
    statuses = {i.sweep.label: i.status for i in list_runs(tmp_path / "runs")}
    assert statuses == {"ratio=1": "finished", "ratio=2": "cancelled"}

    chart = EfficiencyChart()
    qtbot.addWidget(chart)
    chart.set_points(collect(tmp_path / "runs"))
    assert [p.label for p in chart.drawn] == ["ratio=1"] and [p.label for p in chart.front] == ["ratio=1"]
    assert chart.front_list.count() == 1
