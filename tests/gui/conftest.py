"""GUI tests: offscreen Qt, settings in a temporary file, and no dialog can block a test; training fixtures.

Dialogs are replaced by recorders: `dialogs.answer` is what QMessageBox.question returns (Discard by
default), `dialogs.open_path` / `dialogs.save_path` what the file dialogs return.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QFileDialog, QMessageBox

from training_helpers import StandInWindow
from vgg_studio.spec import preset


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
def cost_probe(monkeypatch):
    """The cost estimate's probe trains real steps (seconds for VGG-11 at 224 px on a CPU): tests get a fixed
    500 images/s at once. Returns the (spec, config) pairs it was asked about."""
    from vgg_studio import cost

    calls = []

    def probe(spec, config, **_kwargs):
        calls.append((spec, config))
        return 500.0

    monkeypatch.setattr(cost, "probe_speed", probe)
    return calls


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


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs, settings and data under tmp_path, so tests never see the user's folders or each other's."""
    monkeypatch.setenv("VGG_STUDIO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("VGG_STUDIO_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.setenv("VGG_STUDIO_DATA", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def stand_in(qtbot, isolated: Path) -> Iterator[StandInWindow]:
    window = StandInWindow(preset("tiny"))
    qtbot.addWidget(window)
    window.resize(1200, 800)
    yield window
    window.close()


@pytest.fixture
def main_window(qtbot, isolated: Path):
    """The real MainWindow (it installs training itself), nothing read from or written to settings."""
    from vgg_studio.gui.main_window import MainWindow

    window = MainWindow(persist=False)
    qtbot.addWidget(window)
    window.resize(1280, 860)
    window.show()
    yield window
    window.close()
