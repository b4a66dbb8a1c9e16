"""Helpers for the training GUI tests: a stand-in host window, a fake engine, a fast architecture.

The fixtures that use them (`isolated`, `stand_in`, `main_window`) are in conftest.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

from vgg_studio.events import BatchProgress, EpochEnd, Event, Failed, Finished, RunStarted
from vgg_studio.gui.editor.document import ArchDocument
from vgg_studio.gui.settings import open_settings
from vgg_studio.runs import RunFolder
from vgg_studio.spec import ArchSpec, preset
from vgg_studio.train_config import TrainConfig

# The tiny preset with every width divided by 4: the same two blocks, ~2 s per epoch on the bundled
# sample on a CPU (the plain preset takes ~17 s), so a real run fits the suite's time budget.
FAST_TINY = preset("tiny").replace(ratio=4)


class StandInWindow(QMainWindow):
    """A `TrainingHost` (what install_training needs of MainWindow), for testing the panels alone."""

    def __init__(self, spec: ArchSpec) -> None:
        super().__init__()
        self.document = ArchDocument(spec, parent=self)
        self.close_hooks: list[Callable[[], None]] = []
        self.setCentralWidget(QWidget())
        self.settings = open_settings()
        self.persist = False
        self.loaded: list[tuple[ArchSpec, str]] = []

    def add_panel(self, title: str, widget: QWidget, area=Qt.DockWidgetArea.BottomDockWidgetArea,
                  object_name: str | None = None, *, tabify: bool = True) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name or title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def load_spec(self, spec: ArchSpec, name: str) -> bool:
        self.loaded.append((spec, name))
        self.document.load_spec(spec, name)
        return True

    def closeEvent(self, event: QCloseEvent) -> None:
        for hook in self.close_hooks:
            hook()
        event.accept()


class FakeEngine:
    """Same signature as engine.train; emits a plausible run slowly and honours the cancel flag."""

    def __init__(self, epochs_delay: float = 0.02, points: int = 5, num_batches: int = 10,
                 write_runs: bool = False) -> None:
        self.delay = epochs_delay
        self.points = points
        self.num_batches = num_batches
        self.write_runs = write_runs  # a real run folder (runs.RunFolder) with the points, like the engine's
        self.calls: list[tuple[ArchSpec, TrainConfig]] = []
        self.threads: list[str] = []

    def __call__(self, spec: ArchSpec, config: TrainConfig, on_event: Callable[[Event], None] | None = None,
                 cancel: threading.Event | None = None, runs_root=None, run_dir=None, resume=None,
                 parent=None) -> Finished | Failed:
        emit = on_event or (lambda e: None)
        cancel = cancel or threading.Event()
        self.calls.append((spec, config))
        self.threads.append(threading.current_thread().name)
        run = str(Path(runs_root or ".") / f"fake-{len(self.calls)}")
        folder = RunFolder.create(spec, config, root=runs_root) if self.write_runs else None
        if folder is not None:
            run = str(folder.path)
        if config.lr >= 100:
            event = Failed(run_dir=None, kind="diverged", message="Training diverged: the loss became NaN.")
            emit(event)
            return event
        nb = self.num_batches
        emit(RunStarted(run_dir=run, device="cpu", dataset="sample", num_train=nb * 8, num_test=20,
                        batches_per_epoch=nb, epochs=config.epochs, start_epoch=0, params=1234))
        done = 0
        loss = acc = 0.0
        for epoch in range(1, config.epochs + 1):
            for b in range(1, nb + 1):
                if cancel.is_set():
                    if folder is not None:
                        folder.update(status="cancelled")
                        folder.unlock()  # as the engine does when it returns
                    return self._finish(emit, run, done, loss, acc, cancelled=True)
                time.sleep(self.delay)  # the worker thread, not the GUI
                if b % max(1, nb // self.points) == 0:
                    x = epoch - 1 + b / nb
                    loss, acc = 2.3 / (1 + x), 1 - 0.9 / (1 + x)
                    emit(BatchProgress(epoch=epoch, batch=b, num_batches=nb, epoch_float=x, train_loss=loss,
                                       train_acc=acc, examples_per_sec=1000.0, eta_s=1.0))
                    if folder is not None:
                        folder.add_steps([{"epoch_float": x, "train_loss": loss, "train_acc": acc}])
            emit(EpochEnd(epoch=epoch, train_loss=loss, train_acc=acc, test_acc=acc - 0.02,
                          examples_per_sec=1000.0, elapsed_s=epoch * 0.2, eta_s=0.0, lr=config.lr))
            done = epoch
        if folder is not None:
            folder.update(status="finished", epochs_done=done)
            folder.unlock()
        return self._finish(emit, run, done, loss, acc, cancelled=False)

    @staticmethod
    def _finish(emit, run: str, done: int, loss: float, acc: float, cancelled: bool) -> Finished:
        event = Finished(run_dir=run, device="cpu", epochs_done=done, train_loss=loss, train_acc=acc,
                         test_acc=acc - 0.02, examples_per_sec=1000.0, cancelled=cancelled)
        emit(event)
        return event


def points(curve) -> int:
    """How many points a PlotDataItem holds (what the user sees drawn)."""
    x = curve.getData()[0]
    return 0 if x is None else len(x)
