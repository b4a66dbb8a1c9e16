"""Wires measuring, sweeping and the efficiency chart into the window, beside the training panels.

`install_efficiency(window)` adds three panels: Sweep (right, a tab beside Training), Measure and
Efficiency (bottom, tabs beside the curves and runs). They take the architecture from the document and
the settings from the training panel (one source of truth for each). A sweep's variants show in the
training curves, progress bar and Runs list like a run started with Start; Stop in either panel stops it.
The chart's points are read by the core (`efficiency.collect`) in a background thread whenever the Runs
list is re-read or a measurement is stored, so the GUI thread never waits for the disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, Qt

from ...efficiency import collect
from ...sweep import SweepDone
from ..background import BackgroundTask
from ..training.controller import TrainingController, TrainingHost
from .chart import EfficiencyChart
from .measure_view import MeasureView
from .sweep_panel import SweepPanel


class EfficiencyHost(TrainingHost, Protocol):
    training: TrainingController


class EfficiencyController(QObject):
    def __init__(self, window: EfficiencyHost) -> None:
        super().__init__(window)
        self.window = window
        self.training = training = window.training
        self.document = window.document
        self._refresh: BackgroundTask | None = None
        self._refresh_again = False
        self._show_sweep = ""  # a sweep to show once the chart has its runs

        def spec():
            return training.panel.apply_resize(self.document.spec)

        self.sweep = SweepPanel(spec, training.panel.config, lambda: training.runs_root,
                                train_fn=training.train_fn, busy=self._busy)
        self.measure = MeasureView(spec, training.panel.config, busy=self._busy)
        self.chart = EfficiencyChart()
        self.sweep_dock = window.add_panel("Sweep", self.sweep, Qt.DockWidgetArea.RightDockWidgetArea,
                                           object_name="sweepDock")
        self.measure_dock = window.add_panel("Measure", self.measure, Qt.DockWidgetArea.BottomDockWidgetArea,
                                             object_name="measureDock")
        self.chart_dock = window.add_panel("Efficiency", self.chart, Qt.DockWidgetArea.BottomDockWidgetArea,
                                           object_name="efficiencyDock")
        training.panel_dock.raise_()
        window.charts_dock.raise_()  # the architecture first; training raises its curves on Start

        self.document.specChanged.connect(lambda _spec: self.sweep.refresh_knobs())
        self.sweep.runningChanged.connect(self._sweep_running)
        self.sweep.engineEvent.connect(training.show_run_event)
        self.sweep.sweepDone.connect(self._sweep_done)
        training.panel.stopRequested.connect(self.sweep.stop)
        self.measure.measured.connect(lambda _m: self.refresh())
        self.chart.runClicked.connect(self._select_run)
        training.history.selectionChanged.connect(lambda paths: self.chart.set_selected(map(str, paths)))
        training.history.model.modelReset.connect(self.refresh)  # the Runs list was re-read
        window.close_hooks.append(self.shutdown)
        self.refresh()

    def _busy(self) -> str:
        if self.training.job is not None:
            return "Training is running; stop it first (it would compete with this for the device)."
        if self.sweep.is_running():
            return "A sweep is running; stop it first (it would compete with this for the device)."
        if self.measure.is_running():
            return "A measurement is running; wait for it or stop it first."
        return ""

    # --- the sweep in the training panels ----------------------------------------------------------
    def _sweep_running(self, running: bool) -> None:
        panel, plots = self.training.panel, self.training.plots
        if running:
            plots.clear_live()
            plots.set_overlays([])
            self.training.results.clear("Results appear after the first epoch.")
            panel.set_running(True)
            self.training.plots_dock.raise_()
        elif self.sweep.done is None:  # it could not run at all
            panel.set_running(False)

    def _sweep_done(self, done: SweepDone | None) -> None:
        panel = self.training.panel
        if done is not None and done.results:
            panel.show_result(done.results[-1].result)
        else:
            panel.set_running(False)
        if done is not None:
            panel.status.setText(self.sweep.status.text() or panel.status.text())
            self._show_sweep = Path(done.sweep_dir).name
            self.chart_dock.raise_()
        self.training.history.refresh()

    # --- the chart -----------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read every run's numbers (and the stored measurements) off the GUI thread, then redraw."""
        if self._refresh is not None:
            self._refresh_again = True
            return
        root = self.training.runs_root
        self._refresh = BackgroundTask(lambda report, cancel: collect(root, include_measured=True), self)
        self._refresh.finished.connect(self._refreshed)
        self._refresh.failed.connect(lambda message: self.window.statusBar().showMessage(
            f"Could not read the runs for the efficiency chart: {message}", 10000))
        self._refresh.ended.connect(self._refresh_ended)
        self._refresh.start()

    def _refreshed(self, points) -> None:
        self.chart.set_points(points)
        if self._show_sweep and self.chart.show_sweep(self._show_sweep):
            self._show_sweep = ""

    def _refresh_ended(self) -> None:
        task, self._refresh = self._refresh, None
        if task is not None:
            task.deleteLater()
        if self._refresh_again:
            self._refresh_again = False
            self.refresh()

    def _select_run(self, path: str) -> None:
        if path:
            self.training.history.select([Path(path)])
            self.training.history_dock.raise_()

    def shutdown(self) -> None:
        """The window is closing: stop the sweep and the measurement and wait for their threads."""
        for worker in (self.sweep, self.measure):
            worker.shutdown()
        if self._refresh is not None:
            self._refresh.shutdown()


def install_efficiency(window: EfficiencyHost) -> EfficiencyController:
    controller = EfficiencyController(window)
    window.efficiency = controller
    return controller
