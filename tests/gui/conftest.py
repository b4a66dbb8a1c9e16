"""GUI tests: offscreen Qt, settings in a temporary file, and no dialog can block a test.

Dialogs are replaced by recorders: `dialogs.answer` is what QMessageBox.question returns (Discard by
default), `dialogs.open_path` / `dialogs.save_path` what the file dialogs return.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QFileDialog, QMessageBox  # noqa: E402


@dataclass
class Dialogs:
    answer: QMessageBox.StandardButton = QMessageBox.StandardButton.Discard
    open_path: str = ""
    save_path: str = ""
    questions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@pytest.fixture(autouse=True)
def settings_file(tmp_path, monkeypatch):
    """Every test gets its own fresh settings file (a 'fresh install')."""
    path = tmp_path / "settings" / "vgg-studio.ini"
    monkeypatch.setenv("VGG_STUDIO_SETTINGS", str(path))
    return path


@pytest.fixture(autouse=True)
def dialogs(monkeypatch):
    record = Dialogs()

    def question(_parent, _title, text, *_args, **_kwargs):
        record.questions.append(text)
        return record.answer

    def warning(_parent, _title, text, *_args, **_kwargs):
        record.warnings.append(text)
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(warning))
    monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda *a, **k: None))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (record.open_path, "")))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (record.save_path, "")))
    return record


@pytest.fixture
def window(qtbot):
    """The main window as a user gets it on a fresh install, shown at the README size."""
    from vgg_studio.gui import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.document.undo_stack.setClean()  # nothing to ask when qtbot closes it
