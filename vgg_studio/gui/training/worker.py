"""Runs `engine.train` in a QThread and hands its events to the GUI thread as queued signals.

The engine knows nothing about Qt: it calls `on_event` from the thread it runs in and checks a
`threading.Event` every batch. `TrainingWorker` is the thin QObject that lives in the worker thread and
turns those calls into signals; `TrainingJob` lives in the GUI thread, owns the thread, and re-emits the
events as typed signals so widgets only ever run on the GUI thread.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from ...events import (BatchProgress, Compiling, DataProgress, EpochEnd, Event, Failed, Finished, Notice, RunStarted,
                       StepProgress)
from ...spec import ArchSpec
from ...train_config import TrainConfig

# While a worker thread runs Python (loading data, the loop between torch ops), the GUI thread needs the
# GIL back quickly after each call into Qt; with CPython's default 5 ms switch interval, a repaint that
# crosses into Python a few dozen times can wait 100+ ms in total. 1 ms keeps it short.
GUI_SWITCH_INTERVAL_S = 0.001


class TrainFn(Protocol):
    """The engine's entry point (or a test double with the same signature)."""

    def __call__(self, spec: ArchSpec, config: TrainConfig, on_event: Callable[[Event], None] | None = None,
                 cancel: threading.Event | None = None, runs_root: str | Path | None = None,
                 parent: str | Path | None = None) -> Finished | Failed: ...


def _engine_train() -> TrainFn:
    # Imported on first use, in the worker thread, so the GUI thread never pays for the engine's imports.
    from ...engine import train

    return train


class TrainingWorker(QObject):
    """Lives in the worker thread; calls the engine once and reports through signals."""

    event = Signal(object)  # RunStarted | BatchProgress | EpochEnd, emitted from the worker thread
    done = Signal(object)  # the one Finished | Failed that ends the run

    def __init__(self, train_fn: TrainFn | None, spec: ArchSpec, config: TrainConfig,
                 runs_root: str | Path | None, cancel: threading.Event,
                 outbox: list[Finished | Failed], parent_run: Path | None = None) -> None:
        super().__init__()
        self._parent_run = parent_run
        self._outbox = outbox  # read by the GUI thread after wait(), when `done` may still be queued
        self._train_fn = train_fn
        self._spec = spec
        self._config = config
        self._runs_root = runs_root
        self._cancel = cancel

    @Slot()
    def run(self) -> None:
        result: Finished | Failed | None = None
        try:
            train = self._train_fn or _engine_train()
            result = train(self._spec, self._config, on_event=self._forward, cancel=self._cancel,
                           runs_root=self._runs_root, parent=self._parent_run)
        except Exception as exc:  # noqa: BLE001 - the engine promises not to raise; if it does, say so
            traceback.print_exc()
            result = Failed(run_dir=None, kind="error",
                            message=f"Training stopped on an unexpected error: {exc!r}. "
                                    "The details are printed on the console; please report them.")
        self._outbox.append(result)
        self.done.emit(result)

    def _forward(self, event: Event) -> None:
        # Finished/Failed are also the return value: report them once, through `done`.
        if not isinstance(event, (Finished, Failed)):
            self.event.emit(event)


class TrainingJob(QObject):
    """One training run: owns the QThread and the worker; every signal here fires on the GUI thread.

    `ended` fires after the thread has finished, so whoever reacts to it may start the next job at once.
    """

    preparing = Signal(object)  # DataProgress: an image folder being read into its cache, before RunStarted
    started = Signal(object)  # RunStarted
    progress = Signal(object)  # BatchProgress: a point of the curves
    stepped = Signal(object)  # StepProgress: how far the epoch is, between points
    epochEnded = Signal(object)  # EpochEnd
    compiling = Signal(object)  # Compiling
    notice = Signal(object)  # Notice
    ended = Signal(object)  # Finished | Failed

    def __init__(self, spec: ArchSpec, config: TrainConfig, runs_root: str | Path | None = None,
                 train_fn: TrainFn | None = None, parent: QObject | None = None,
                 parent_run: Path | None = None) -> None:
        super().__init__(parent)
        # Both are frozen dataclasses: holding them is the snapshot, later edits make new objects.
        self.spec = spec
        self.config = config
        self.cancel = threading.Event()
        self._switch_interval = sys.getswitchinterval()
        self.result: Finished | Failed | None = None
        self.run_dir: str | None = None
        self._thread: QThread | None = QThread()
        self._thread.setObjectName("trainingThread")
        self._outbox: list[Finished | Failed] = []
        self._worker: TrainingWorker | None = TrainingWorker(train_fn, spec, config, runs_root, self.cancel,
                                                             self._outbox, parent_run)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.event.connect(self._on_event, Qt.ConnectionType.QueuedConnection)
        self._worker.done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        # Direct: quit() is thread-safe and lets the thread end as soon as the engine returns.
        self._worker.done.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        # Qt's documented pattern: the worker is deleted in its own thread as that thread ends.
        self._thread.finished.connect(self._worker.deleteLater, Qt.ConnectionType.DirectConnection)
        self._thread.finished.connect(self._on_thread_finished, Qt.ConnectionType.QueuedConnection)

    @property
    def thread(self) -> QThread | None:
        """The running thread, None once it has ended and been handed to deleteLater."""
        return self._thread

    def start(self) -> None:
        assert self._thread is not None, "a TrainingJob runs once"
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, GUI_SWITCH_INTERVAL_S))
        self._thread.start()

    def stop(self) -> None:
        """Ask the engine to stop; it does so within one batch and `ended` follows."""
        self.cancel.set()

    def shutdown(self) -> None:
        """Stop and block until the thread has ended (for closing the window); safe to call twice."""
        self.cancel.set()
        if self._thread is None:
            return
        self._thread.quit()  # a no-op while run() is busy; ends the loop once it returns
        self._thread.wait()
        self._on_thread_finished()

    @Slot(object)
    def _on_event(self, event: Event) -> None:
        if self._thread is None:
            return  # late events after shutdown: nobody is listening any more
        if isinstance(event, RunStarted):
            self.run_dir = event.run_dir
            self.started.emit(event)
        elif isinstance(event, BatchProgress):
            self.progress.emit(event)
        elif isinstance(event, StepProgress):
            self.stepped.emit(event)
        elif isinstance(event, EpochEnd):
            self.epochEnded.emit(event)
        elif isinstance(event, Compiling):
            self.compiling.emit(event)
        elif isinstance(event, Notice):
            self.notice.emit(event)
        elif isinstance(event, DataProgress):
            self.preparing.emit(event)

    @Slot(object)
    def _on_done(self, result: Finished | Failed) -> None:
        self.result = result
        if result.run_dir:
            self.run_dir = result.run_dir

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._thread is None:
            return
        thread = self._thread
        self._thread = self._worker = None
        thread.wait()  # already finished: returns at once, and makes deletion safe
        thread.deleteLater()
        sys.setswitchinterval(self._switch_interval)
        if self.result is None:  # shut down before the queued `done` arrived
            self.result = self._outbox[0] if self._outbox else Failed(
                run_dir=self.run_dir, kind="error", message="Training was interrupted before it reported.")
            if self.result.run_dir:
                self.run_dir = self.result.run_dir
        self.ended.emit(self.result)
