"""Live training curves as d2l's animator draws them: loss and accuracies against fractional epochs.

Points arrive a few per epoch; they are appended to numpy buffers and the curves are redrawn by a
single-shot timer at most ~20 times a second, so streaming metrics never costs the training thread
anything and bursts of events cost one redraw. The `PlotDataItem`s for the live run are created once
and fed with `setData`; past runs are drawn underneath, fainter, for comparison.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget

from ...events import BatchProgress, EpochEnd, Finished, RunStarted
from ...metrics import Curves, write_curves_csv

REDRAW_MS = 50  # at most ~20 redraws per second
# d2l's animator: train loss '-', train acc 'm--', test acc 'g-.'
LOSS_PEN = pg.mkPen("#1f77b4", width=2)
TRAIN_ACC_PEN = pg.mkPen("#c040c0", width=2, style=Qt.PenStyle.DashLine)
TEST_ACC_COLOR = "#2ca02c"
TEST_ACC_PEN = pg.mkPen(TEST_ACC_COLOR, width=2, style=Qt.PenStyle.DashDotLine)
OVERLAY_COLORS = ("#7f7f7f", "#ff7f0e", "#8c564b", "#17becf", "#bcbd22", "#d62728", "#9467bd", "#e377c2")


class _Series:
    """A growable pair of float arrays (amortised O(1) append, views for setData)."""

    def __init__(self, capacity: int = 256) -> None:
        self._x = np.empty(capacity)
        self._y = np.empty(capacity)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == len(self._x):
            self._x = np.resize(self._x, 2 * self.n)
            self._y = np.resize(self._y, 2 * self.n)
        self._x[self.n] = x
        self._y[self.n] = y
        self.n += 1

    def clear(self) -> None:
        self.n = 0

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]


class LivePlots(QWidget):
    """Loss plot and accuracy plot side by side, x axes linked, with a hover readout and export."""

    exported = Signal(str)  # the path written, for the status bar

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("livePlots")
        # Not as a keyword: PlotWidget hands unknown keywords to plot(), which would add a stray curve.
        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setObjectName("lossPlot")
        self.accuracy_plot = pg.PlotWidget()
        self.accuracy_plot.setObjectName("accuracyPlot")
        for plot, title, ylabel in ((self.loss_plot, "Training loss", "cross-entropy"),
                                    (self.accuracy_plot, "Accuracy", "accuracy")):
            plot.setBackground("w")
            item = plot.getPlotItem()
            item.setTitle(title, color="#333", size="11pt")
            item.setLabel("bottom", "epoch")
            item.setLabel("left", ylabel)
            item.showGrid(x=True, y=True, alpha=0.25)
            item.setMenuEnabled(True)
            item.addLegend(offset=(-10, 10) if plot is self.loss_plot else (-10, -10),
                           labelTextColor="#333", brush=pg.mkBrush(255, 255, 255, 200))
            for axis in ("left", "bottom"):
                item.getAxis(axis).setTextPen("#333")
                item.getAxis(axis).setPen("#888")
            plot.setMouseEnabled(x=True, y=False)
        self.accuracy_plot.setXLink(self.loss_plot)
        acc_item = self.accuracy_plot.getPlotItem()
        acc_item.setYRange(0.0, 1.0, padding=0.02)
        acc_item.getViewBox().setLimits(yMin=-0.05, yMax=1.05)
        acc_item.enableAutoRange(axis="y", enable=False)
        self.loss_plot.getPlotItem().setLimits(yMin=0)

        # The live run's curves: created once, fed with setData.
        self._loss = _Series()
        self._train_acc = _Series()
        self._test_acc = _Series()
        self.loss_curve = self.loss_plot.plot(name="train loss", pen=LOSS_PEN)
        self.train_acc_curve = self.accuracy_plot.plot(name="train acc", pen=TRAIN_ACC_PEN)
        self.test_acc_curve = self.accuracy_plot.plot(name="test acc", pen=TEST_ACC_PEN, symbol="o",
                                                      symbolSize=6, symbolBrush=TEST_ACC_COLOR, symbolPen=None)
        for curve in (self.loss_curve, self.train_acc_curve, self.test_acc_curve):
            curve.setZValue(10)
        self._overlay_items: list[tuple[pg.PlotWidget, pg.PlotDataItem]] = []
        self._overlays: list[Curves] = []
        self._epochs = 1
        self._label = "current run"
        self._x_extent = 0.0
        self._fit_x()

        self._redraw_timer = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._redraw_timer.timeout.connect(self._redraw)

        # Hover: a vertical line in both plots and the nearest values in words.
        self._cursors = []
        for plot in (self.loss_plot, self.accuracy_plot):
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#999", style=Qt.PenStyle.DotLine))
            line.hide()
            plot.addItem(line, ignoreBounds=True)
            self._cursors.append(line)
            plot.scene().sigMouseMoved.connect(lambda pos, plot=plot: self._hover(plot, pos))

        self.speed_label = QLabel(objectName="speedLabel")
        self.speed_label.setStyleSheet("font-weight: bold;")
        self.hover_label = QLabel(objectName="hoverLabel")
        self.hover_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_png_button = QPushButton("Export PNG…", objectName="exportPngButton")
        self.export_csv_button = QPushButton("Export CSV…", objectName="exportCsvButton")
        self.export_png_button.clicked.connect(lambda: self._ask_and_export("png"))
        self.export_csv_button.clicked.connect(lambda: self._ask_and_export("csv"))

        top = QHBoxLayout()
        top.addWidget(self.speed_label)
        top.addStretch(1)
        top.addWidget(self.hover_label)
        top.addWidget(self.export_png_button)
        top.addWidget(self.export_csv_button)
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.accuracy_plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addLayout(plots, 1)

    # --- the live run ------------------------------------------------------------------------------
    def start_run(self, event: RunStarted, label: str = "current run") -> None:
        """Clear the live curves (past-run overlays stay) and size the x axis to the whole run."""
        self.clear_live()
        self._label = label
        self._epochs = max(1, event.epochs)
        self._fit_x()
        self.speed_label.setText(f"on {event.device}")

    def clear_live(self) -> None:
        for series in (self._loss, self._train_acc, self._test_acc):
            series.clear()
        self.speed_label.clear()
        self._schedule()

    def add_step(self, event: BatchProgress) -> None:
        self._loss.append(event.epoch_float, event.train_loss)
        self._train_acc.append(event.epoch_float, event.train_acc)
        self.speed_label.setText(f"{event.examples_per_sec:,.1f} examples/sec")
        self._schedule()

    def add_epoch(self, event: EpochEnd) -> None:
        self._test_acc.append(float(event.epoch), event.test_acc)
        self._schedule()

    def finish(self, result: Finished | None = None) -> None:
        """Draw what is pending now (the run is over: nothing left to throttle)."""
        self._redraw_timer.stop()
        self._redraw()
        if result is not None and result.examples_per_sec:
            self.speed_label.setText(f"{result.examples_per_sec:,.1f} examples/sec on {result.device}")

    def live_curves(self) -> Curves:
        return Curves(self._label, self._loss.x.copy(), self._loss.y.copy(), self._train_acc.y.copy(),
                      self._test_acc.x.copy(), self._test_acc.y.copy())

    # --- past runs ---------------------------------------------------------------------------------
    def set_overlays(self, runs: Iterable[Curves]) -> None:
        """Draw past runs underneath the live one (fainter, one colour per run); replaces earlier overlays."""
        for plot, item in self._overlay_items:
            plot.removeItem(item)  # also takes it out of the legend
        self._overlay_items = []
        self._overlays = list(runs)
        for i, run in enumerate(self._overlays):
            color = QColor(OVERLAY_COLORS[i % len(OVERLAY_COLORS)])
            color.setAlpha(170)
            specs = ((self.loss_plot, run.step_x, run.train_loss, Qt.PenStyle.SolidLine, f"{run.label}: loss"),
                     (self.accuracy_plot, run.step_x, run.train_acc, Qt.PenStyle.DashLine, None),
                     (self.accuracy_plot, run.epoch_x, run.test_acc, Qt.PenStyle.DashDotLine,
                      f"{run.label}: test acc"))
            for plot, x, y, style, name in specs:
                item = pg.PlotDataItem(x, y, pen=pg.mkPen(color, width=1.5, style=style), name=name)
                item.setZValue(1)
                plot.addItem(item)
                self._overlay_items.append((plot, item))
        self._fit_x()
        self._schedule()

    # --- export ------------------------------------------------------------------------------------
    def export_png(self, path: str | os.PathLike[str], width: int = 1600) -> None:
        """Both plots side by side in one image, via pyqtgraph's ImageExporter."""
        images = []
        for plot in (self.loss_plot, self.accuracy_plot):
            exporter = pyqtgraph.exporters.ImageExporter(plot.getPlotItem())
            exporter.parameters()["width"] = width // 2
            images.append(exporter.export(toBytes=True))
        height = max(img.height() for img in images)
        combined = QImage(sum(img.width() for img in images), height, QImage.Format.Format_ARGB32)
        combined.fill(QColor("white"))
        painter = QPainter(combined)
        x = 0
        for img in images:
            painter.drawImage(x, 0, img)
            x += img.width()
        painter.end()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not combined.save(str(path), "PNG"):
            raise OSError(f"Could not write the image {path}.")

    def export_csv(self, path: str | os.PathLike[str]) -> None:
        write_curves_csv(path, self.live_curves())

    def _ask_and_export(self, kind: str) -> None:
        filters = {"png": "PNG image (*.png)", "csv": "CSV file (*.csv)"}
        path, _ = QFileDialog.getSaveFileName(self, f"Export {kind.upper()}", f"training.{kind}", filters[kind])
        if not path:
            return
        if not path.lower().endswith(f".{kind}"):
            path += f".{kind}"
        try:
            (self.export_png if kind == "png" else self.export_csv)(path)
        except OSError as exc:
            QMessageBox.warning(self, "Export failed", f"Could not write {path}: {exc.strerror or exc}")
            return
        self.exported.emit(path)

    # --- drawing -----------------------------------------------------------------------------------
    def _schedule(self) -> None:
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def _redraw(self) -> None:
        self.loss_curve.setData(self._loss.x, self._loss.y)
        self.train_acc_curve.setData(self._train_acc.x, self._train_acc.y)
        self.test_acc_curve.setData(self._test_acc.x, self._test_acc.y)
        if self._loss.n and self._loss.x[-1] > self._x_extent:  # a run longer than announced
            self._fit_x()

    def _fit_x(self) -> None:
        """Like d2l's animator: the x axis spans the whole run from the start, so curves grow into it."""
        ends = [self._epochs, *(float(c.step_x.max()) for c in self._overlays if len(c.step_x)),
                *(float(c.epoch_x.max()) for c in self._overlays if len(c.epoch_x))]
        if self._loss.n:
            ends.append(float(np.ceil(self._loss.x[-1])))
        extent = max(ends)
        if extent == self._x_extent:
            return
        self._x_extent = extent
        item = self.loss_plot.getPlotItem()
        item.setLimits(xMin=-0.05 * extent, xMax=1.05 * extent)
        item.setXRange(0, extent, padding=0.02)
        item.enableAutoRange(x=False)

    def _hover(self, plot: pg.PlotWidget, pos: QPointF) -> None:
        vb = plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(pos):
            for line in self._cursors:
                line.hide()
            return
        x = vb.mapSceneToView(pos).x()
        parts = []
        for name, series in (("train loss", self._loss), ("train acc", self._train_acc),
                             ("test acc", self._test_acc)):
            if series.n:
                i = int(np.argmin(np.abs(series.x - x)))
                parts.append((series.x[i], f"{name} {series.y[i]:.3f}"))
        if not parts:
            self.hover_label.setText(f"epoch {x:.2f}")
            return
        snap = min(parts, key=lambda p: abs(p[0] - x))[0]
        for line in self._cursors:
            line.setPos(snap)
            line.show()
        self.hover_label.setText(f"epoch {snap:.2f}: " + " · ".join(text for _, text in parts))
