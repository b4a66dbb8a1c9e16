"""The training controller: the one place where training is wired into a window.

`install_training(window)` adds the training panels, connects them to the window's document and to one
another, and registers a close guard that stops a running job and waits for its thread. Each panel does
one job; the controller only routes signals between them and the worker. What it needs from the window
is `TrainingHost`.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QCoreApplication, QObject, QSettings, Qt
from PySide6.QtWidgets import QDockWidget, QSplitter, QStatusBar, QWidget

from ... import runs
from ...cost import CostEstimate, device_words, epochs_within, rough_duration, smaller_input
from ...events import BatchProgress, EpochEnd, Failed, Finished, RunStarted, StepProgress
from ...lineage import choose_parent, run_label
from ...metrics import Curves
from ...runs import RunError, RunRecord
from ...spec import ArchSpec, preset
from ...spec import errors as spec_errors
from ...train_config import TrainConfig, validate_config
from ...units import format_duration
from ..editor.document import ArchDocument
from ..text import count, elide
from .estimate import CostEstimator
from .live_plots import LivePlots
from .panel import TrainingPanel
from .results_view import ResultsView
from .run_compare import RunSettingsCompare
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
        self._last_started: Path | None = None  # a new run's parent when the baseline has no run
        # The pinned baseline's architecture, if any (set by the baseline controller): its latest run is
        # a new run's parent.
        self.baseline_spec: Callable[[], ArchSpec | None] = lambda: None
        self.estimate: CostEstimate | None = None  # the cost estimated before the run now training started
        self._run_estimate: CostEstimate | None = None
        self._num_train = self._num_test = 0
        self._first_epoch, self._started_at = 1, 0.0
        self._epoch_note = ""  # how long the first epoch took against the estimate, once it has

        self.panel = TrainingPanel()
        self.panel.runs_dir = self.runs_root
        self.plots = LivePlots()
        self.history = RunHistory(self.runs_root)
        self.results = ResultsView()
        self.run_compare = RunSettingsCompare()  # beside the curves when exactly two runs are selected
        self.run_compare.hide()
        self.curves = QSplitter(objectName="curvesSplitter")
        self.curves.addWidget(self.plots)
        self.curves.addWidget(self.run_compare)
        self.curves.setChildrenCollapsible(False)

        self.panel_dock: QDockWidget = window.add_panel("Training", self.panel, Qt.DockWidgetArea.RightDockWidgetArea,
                                                        object_name="trainingDock")
        self.plots_dock: QDockWidget = window.add_panel("Training curves", self.curves,
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
        self.panel.discardRequested.connect(self.discard_run)
        self.history.selectionChanged.connect(self._show_selected_runs)
        self.history.openRequested.connect(self.open_run_architecture)
        self.plots.exported.connect(lambda path: self._status(f"Exported {path}"))
        self.estimator = CostEstimator(lambda config: device_words(str(_device(config))), parent=self)
        self.estimator.estimated.connect(self._show_estimate)
        self.estimator.failed.connect(self.panel.show_estimate)
        self.document.specChanged.connect(self.request_estimate)
        self.panel.configChanged.connect(self.request_estimate)
        self.panel.wayOutChosen.connect(self._take_way_out)

        if window.persist:
            self.panel.restore_settings(window.settings)
        self.refresh_availability()
        self.history.refresh()
        self.request_estimate()
        window.close_hooks.append(self.close_hook)
        window.close_hooks.append(self.results.predict.wait)
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

        job = TrainingJob(spec, config, self.runs_root, self._train_fn(), parent=self,
                          parent_run=self.parent_run(config))
        job.preparing.connect(self.panel.show_data_progress)
        job.started.connect(self._on_started)
        job.progress.connect(self._on_progress)
        job.stepped.connect(self._on_step)
        job.compiling.connect(self.panel.show_compiling)
        job.notice.connect(self.panel.show_notice)
        job.epochEnded.connect(self._on_epoch)
        job.ended.connect(self._on_ended)
        self.job = job
        self.estimator.set_enabled(False)
        self._run_estimate = self.estimate
        self.last_result = None
        self._live_run = None
        self.plots.clear_live()
        self.plots.set_overlays([])
        self.results.clear("Results appear after the first epoch.")
        self.panel.set_running(True)
        self.plots_dock.raise_()
        self._status(f"Training {elide(spec.name)}…")
        job.start()
        return True

    def parent_run(self, config) -> Path | None:
        """The run a new one is compared with: the baseline's latest on the same data, else the last one."""
        from ...data import DataError  # imported when needed, like refresh_availability does
        from ...training_data import resolve_name

        try:
            dataset = resolve_name(config)
        except DataError:
            return self._last_started  # the engine will say what is wrong with the data

        return choose_parent(runs.list_runs(self.runs_root), self.history.setups, dataset,
                             self.baseline_spec(), self._last_started)

    def _train_fn(self) -> TrainFn | None:
        """The engine in this process, or (Processes > 1) torchrun's processes streaming their events back."""
        processes = self.panel.processes.value()
        if processes == 1 or (self.train_fn is not None and not getattr(self.train_fn, "launches", False)):
            return self.train_fn  # the engine (None: imported in the worker thread) or a test's stand-in
        from ...launch import train_in_processes

        return functools.partial(self.train_fn or train_in_processes, processes=processes)

    def stop(self) -> None:
        """Ask the running job to stop; the panel re-enables when the engine has returned."""
        if self.job is not None:
            self.job.stop()
            self.panel.show_stopping()

    def shutdown(self) -> None:
        """Stop the job and the cost probe, and block until their threads have ended."""
        self.estimator.shutdown()
        if self.job is not None:
            self.job.shutdown()

    def close_hook(self) -> None:
        """The window is closing (the user answered every question): stop training so no thread outlives it,
        and remember the settings."""
        if self.job is not None:
            self._status("Stopping training…")
        self.shutdown()
        if self.window.persist:
            self.panel.save_settings(self.window.settings)

    def refresh_availability(self) -> None:
        from ... import data  # only for the panel's hints; never downloads

        try:
            self.panel.set_availability(data.availability(), data.resolve_dataset_name("auto"))
        except (OSError, data.DataError) as exc:
            self._status(f"Could not check which datasets are on disk: {exc}")

    # --- engine events (GUI thread) ----------------------------------------------------------------
    def show_run_event(self, event: RunStarted | BatchProgress | EpochEnd | Finished | Failed) -> None:
        """Show an event of a run started elsewhere (a sweep's variant) in the curves, progress and Runs list.

        Its end does not reset the panel: the sweep does that when its last variant is done."""
        if isinstance(event, RunStarted):
            self._on_started(event)
        elif isinstance(event, BatchProgress):
            self._on_progress(event)
        elif isinstance(event, EpochEnd):
            self._on_epoch(event)
        else:
            self.plots.finish(event if isinstance(event, Finished) else None)
            self.history.refresh()

    def _on_started(self, event: RunStarted) -> None:
        self._num_train, self._num_test = event.num_train, event.num_test
        self._first_epoch, self._started_at = event.start_epoch + 1, time.perf_counter()
        self._epoch_note = ""
        self._live_run = self._last_started = Path(event.run_dir)
        self.history.active_run = self._live_run
        label = elide(self.job.spec.name, 40) if self.job is not None else "current run"
        self.plots.start_run(event, label=label)
        self.panel.show_started(event)
        self.history.refresh()

    def _on_progress(self, event: BatchProgress) -> None:
        self.panel.show_progress(event)
        self.plots.add_step(event)
        self._show_measured_cost(event)

    def _on_step(self, event: StepProgress) -> None:
        self.panel.show_progress(event)
        self._show_measured_cost(event)

    def _on_epoch(self, event: EpochEnd) -> None:
        self.panel.show_epoch(event)
        if self._run_estimate is not None and event.epoch == self._first_epoch:
            took = time.perf_counter() - self._started_at
            self._epoch_note = (f"Epoch {event.epoch} took {format_duration(took)} (estimated before Start: "
                                f"≈ {rough_duration(self._run_estimate.epoch_s)}).")
            self.panel.show_estimate(self._epoch_note)
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
        if isinstance(result, Finished) and result.cancelled and not result.epochs_done and result.run_dir \
                and not self._holds_points(Path(result.run_dir)):
            self.discard_run(result.run_dir, quiet=True)  # stopped before its first point: nothing to keep
            self.panel.offer_discard(None)
            self.panel.status.setText("Stopped before the first batch ended; the empty run was discarded.")
        self.history.refresh()
        if result.run_dir and Path(result.run_dir).exists():
            self._live_run = Path(result.run_dir)
            self._show_results(self._live_run, Path(result.run_dir).name)
        self.refresh_availability()  # the run may have downloaded a dataset
        self.estimator.set_enabled(True)
        self.request_estimate()

    def discard_run(self, run_dir: str | os.PathLike[str], quiet: bool = False) -> bool:
        """Delete a run folder that holds no finished epoch (offered after a stop before the first one)."""
        path = Path(run_dir)
        try:
            runs.delete_run(path)
        except (RunError, OSError) as exc:
            self._status(f"Could not discard {path.name}: {exc}", timeout=10000)
            return False
        if path == self._live_run:
            self._live_run = None
            self.plots.clear_live()
            self.results.clear()
        self.history.refresh()
        if not quiet:
            self._status(f"Discarded run {path.name}.")
        return True

    @staticmethod
    def _holds_points(path: Path) -> bool:
        try:
            return bool(runs.load_run(path).steps)
        except RunError:
            return True  # unreadable: leave it for the user to look at

    # --- cost ----------------------------------------------------------------------------------------
    def request_estimate(self, *_args) -> None:
        """Estimate what Start would cost now (in the background); nothing while a run trains."""
        if self.job is not None:
            return
        if not self.document.is_valid():
            self.estimate = None
            self.panel.show_estimate("")
            return
        spec = self.panel.apply_resize(self.document.spec)
        if spec_errors(spec) or validate_config(self.panel.config()):
            self.estimate = None
            self.panel.show_estimate("")
            return
        self.panel.show_estimate(self._epoch_note or "Estimating the cost…")
        self.estimator.request(spec, self.panel.config())

    def _show_estimate(self, estimate: CostEstimate) -> None:
        self.estimate = estimate
        if not estimate.slow:  # the last run's measured epoch stays in view beside the next estimate
            self.panel.show_estimate(f"{self._epoch_note}\nNext run: {estimate.sentence()}." if self._epoch_note
                                     else estimate.sentence() + ".")
            return
        ways: list[tuple[str, object, str]] = []
        smaller = smaller_input(self.panel.apply_resize(self.document.spec))
        if smaller is not None:
            ways.append(("resize", smaller, f"Train at {smaller} px"))
        if self.document.spec.blocks != preset("tiny").blocks:
            ways.append(("tiny", None, "Use the tiny preset"))
        fewer = epochs_within(estimate)
        if fewer is not None:
            ways.append(("epochs", fewer, count(fewer, "epoch")))
        self.panel.show_estimate(f"A long run: {estimate.sentence()}. Cheaper:" if ways else
                                 f"A long run: {estimate.sentence()}.", slow=True, ways_out=tuple(ways))

    def _take_way_out(self, kind: str, value: object) -> None:
        if kind == "resize":
            self.panel.resize_box.setValue(int(value))
        elif kind == "epochs":
            self.panel.epochs.setValue(int(value))
        elif kind == "tiny":
            self.window.load_spec(preset("tiny"), "tiny")

    def _show_measured_cost(self, event: BatchProgress | StepProgress) -> None:
        """While training: the epoch's cost at the speed measured so far, and what is left."""
        if event.examples_per_sec <= 0 or not self._num_train:
            return
        measured = CostEstimate("", self._num_train, self._num_test, 1, event.examples_per_sec, "")
        note = f"\n{self._epoch_note}" if self._epoch_note else ""
        self.panel.show_estimate(f"Measured: ≈ {rough_duration(measured.epoch_s)} per epoch; "
                                 f"≈ {rough_duration(event.eta_s)} left.{note}")

    # --- history -----------------------------------------------------------------------------------
    def _load(self, path: Path) -> RunRecord | None:
        try:
            return runs.load_run(path)
        except RunError as exc:
            self._status(str(exc), timeout=10000)
            return None

    def _show_selected_runs(self, paths: list[Path]) -> None:
        overlays, records = [], []
        for path in paths:
            record = self._load(path)
            if record is not None:
                records.append(record)
            if record is not None and path != self._live_run:  # the live run is drawn as the main curves
                label = (f"{elide(run_label(record.info, self.history.setups).text, 40)} "
                         f"({record.info.created:%m-%d %H:%M})")
                overlays.append(Curves.from_rows(label, record.steps, record.epochs))
        self.plots.set_overlays(overlays)
        if len(records) == 2:
            older, newer = sorted(records, key=lambda r: (r.info.created, r.info.name))
            self.run_compare.show_runs(older, newer)
            self.results.show_pair(older.results, f"A: {older.info.name}", newer.results, f"B: {newer.info.name}")
            self.plots_dock.raise_()
            if not self.run_compare.isVisibleTo(self.curves):
                self.run_compare.show()
                width = self.curves.width()
                self.curves.setSizes([width - width // 3, width // 3])
        else:
            self.run_compare.hide()
        if len(paths) == 1 and (self.job is None or paths[0] != self._live_run):
            self._show_results(paths[0], paths[0].name)

    def _show_results(self, path: Path, title: str) -> None:
        self.results.predict.set_run(path)
        try:
            self.results.show_results(runs.load_results(path), title)
        except RunError as exc:
            self.results.clear(str(exc))

    def open_run_architecture(self, path: Path) -> bool:
        """Open the architecture a run trained (as saved in its folder) as a new document."""
        record = self._load(Path(path))
        if record is None:
            return False
        name = f"{elide(record.spec.name)} (run {record.info.name})"
        if self.window.load_spec(record.spec, name):
            self._status(f"Opened the architecture of run {record.info.name}.")
            return True
        return False

    def _status(self, text: str, timeout: int = 8000) -> None:
        self.window.statusBar().showMessage(text, timeout)


def _device(config: TrainConfig) -> object:
    from ...engine import pick_device  # torch is loaded by now; the engine module itself costs ~20 ms

    try:
        return pick_device(config.device)
    except ValueError:
        return config.device


def install_training(window: TrainingHost, runs_root: str | os.PathLike[str] | None = None,
                     train_fn: TrainFn | None = None) -> TrainingController:
    """Add the training panels to `window` and wire them; the window keeps the controller alive."""
    controller = TrainingController(window, Path(runs_root) if runs_root is not None else None, train_fn)
    window.training = controller
    return controller
