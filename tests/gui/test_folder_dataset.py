"""Training on your own images from the window: "Image folder…", the first read's progress and Stop, class names.

The folder is small (3 classes written from the real sample, one damaged file) and the network is the
fast tiny variant, so a real run from the window takes a few seconds.
"""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QPushButton

from image_folder_maker import make_image_folder
from training_helpers import FAST_TINY
from vgg_studio import image_folder
from vgg_studio.events import Failed, Finished
from vgg_studio.gui.settings import open_settings
from vgg_studio.gui.training.panel import TrainingPanel


@pytest.fixture
def folder_dialog(monkeypatch):
    """What QFileDialog.getExistingDirectory answers next ("" is Cancel); the captions it was asked with."""
    answers: list[str] = []
    asked: list[str] = []

    def ask(_parent, caption, _start="", *args, **kwargs):
        asked.append(caption)
        return answers.pop(0)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(ask))
    return answers, asked


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("own") / "leaves", per_class=12, classes=3, corrupt=1, seed=4)


def _choose_image_folder(qtbot, combo) -> None:
    """As a user does with the keyboard: focus the dataset box and go to its last entry, "Image folder…"."""
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_End)


def test_image_folder_entry_asks_for_a_folder_and_cancel_keeps_the_choice(qtbot, tmp_path, folder_dialog):
    answers, asked = folder_dialog
    panel = TrainingPanel(devices=[("cpu", "CPU")])
    qtbot.addWidget(panel)
    combo = panel.dataset
    assert combo.itemText(combo.count() - 1) == "Image folder…"
    combo.setCurrentIndex(combo.findData("sample"))

    answers.append("")  # Cancel
    _choose_image_folder(qtbot, combo)
    assert asked and combo.currentData() == "sample" and panel.config().dataset == "sample"

    for name in ("leaves", "parts"):
        (tmp_path / name).mkdir()
        answers.append(str(tmp_path / name))
        _choose_image_folder(qtbot, combo)
        assert combo.currentText() == f"Folder: {name}" and panel.config().dataset == f"folder:{tmp_path / name}"
        assert panel.dataset_hint.isVisible() or not panel.isVisible()
        assert str(tmp_path / name) in panel.dataset_hint.text()
    assert [combo.itemText(i) for i in range(combo.count())].count("Folder: parts") == 1
    assert not any(combo.itemText(i) == "Folder: leaves" for i in range(combo.count()))  # replaced, not added

    # The choice survives a restart (settings) like the other settings do.
    settings = open_settings()
    panel.save_settings(settings)
    again = TrainingPanel(devices=[("cpu", "CPU")])
    qtbot.addWidget(again)
    again.restore_settings(settings)
    assert again.dataset.currentText() == "Folder: parts" and again.config().dataset == f"folder:{tmp_path / 'parts'}"


def _prepare(window, qtbot, folder_dialog, root):
    window.open_preset("tiny")
    window.document.set_field("ratio", FAST_TINY.ratio)
    ctl = window.training
    folder_dialog[0].append(str(root))
    _choose_image_folder(qtbot, ctl.panel.dataset)
    ctl.panel.epochs.setValue(1)
    ctl.panel.batch_size.setValue(16)
    ctl.panel.device.setCurrentIndex(ctl.panel.device.findData("cpu"))
    return ctl


def test_train_on_a_folder_from_the_window(qtbot, main_window, folder_dialog, pictures, monkeypatch):
    decode_threads: set[str] = set()
    original = image_folder.decode_image

    def decode(*args):
        decode_threads.add(threading.current_thread().name)
        return original(*args)

    monkeypatch.setattr(image_folder, "decode_image", decode)
    ctl = _prepare(main_window, qtbot, folder_dialog, pictures.root)
    shown: list[str] = []
    show = ctl.panel.show_data_progress
    monkeypatch.setattr(ctl.panel, "show_data_progress", lambda e: (show(e), shown.append(ctl.panel.progress.format())))

    qtbot.mouseClick(main_window.findChild(QPushButton, "trainButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctl.last_result is not None, timeout=60_000)
    result = ctl.last_result
    assert isinstance(result, Finished) and result.epochs_done == 1, result
    assert shown and shown[-1].startswith(f"Reading images {pictures.written + 1}/{pictures.written + 1}")
    assert decode_threads and threading.main_thread().name not in decode_threads  # never in the GUI thread
    status = ctl.panel.status.text()
    assert f"{pictures.written} images used in 3 classes" in status and "1 file skipped" in status
    # The Results tab names the folder's classes.
    model = ctl.results.confusion_model
    assert model.classes == pictures.classes
    assert model.headerData(0, Qt.Orientation.Vertical) == pictures.classes[0]


def test_stop_while_reading_the_folder(qtbot, main_window, folder_dialog, pictures, monkeypatch):
    original = image_folder.decode_image
    monkeypatch.setattr(image_folder, "decode_image", lambda *a: (time.sleep(0.1), original(*a))[1])
    ctl = _prepare(main_window, qtbot, folder_dialog, pictures.root)
    train = main_window.findChild(QPushButton, "trainButton")
    qtbot.mouseClick(train, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctl.panel.progress.format().startswith("Reading images"), timeout=30_000)
    qtbot.mouseClick(main_window.findChild(QPushButton, "stopButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(train.isEnabled, timeout=10_000)
    result = ctl.last_result
    assert isinstance(result, Failed) and result.kind == "stopped"
    assert "while reading the image folder" in ctl.panel.status.text()
