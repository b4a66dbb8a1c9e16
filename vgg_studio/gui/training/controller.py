"""The training controller: the one place where training is wired into a window.

`install_training(window)` adds the training panels, connects them to the window's document and to one
another, and registers a close guard that stops a running job and waits for its thread. Each panel does
one job; the controller only routes signals between them and the worker. What it needs from the window
is `TrainingHost`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QCoreApplication, QObject, QSettings, Qt
from PySide6.QtWidgets import QDockWidget, QStatusBar, QWidget

from ... import runs
from ...events import BatchProgress, EpochEnd, Failed, Finished, RunStarted
from ...runs import RunError, RunRecord
from ...spec import errors as spec_errors
from ...metrics import Curves
from ...spec import ArchSpec
from ...train_config import validate_config
from ..editor.document import ArchDocument
from .live_plots import LivePlots
from .panel import TrainingPanel
from .results_view import ResultsView
from .run_history import RunHistory
from .worker import TrainFn, TrainingJob


class TrainingHost(Protocol):
    """What the controller needs from its window (MainWindow, or a test's stand-in)."""

    document: ArchDocument
    settings: QSettings
    persist: bool  # False: do not read or write the training settings
    close_hooks: list[Callable[[], None]]  # run once the window has decided to close (no questions left)

    def add_panel(self, title: str, widget: QWidget, area: Qt.DockWidgetArea = ...,
                  object_name: str | None = None, *, tabify: bool = True) -> QDockWidget: ...

    def load_spec(self, spec: ArchSpec, name_or_path: str | os.PathLike[str]) -> bool: ...

    def statusBar(self) -> QStatusBar: ...


class TrainingController(QObject):
    """Starts and stops jobs and keeps the panels in step with them and with the document."""

    def __init__(self, window: TrainingHost, runs_root: Path | None = None, train_fn: TrainFn | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.document = window.document
        self.runs_root = Path(runs_root) if runs_root is not None else runs.default_runs_dir()
        self.train_fn = train_fn  # None: the real engine, imported in the worker thread
        self.job: TrainingJob | None = None
        self.last_result: Finished | Failed | None = None
        self._live_run: Path | None = None  # the run drawn as the main curves (not as an overlay)

        self.panel = TrainingPanel()
        self.plots = LivePlots()
        self.history = RunHistory(self.runs_root)
        self.results = ResultsView()

        self.panel_dock: QDockWidget = window.add_panel("Training", self.panel, Qt.DockWidgetArea.RightDockWidgetArea,
                                                        object_name="trainingDock")
        self.plots_dock: QDockWidget = window.add_panel("Training curves", self.plots,
                                                        Qt.DockWidgetArea.BottomDockWidgetArea,
                                                        object_name="curvesDock")
        self.history_dock: QDockWidget = window.add_panel("Runs", self.history, Qt.DockWidgetArea.BottomDockWidgetArea,
                                                          object_name="runsDock")
        self.results_dock: QDockWidget = window.add_panel("Results", self.results,
                                                          Qt.DockWidgetArea.BottomDockWidgetArea,
                                                          object_name="resultsDock")

        self.document.specChanged.connect(self.panel.set_spec)
        self.document.validityChanged.connect(self.panel.set_architecture_valid)
        self.panel.set_spec(self.document.spec)
        self.panel.set_architecture_valid(self.document.is_valid())
        self.panel.startRequested.connect(self.start)
        self.panel.stopRequested.connect(self.stop)
        self.history.selectionChanged.connect(self._show_selected_runs)
        self.history.openRequested.connect(self.open_run_architecture)
        self.plots.exported.connect(lambda path: self._status(f"Exported {path}"))

        if window.persist:
            self.panel.restore_settings(window.settings)
        self.refresh_availability()
        self.history.refresh()
        window.close_hooks.append(self.close_hook)
        app = QCoreApplication.instance()
        if app is not None:  # quitting without closing the window must not leave the thread running
            app.aboutToQuit.connect(self.shutdown)

    # --- running -----------------------------------------------------------------------------------
    def start(self) -> bool:
        """Snapshot the architecture and settings as they are now and train them in the worker thread."""
        if self.job is not None:
            return False
        if not self.document.is_valid():
            self.panel.show_error("The architecture has errors; fix them before training.")
            return False
        spec = self.panel.apply_resize(self.document.spec)
        config = self.panel.config()
        problems = [p.message for p in spec_errors(spec)] + validate_config(config)
        if problems:
            self.panel.show_error(" ".join(problems))
            return False
        if self.window.persist:
            self.panel.save_settings(self.window.settings)

        job = TrainingJob(spec, config, self.runs_root, self.train_fn, parent=self)
        job.preparing.connect(self.panel.show_data_progress)
        job.started.connect(self._on_started)
        job.progress.connect(self._on_progress)
        job.epochEnded.connect(self._on_epoch)
        job.ended.connect(self._on_ended)
        self.job = job
        self.last_result = None
        self._live_run = None
        self.plots.clear_live()
        self.plots.set_overlays([])
        self.results.clear("Results appear after the first epoch.")
        self.panel.set_running(True)
        self.plots_dock.raise_()
        self._status(f"Training {spec.name}…")
        job.start()
        return True

    def stop(self) -> None:
        """Ask the running job to stop; the panel re-enables when the engine has returned."""
        if self.job is not None:
            self.job.stop()
            self.panel.show_stopping()

    def shutdown(self) -> None:
        """Stop the job and block until its thread has ended."""
        if self.job is not None:
            self.job.shutdown()

    def close_hook(self) -> None:
        """The window is closing (the user answered every question): stop training so no thread outlives it."""
        if self.job is not None:
            self._status("Stopping training…")
            self.shutdown()

    def refresh_availability(self) -> None:
        from ... import data  # only for the panel's hints; never downloads

        try:
            self.panel.set_availability(data.availability())
        except (OSError, data.DataError) as exc:
            self._status(f"Could not check which datasets are on disk: {exc}")

    # --- engine events (GUI thread) ----------------------------------------------------------------
    def _on_started(self, event: RunStarted) -> None:
        self._live_run = Path(event.run_dir)
        self.history.active_run = self._live_run
        label = self.job.spec.name if self.job is not None else "current run"
        self.plots.start_run(event, label=label)
        self.panel.show_started(event)
        self.history.refresh()

    def _on_progress(self, event: BatchProgress) -> None:
        self.panel.show_progress(event)
        self.plots.add_step(event)

    def _on_epoch(self, event: EpochEnd) -> None:
        self.panel.show_epoch(event)
        self.plots.add_epoch(event)
        if self._live_run is not None:
            self._show_results(self._live_run, f"epoch {event.epoch}")

    def _on_ended(self, result: Finished | Failed) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.deleteLater()
        self.last_result = result
        self.history.active_run = None
        self.panel.show_result(result)
        self.plots.finish(result if isinstance(result, Finished) else None)
        if isinstance(result, Finished):
            text = ("Training stopped. " if result.cancelled else "Training finished. ") + \
                ("  ".join(result.summary_lines()) if result.epochs_done else "")
            self._status(text.strip())
        else:
            self._status(f"Training failed: {result.message}", timeout=20000)
        self.history.refresh()
        if result.run_dir:
            self._live_run = Path(result.run_dir)
            self._show_results(self._live_run, Path(result.run_dir).name)
        self.refresh_availability()  # the run may have downloaded a dataset

    # --- history -----------------------------------------------------------------------------------
    def _load(self, path: Path) -> RunRecord | None:
        try:
            return runs.load_run(path)
        except RunError as exc:
            self._status(str(exc), timeout=10000)
            return None

    def _show_selected_runs(self, paths: list[Path]) -> None:
        overlays = []
        for path in paths:
            if path == self._live_run:
                continue  # already drawn as the main curves
            record = self._load(path)
            if record is not None:
                label = f"{record.info.arch_name} {record.info.created:%m-%d %H:%M}"
                overlays.append(Curves.from_rows(label, record.steps, record.epochs))
        self.plots.set_overlays(overlays)
        if len(paths) == 1 and (self.job is None or paths[0] != self._live_run):
            self._show_results(paths[0], paths[0].name)

    def _show_results(self, path: Path, title: str) -> None:
        try:
            self.results.show_results(runs.load_results(path), title)
        except RunError as exc:
            self.results.clear(str(exc))

    def open_run_architecture(self, path: Path) -> bool:
        """Open the architecture a run trained (as saved in its folder) as a new document."""
        record = self._load(Path(path))
        if record is None:
            return False
        name = f"{record.spec.name} (run {record.info.name})"
        if self.window.load_spec(record.spec, name):
            self._status(f"Opened the architecture of run {record.info.name}.")
            return True
        return False

    def _status(self, text: str, timeout: int = 8000) -> None:
        self.window.statusBar().showMessage(text, timeout)


def install_training(window: TrainingHost, runs_root: str | os.PathLike[str] | None = None,
                     train_fn: TrainFn | None = None) -> TrainingController:
    """Add the training panels to `window` and wire them; the window keeps the controller alive."""
    controller = TrainingController(window, Path(runs_root) if runs_root is not None else None, train_fn)
    window.training = controller
    return controller
