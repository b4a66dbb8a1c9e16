"""The chapter's design questions in the window: kernel column, BatchNorm and head in the form, RF column."""

from __future__ import annotations

import dataclasses
import json

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QTableView

from test_gui_arch_editor import type_into_cell
from vgg_studio.gui.editor.arch_table_model import COL_CHANNELS, COL_CONVS, COL_KERNEL, ArchTableModel
from vgg_studio.gui.editor.summary_view import COL_RF
from vgg_studio.spec import Block, preset
from vgg_studio.summary import summarize
from vgg_studio.units import thousands


def _table(window) -> QTableView:
    return window.findChild(QTableView, "archTable")


def _tick(qtbot, check: QCheckBox) -> None:
    """Click the box itself (a click right of the text does not toggle a check box)."""
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(8, check.height() // 2))


def test_kernel_column_edits_the_block_and_keeps_it_through_other_cells(qtbot, window):
    table, model = _table(window), _table(window).model()
    assert model.headerData(COL_KERNEL, Qt.Orientation.Horizontal) == "Kernel"
    assert model.index(2, COL_KERNEL).data() == "3×3"
    type_into_cell(qtbot, table, 2, COL_KERNEL, "5")
    assert window.document.spec.blocks[2] == Block(2, 256, 5)
    assert model.index(2, COL_KERNEL).data() == "5×5"
    expected = summarize(preset("vgg11").with_block(2, Block(2, 256, 5)))
    assert window.summary_view.total_params_text() == thousands(expected.total_params)
    type_into_cell(qtbot, table, 2, COL_CONVS, "3")  # another cell of the row keeps the kernel
    type_into_cell(qtbot, table, 2, COL_CHANNELS, "192")
    assert window.document.spec.blocks[2] == Block(3, 192, 5)
    assert window.document.undo_stack.undoText().startswith("Set block 3 output channels")
    window.action_undo.trigger()
    window.action_undo.trigger()
    window.action_undo.trigger()
    assert window.document.spec == preset("vgg11")


def test_an_even_kernel_is_flagged_in_its_cell_and_blocks_training(qtbot, window):
    table, model = _table(window), _table(window).model()
    type_into_cell(qtbot, table, 0, COL_KERNEL, "4")
    assert model.index(0, COL_KERNEL).data(ArchTableModel.CellProblemRole) == "error"
    assert "must be odd" in model.index(0, COL_KERNEL).data(Qt.ItemDataRole.ToolTipRole)
    assert not window.document.is_valid()
    assert window.findChild(QLabel, "invalidBanner").isVisible()
    window.action_undo.trigger()
    assert window.document.is_valid() and model.index(0, COL_KERNEL).data(ArchTableModel.CellProblemRole) is None


def test_batch_norm_and_head_in_the_form(qtbot, window):
    check = window.findChild(QCheckBox, "batchNormCheck")
    head = window.findChild(QComboBox, "headCombo")
    hidden = window.findChild(QLineEdit, "hiddenEdit")
    assert not check.isChecked() and head.currentData() == "fc"

    _tick(qtbot, check)
    assert window.document.spec.batch_norm
    assert window.summary_view.total_params_text() == thousands(summarize(preset("vgg11-bn")).total_params)
    assert window.document.undo_stack.undoText() == "Set BatchNorm to on"

    head.setCurrentIndex(head.findData("gap"))  # as choosing it from the list does
    assert window.document.spec.head == "gap" and not hidden.isEnabled()
    headline = window.findChild(QLabel, "summaryHeadline").text()
    assert "The classifier holds only <b>&lt;0.1%</b> of the parameters, block 5 the most" in headline
    assert "first fully connected layer" not in headline

    window.action_undo.trigger()
    assert head.currentData() == "fc" and hidden.isEnabled()
    window.action_undo.trigger()
    assert not check.isChecked() and window.document.spec == preset("vgg11")


def test_receptive_field_column_and_headline(qtbot, window):
    view = window.summary_view
    model = view.model
    assert model.horizontalHeaderItem(COL_RF).text() == "RF"
    groups = {model.item(r, 0).text(): r for r in range(model.rowCount())}
    block5 = model.item(groups[next(k for k in groups if k.startswith("Block 5"))], 0)
    assert model.item(block5.row(), COL_RF).text() == "150"
    rows = {block5.child(i, 0).text(): block5.child(i, COL_RF) for i in range(block5.rowCount())}
    assert rows["conv2"].text() == "134" and "32 pixels apart" in rows["pool"].toolTip()
    assert "sees 134×134 of the 224×224 input" in window.findChild(QLabel, "summaryHeadline").text()


def test_a_version_1_file_opens_and_is_rewritten_only_after_an_edit(qtbot, window, tmp_path):
    from pathlib import Path

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "spec_v1" / "tiny.json"
    path = tmp_path / "tiny.json"
    path.write_text(fixture.read_text())
    window.open_file(str(path))
    assert window.document.spec == preset("tiny")
    window.save()
    assert json.loads(path.read_text())["version"] == 1  # nothing edited: the file is left alone
    _tick(qtbot, window.findChild(QCheckBox, "batchNormCheck"))
    window.save()
    assert json.loads(path.read_text())["version"] == 2 and json.loads(path.read_text())["batch_norm"] is True


def _fake_run_folder(path):
    path.mkdir(parents=True)
    (path / "run.json").write_text("{}")
    (path / "final.pt").write_bytes(b"")
    return path


def test_start_from_run_in_the_training_panel(qtbot, stand_in, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QPushButton

    from training_helpers import FakeEngine
    from vgg_studio.events import RunStarted
    from vgg_studio.gui.training.controller import install_training

    fake = FakeEngine()

    def engine_with_warm_start(spec, config, on_event=None, **kwargs):
        def emit(event):
            if isinstance(event, RunStarted) and config.init_from:  # what the real engine reports
                event = dataclasses.replace(event, init_from=config.init_from, reused_layers=("block1.conv1",),
                                            new_layers=("block3.conv1", "fc1"))
            on_event(event)
        return fake(spec, config, on_event=emit, **kwargs)

    ctl = install_training(stand_in, runs_root=tmp_path / "runs", train_fn=engine_with_warm_start)
    source = _fake_run_folder(tmp_path / "runs" / "20260101-000000-tiny")
    asked = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda _parent, _title, start: asked.append(start) or str(source)))
    label = stand_in.findChild(QLabel, "initFromLabel")
    fresh = stand_in.findChild(QPushButton, "freshStartButton")
    assert label.text() == "Fresh start (Xavier init)" and not fresh.isEnabled()

    qtbot.mouseClick(stand_in.findChild(QPushButton, "startFromButton"), Qt.MouseButton.LeftButton)
    assert asked == [str(tmp_path / "runs")]
    assert "20260101-000000-tiny" in label.text() and fresh.isEnabled()
    qtbot.mouseClick(stand_in.findChild(QPushButton, "trainButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctl.job is None, timeout=5000)
    assert fake.calls[-1][1].init_from == str(source)
    assert ctl.panel.status.text().splitlines()[1:] == [f"warm start from {source}:", "  reused (1): block1.conv1",
                                                        "  new (2): block3.conv1, fc1"]
    qtbot.mouseClick(fresh, Qt.MouseButton.LeftButton)
    assert ctl.panel.config().init_from is None and label.text() == "Fresh start (Xavier init)"


def test_start_from_a_folder_without_weights_says_why(qtbot, stand_in, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QPushButton

    from vgg_studio.gui.training.controller import install_training

    ctl = install_training(stand_in, runs_root=tmp_path / "runs")
    empty = tmp_path / "not-a-run"
    empty.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *_a: str(empty)))
    qtbot.mouseClick(stand_in.findChild(QPushButton, "startFromButton"), Qt.MouseButton.LeftButton)
    assert "is not a vgg-studio run" in ctl.panel.status.text()
    assert ctl.panel.config().init_from is None


def test_warm_start_lines_are_shown_when_the_run_starts(qtbot):
    from vgg_studio.events import RunStarted
    from vgg_studio.gui.training.panel import TrainingPanel

    panel = TrainingPanel(devices=[("cpu", "CPU")])
    qtbot.addWidget(panel)
    panel.show_started(RunStarted(run_dir="r", device="cpu", dataset="sample", num_train=10, num_test=2,
                                  batches_per_epoch=1, epochs=1, start_epoch=0, params=5, init_from="/runs/a",
                                  reused_layers=("block1.conv1", "fc2"), new_layers=("fc1",)))
    assert panel.status.text().splitlines()[1:] == ["warm start from /runs/a:", "  reused (2): block1.conv1, fc2",
                                                    "  new (1): fc1"]
