"""Measure the current architecture without training: speeds, memory against the prediction, time per block.

The measurement is `measure.measure` in a background thread (never on the GUI thread) with progress and
Stop; the result is stored in the measurements file by the core, so the efficiency chart can show the
variant before it is trained. The host gives the architecture and the training settings (device, batch
size, optimizer, amp) through two callables, so there is one source of truth for each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from ...spec import ArchSpec, errors
from ...train_config import TrainConfig
from ...units import nbytes
from ..background import BackgroundTask

if TYPE_CHECKING:
    from ...measure import Measurement

TIME_COLOR, FLOP_COLOR = "#0072B2", "#E69F00"


class MeasureView(QWidget):
    measured = Signal(object)  # the new Measurement

    def __init__(self, spec: Callable[[], ArchSpec], config: Callable[[], TrainConfig],
                 parent: QWidget | None = None, measure_fn=None, busy: Callable[[], str] = lambda: "") -> None:
        super().__init__(parent)
        self.setObjectName("measureView")
        self._spec, self._config = spec, config
        self._measure_fn = measure_fn  # a test double, else measure.measure (imported in the worker)
        self._busy = busy  # why not now (a run would compete for the device), "" when free
        self.task: BackgroundTask | None = None
        self.result: Measurement | None = None

        self.button = QPushButton("Measure")
        self.button.setObjectName("measureButton")
        self.button.setToolTip("Time training and inference on synthetic data and measure the peak memory of a "
                               "training step, with this architecture and the training settings (device, batch "
                               "size, optimizer). No training; a few seconds.")
        self.button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopMeasureButton")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.progress = QProgressBar()
        self.progress.setObjectName("measureProgress")
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        top = QHBoxLayout()
        top.addWidget(self.button)
        top.addWidget(self.stop_button)
        top.addWidget(self.progress, 1)

        self.text = QLabel("Measure the architecture to see its real speed and memory on this machine.")
        self.text.setObjectName("measureText")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        palette = QApplication.palette()
        color = palette.color(QPalette.ColorRole.Text)
        self.chart = pg.PlotWidget(background=palette.color(QPalette.ColorRole.Base))
        self.chart.setObjectName("blockTimeChart")
        self.chart.setMinimumHeight(150)
        item = self.chart.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=False, y=False)
        item.showGrid(y=True, alpha=0.25)
        item.setTitle("Where the time goes vs where the FLOPs are (forward + backward)", color=color.name())
        for name in ("bottom", "left"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(color))
            axis.setTextPen(pg.mkPen(color))
        item.getAxis("left").setLabel("% of the step", color=color.name())
        self.time_bars = pg.BarGraphItem(x=[], height=[], width=0.38, brush=TIME_COLOR, pen=pg.mkPen(None))
        self.flop_bars = pg.BarGraphItem(x=[], height=[], width=0.38, brush=FLOP_COLOR, pen=pg.mkPen(None))
        item.addItem(self.time_bars)
        item.addItem(self.flop_bars)
        legend = item.addLegend(offset=(-10, 10), labelTextColor=color)
        legend.addItem(self.time_bars, "measured time")
        legend.addItem(self.flop_bars, "FLOPs")

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.text)
        layout.addWidget(self.chart, 1)

    # ---- running ----------------------------------------------------------------------------------

    def start(self) -> None:
        if self.task is not None:
            return
        spec, config = self._spec(), self._config()
        problems = errors(spec)
        reason = f"Cannot measure: {problems[0].message}" if problems else self._busy()
        if reason:
            self.text.setText(reason)
            return
        measure_fn = self._measure_fn

        def work(report, cancel: threading.Event):
            from ...measure import MeasureCancelled, measure  # imported in the worker, off the GUI thread

            fn = measure_fn or measure
            try:
                return fn(spec, config, on_progress=lambda f, t: report((f, t)), cancel=cancel)
            except MeasureCancelled:
                return None

        self.task = BackgroundTask(work, self)
        self.task.reported.connect(self._on_progress)
        self.task.finished.connect(self._on_finished)
        self.task.failed.connect(self._on_failed)
        self.task.ended.connect(self._on_ended)
        self.button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.progress.setValue(0)
        self.progress.setFormat(f"measuring {spec.name} at batch {config.batch_size}…")
        self.task.start()

    def stop(self) -> None:
        if self.task is not None:
            self.task.stop()
            self.progress.setFormat("stopping…")

    def shutdown(self) -> None:
        if self.task is not None:
            self.task.shutdown()
            self.task = None

    def is_running(self) -> bool:
        return self.task is not None

    def _on_progress(self, item) -> None:
        fraction, text = item
        self.progress.setValue(int(100 * fraction))
        self.progress.setFormat(f"{text}… %p%")

    def _on_finished(self, m: Measurement | None) -> None:
        if m is None:
            self.progress.setFormat("stopped")
            self.text.setText("Measurement stopped; nothing was stored.")
            return
        self.progress.setValue(100)
        self.progress.setFormat("done")
        self.show_measurement(m)
        self.measured.emit(m)

    def _on_failed(self, message: str) -> None:
        self.progress.setFormat("failed")
        self.text.setText(f"Could not measure: {message}")

    def _on_ended(self) -> None:
        if self.task is not None:
            self.task.deleteLater()
        self.task = None
        self.button.setEnabled(True)
        self.stop_button.setEnabled(False)

    # ---- showing ----------------------------------------------------------------------------------

    def show_measurement(self, m: Measurement) -> None:
        self.result = m
        ratio = m.peak_memory_bytes / m.predicted_memory_bytes if m.predicted_memory_bytes else float("nan")
        parts = ", ".join(f"{k.replace('_', ' ')} {nbytes(v)}" for k, v in m.memory_parts.items())
        self.text.setText(
            f"<b>{m.arch_name}</b> on {m.device} ({m.device_name}), batch {m.batch_size}, {m.dtype}, {m.optimizer}"
            f"<br>Training <b>{m.train_examples_per_sec:,.1f}</b> examples/sec · inference "
            f"<b>{m.inference_examples_per_sec:,.1f}</b> examples/sec "
            f"({m.inference_examples_per_sec / m.train_examples_per_sec:.1f}× training)"
            f"<br>Peak memory of a training step: <b>{nbytes(m.peak_memory_bytes)}</b> measured vs "
            f"{nbytes(m.predicted_memory_bytes)} predicted ({ratio:.2f}×)"
            + (f"<br><small>{parts}</small>" if parts else "")
            + f"<br><small>Measured as {m.memory_method}.</small>")
        names = [b.name.replace("block", "b") for b in m.blocks]
        x = np.arange(len(m.blocks), dtype=float)
        self.time_bars.setOpts(x=x - 0.2, height=[100 * b.time_share for b in m.blocks])
        self.flop_bars.setOpts(x=x + 0.2, height=[100 * b.flop_share for b in m.blocks])
        self.chart.getPlotItem().getAxis("bottom").setTicks([list(zip(x, names))])
        self.chart.getPlotItem().enableAutoRange()
