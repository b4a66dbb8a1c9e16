"""Runs know what changed: train tiny, change the ratio, train again; the label and the side-by-side say so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton, QSpinBox, QTableView
from test_gui_arch_editor import type_into_spin

from sample_subset import sample_subset
from vgg_studio import training_data
from vgg_studio import data, runs
from vgg_studio.gui.training.run_compare import DIFF_ROLE
from vgg_studio.runs import RunFolder
from vgg_studio.spec import preset
from vgg_studio.train_config import TrainConfig

pytestmark = pytest.mark.slow


@pytest.fixture
def small_sample(monkeypatch):
    """The engine trains on 300 + 100 real sample images, so a run takes a second or two."""
    monkeypatch.setattr(training_data, "load_dataset", lambda name, data_dir=None, device="cpu", download=True:
                        sample_subset(300, 100, seed=2).to(device) if name == "sample"
                        else data.load_dataset(name, data_dir, device))


def _train(qtbot, window) -> None:
    button = window.findChild(QPushButton, "trainButton")
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.training.job is None, timeout=120_000)


def _click_rows(qtbot, view: QTableView, rows: list[int]) -> None:
    for i, row in enumerate(rows):
        rect = view.visualRect(view.model().index(row, 0))
        modifier = Qt.KeyboardModifier.ControlModifier if i else Qt.KeyboardModifier.NoModifier
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def test_second_run_is_labelled_by_the_ratio_change_and_compared_side_by_side(qtbot, main_window, small_sample):
    window = main_window
    window.open_preset("tiny")
    panel = window.findChild(QComboBox, "datasetCombo")
    panel.setCurrentIndex(panel.findData("sample"))
    window.findChild(QSpinBox, "epochsSpin").setValue(1)
    window.training.panel.batch_size.setValue(100)
    device = window.findChild(QComboBox, "deviceCombo")
    device.setCurrentIndex(device.findData("cpu"))
    _train(qtbot, window)
    first = window.training.last_result.run_dir

    type_into_spin(qtbot, window.findChild(QSpinBox, "ratioSpin"), "2")
    assert window.document.spec.ratio == 2
    _train(qtbot, window)
    second = window.training.last_result.run_dir
    assert json.loads((window.training.runs_root / second / "run.json").read_text())["parent"] == first

    view = window.findChild(QTableView, "runList")
    model = view.model()
    labels = {model.index(r, 0).data(): model.index(r, 0).data(Qt.ItemDataRole.ToolTipRole)
              for r in range(model.rowCount())}
    assert set(labels) == {"tiny", "ratio 1 → 2"}
    assert f"parent run {first.rsplit('/', 1)[-1]}" in labels["ratio 1 → 2"]

    _click_rows(qtbot, view, [0, 1])
    compare = window.training.run_compare
    assert compare.isVisible()
    table = window.findChild(QTableView, "runSettingsTable")
    rows = table.model()
    differing = [rows.index(r, 0).data() for r in range(rows.rowCount()) if rows.index(r, 0).data(DIFF_ROLE)]
    assert differing == ["ratio"]
    ratio = next(r for r in range(rows.rowCount()) if rows.index(r, 0).data() == "ratio")
    assert (rows.index(ratio, 1).data(), rows.index(ratio, 2).data()) == ("1", "2")
    assert rows.index(ratio, 1).data(Qt.ItemDataRole.BackgroundRole) is not None
    assert "1 setting differs" in window.findChild(QLabel, "runSettingsTitle").text()
    # next to the curves: the older run overlaid on the live one, both in view
    assert window.training.plots.isVisible() and len(window.training.plots._overlays) == 1
    # and both runs' results side by side (issue 12 item 8), each its own run's confusion matrix
    results = window.training.results
    assert results.pane_b.isVisibleTo(results) and not results.examples_box.isVisibleTo(results)
    root = window.training.runs_root
    for pane, run in ((results.pane, first), (results.pane_b, second)):
        expected = runs.load_results(root / run).confusion
        assert (pane.model.counts == expected).all()
        assert pane.caption.text().startswith(f"{'A' if run == first else 'B'}: {Path(run).name}: ")

    _click_rows(qtbot, view, [0])
    assert not compare.isVisible()
    assert not results.pane_b.isVisibleTo(results) and results.examples_box.isVisibleTo(results)


def test_parent_is_the_pinned_baselines_run(qtbot, main_window, isolated):
    """With a baseline pinned, a new run's parent is that architecture's latest run on the same data."""
    root = main_window.training.runs_root
    config = TrainConfig(dataset="sample", epochs=1)
    for name, spec in (("1-vgg", preset("tiny")), ("2-other", preset("tiny").replace(ratio=4))):
        run = RunFolder.create(spec, config, path=root / name, dataset="sample", epochs=1)
        run.update(epochs_done=1, status="finished")
    main_window.training.history.refresh()
    main_window.baseline.pin_reference("tiny")
    assert main_window.training.parent_run(config) == root / "1-vgg"
    main_window.baseline.unpin()
    assert main_window.training.parent_run(config) is None
