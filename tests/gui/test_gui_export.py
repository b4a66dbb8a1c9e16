"""File ▸ Export… and the Results tab's own-image prediction, in the real main window, through object names."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QComboBox, QLabel, QLineEdit, QProgressBar, QPushButton, QRadioButton

from vgg_studio.trained import from_run

# The first torch.export or model load in a process imports a lot (dynamo, sympy): seconds on a quiet machine,
# minutes on a shared, loaded one. The wait ends as soon as the work does.
WAIT_MS = 300_000


@pytest.fixture
def window_with_run(qtbot, main_window, isolated, tiny_run):
    """The main window with one finished `tiny` run in its Runs list, selected."""
    run = isolated / "runs" / tiny_run.name
    shutil.copytree(tiny_run, run)
    history = main_window.training.history
    history.refresh()
    history.select([run])
    return main_window, run


def _action(window) -> QAction:
    action = window.findChild(QAction, "action_export")
    assert action is not None
    return action


def _dialog(qtbot, window):
    _action(window).trigger()
    dialog = window.export_dialog
    qtbot.waitExposed(dialog)
    return dialog


def _child(dialog, cls, name):
    widget = dialog.findChild(cls, name)
    assert widget is not None, name
    return widget


def test_export_a_selected_run_as_python(qtbot, window_with_run, tmp_path):
    window, run = window_with_run
    assert _action(window) in window.file_menu.actions()
    dialog = _dialog(qtbot, window)
    assert _child(dialog, QRadioButton, "exportSourceRun").isChecked()  # the run selected in Runs
    assert Path(_child(dialog, QComboBox, "exportRunCombo").currentData()) == run
    path = _child(dialog, QLineEdit, "exportPath")
    assert path.text().endswith(".py")
    path.setText(str(tmp_path / "my_net.py"))
    qtbot.mouseClick(_child(dialog, QPushButton, "exportButton"), Qt.MouseButton.LeftButton)
    status = _child(dialog, QLabel, "exportStatus")
    qtbot.waitUntil(lambda: dialog.task is None, timeout=WAIT_MS)
    assert "Wrote" in status.text() and "my_net.pt" in status.text(), status.text()
    assert (tmp_path / "my_net.py").is_file() and (tmp_path / "my_net.pt").is_file()
    assert "CLASSES = ('T-shirt/top'," in (tmp_path / "my_net.py").read_text()
    qtbot.mouseClick(_child(dialog, QPushButton, "exportCloseButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.export_dialog is None, timeout=5000)


def test_export_the_current_architecture_and_what_cannot_be_exported(qtbot, window_with_run, tmp_path, monkeypatch):
    window, _run = window_with_run
    window.open_preset("tiny")
    dialog = _dialog(qtbot, window)
    arch = _child(dialog, QRadioButton, "exportSourceArch")
    qtbot.mouseClick(arch, Qt.MouseButton.LeftButton)
    assert arch.isChecked() and "tiny" in arch.text()
    fmt = _child(dialog, QComboBox, "exportFormat")
    path = _child(dialog, QLineEdit, "exportPath")
    button = _child(dialog, QPushButton, "exportButton")
    note = _child(dialog, QLabel, "exportNote")

    fmt.setCurrentIndex(fmt.findData("pt2"))
    assert path.text().endswith("tiny.pt2")
    path.setText(str(tmp_path / "missing" / "tiny.pt2"))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.task is None, timeout=WAIT_MS)
    status = _child(dialog, QLabel, "exportStatus").text()
    assert status.startswith("Not exported: The folder") and "does not exist" in status

    path.setText(str(tmp_path / "tiny.pt2"))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.task is None, timeout=WAIT_MS)
    assert (tmp_path / "tiny.pt2").is_file(), _child(dialog, QLabel, "exportStatus").text()

    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if the export extra were not installed
    fmt.setCurrentIndex(fmt.findData("onnx"))
    assert not button.isEnabled()
    assert "onnxscript" in note.text() and 'pip install "vgg-studio[export]"' in note.text()
    fmt.setCurrentIndex(fmt.findData("weights"))
    assert button.isEnabled() and path.text().endswith("tiny.safetensors")
    dialog.close()


def test_an_invalid_architecture_without_runs_cannot_be_exported(qtbot, main_window):
    main_window.document.set_field("input_size", 16)  # VGG-11's fifth pool would make the map 0x0
    assert not main_window.document.is_valid()
    dialog = _dialog(qtbot, main_window)
    assert not _child(dialog, QRadioButton, "exportSourceArch").isEnabled()
    assert "not valid" in _child(dialog, QRadioButton, "exportSourceArch").text()
    assert not _child(dialog, QRadioButton, "exportSourceRun").isEnabled()
    assert not _child(dialog, QPushButton, "exportButton").isEnabled()
    dialog.close()


def _drop(widget, path: Path) -> None:
    """Drag a file over `widget` and drop it, as a file manager would (Qt delivers a drop only after an enter)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(widget.rect().center(), *args)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(widget, QDropEvent(QPointF(widget.rect().center()), *args))


def test_results_tab_classifies_an_opened_or_dropped_image(qtbot, window_with_run, dialogs, tmp_path):
    window, run = window_with_run
    view = window.findChild(type(window.training.results.predict), "predictView")
    assert view.run_dir == run
    photo = tmp_path / "photo.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)).save(photo)
    dialogs.open_path = str(photo)
    qtbot.mouseClick(view.findChild(QPushButton, "predictOpenButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.last_prediction is not None and view.task is None, timeout=WAIT_MS)

    classes = from_run(run).classes
    names = [view.findChild(QLabel, f"predictName{i}").text() for i in range(5)]
    bars = [view.findChild(QProgressBar, f"predictBar{i}") for i in range(5)]
    assert all(name in classes for name in names) and len(set(names)) == 5
    values = [bar.value() for bar in bars]
    assert values == sorted(values, reverse=True) and sum(values) <= 1000 + 5
    assert bars[0].format().endswith("%")
    caption = view.findChild(QLabel, "predictCaption").text()
    assert caption.startswith("photo.png (300×200) with run") and names[0] in caption
    shown = view.findChild(QLabel, "predictInput").pixmap()
    assert (shown.width(), shown.height()) == (112, 112)
    assert "grey 28×28" in view.findChild(QLabel, "predictInputCaption").text()

    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    _drop(view, text)
    qtbot.waitUntil(lambda: view.task is None and "not an image" in view.caption.text(), timeout=WAIT_MS)
    assert view.last_prediction is None and not bars[0].isEnabled()

    _drop(view, photo)
    qtbot.waitUntil(lambda: view.last_prediction is not None and view.task is None, timeout=WAIT_MS)
    assert [view.findChild(QLabel, f"predictName{i}").text() for i in range(5)] == names
