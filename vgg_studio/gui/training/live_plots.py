"""Live training curves as d2l's animator draws them (loss and accuracies against fractional epochs), and
past runs beside them the way TensorBoard shows runs: one colour per run, train and test as line styles.

Each point is the mean over the batches since the previous one (the engine's interval means), so the loss
does not step down at epoch boundaries. Points are appended to numpy buffers and the curves are redrawn by a
single-shot timer at most ~20 times a second, so streaming metrics never costs the training thread anything
and bursts of events cost one redraw. A smoothing slider applies TensorBoard's debiased exponential moving
average to the training curves. The legend lives outside the plots, lists exactly the curves drawn, and
while the mouse is over a plot shows every run's values at the cursor's epoch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem,
                               QMessageBox, QPushButton, QSlider, QVBoxLayout, QWidget)

from ...events import BatchProgress, EpochEnd, Finished, RunStarted
from ...metrics import Curves, smooth_ema, write_curves_csv
from ..widgets import render_png

REDRAW_MS = 50  # at most ~20 redraws per second
RUN_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
TRAIN_STYLE = Qt.PenStyle.SolidLine  # train loss and train accuracy
TEST_STYLE = Qt.PenStyle.DashLine  # test accuracy (with a marker at each epoch)
CURVE_NAMES = {"loss": "train loss", "train_acc": "train acc", "test_acc": "test acc"}
MIN_PLOT_HEIGHT = 150


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


def _pen(color: QColor | str, style: Qt.PenStyle, width: float = 2.0) -> QPen:
    return pg.mkPen(QColor(color), width=width, style=style)


def _line_icon(color: QColor | str, style: Qt.PenStyle, marker: bool) -> QIcon:
    """A short line in the curve's colour and style (and its marker), for the legend."""
    pixmap = QPixmap(28, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(_pen(color, style))
    painter.drawLine(1, 6, 27, 6)
    if marker:
        painter.setBrush(QColor(color))
        painter.drawEllipse(QPointF(14, 6), 3, 3)
    painter.end()
    return QIcon(pixmap)


@dataclass
class _Drawn:
    """One run as drawn: its label, colour and plot items (loss, train acc, test acc)."""

    label: str
    color: QColor
    items: dict[str, pg.PlotDataItem]


class LivePlots(QWidget):
    """Loss plot and accuracy plot side by side (x axes linked), a legend beside them, smoothing, export."""

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
            plot.setMinimumHeight(MIN_PLOT_HEIGHT)
            plot.setMinimumWidth(160)
            item = plot.getPlotItem()
            item.setTitle(title, color="#333", size="10pt")
            item.setLabel("bottom", "epoch")
            item.setLabel("left", ylabel)
            item.showGrid(x=True, y=True, alpha=0.25)
            item.setMenuEnabled(True)
            for axis in ("left", "bottom"):
                item.getAxis(axis).setTextPen("#333")
                item.getAxis(axis).setPen("#888")
            plot.setMouseEnabled(x=True, y=False)
        self.accuracy_plot.setXLink(self.loss_plot)
        acc_item = self.accuracy_plot.getPlotItem()
        acc_item.setYRange(0.0, 1.0, padding=0.04)  # room for a marker at 1.0
        acc_item.getViewBox().setLimits(yMin=-0.05, yMax=1.05)
        acc_item.enableAutoRange(axis="y", enable=False)
        self.loss_plot.getPlotItem().setLimits(yMin=0)

        # The live run: buffers fed by the engine's events, curves created once and fed with setData.
        self._loss = _Series()
        self._train_acc = _Series()
        self._test_acc = _Series()
        self._label = "current run"
        self._live = self._draw_run(self._label, QColor(RUN_COLORS[0]), z=10)
        self.loss_curve = self._live.items["loss"]
        self.train_acc_curve = self._live.items["train_acc"]
        self.test_acc_curve = self._live.items["test_acc"]
        self._overlays: list[tuple[Curves, _Drawn]] = []
        self._epochs = 1
        self._x_extent = 0.0
        self._smoothing = 0.0

        self._redraw_timer = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._redraw_timer.timeout.connect(self._redraw)

        # Hover: a vertical line in both plots; the legend shows every run's values at that epoch.
        self._cursors = []
        for plot in (self.loss_plot, self.accuracy_plot):
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#999", style=Qt.PenStyle.DotLine))
            line.hide()
            plot.addItem(line, ignoreBounds=True)
            self._cursors.append(line)
            plot.scene().sigMouseMoved.connect(lambda pos, plot=plot: self._hover(plot, pos))
        self._hover_x: float | None = None

        self.legend = QListWidget(objectName="curveLegend")
        self.legend.setFlow(QListView.Flow.LeftToRight)
        self.legend.setWrapping(True)
        self.legend.setResizeMode(QListView.ResizeMode.Adjust)
        self.legend.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.legend.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.legend.setIconSize(QSize(28, 12))
        self.legend.setSpacing(1)
        self.legend.setFrameShape(QListWidget.Shape.NoFrame)
        self.legend.setToolTip("The curves drawn; hover over a plot to read every run's values at that epoch.")

        self.speed_label = QLabel(objectName="speedLabel")
        self.speed_label.setStyleSheet("font-weight: bold;")
        self.hover_label = QLabel(objectName="hoverLabel")
        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal, objectName="smoothingSlider")
        self.smoothing_slider.setRange(0, 95)
        self.smoothing_slider.setMaximumWidth(120)
        self.smoothing_slider.setToolTip("Smoothing of the training curves (TensorBoard's exponential moving "
                                         "average); 0 shows the points as measured.")
        self.smoothing_slider.valueChanged.connect(self._set_smoothing)
        self.smoothing_label = QLabel("Smoothing 0.00", objectName="smoothingLabel")
        self.export_png_button = QPushButton("Export PNG…", objectName="exportPngButton")
        self.export_csv_button = QPushButton("Export CSV…", objectName="exportCsvButton")
        self.export_png_button.clicked.connect(lambda: self._ask_and_export("png"))
        self.export_csv_button.clicked.connect(lambda: self._ask_and_export("csv"))

        top = QHBoxLayout()
        top.addWidget(self.speed_label)
        top.addWidget(self.hover_label, 1)
        top.addWidget(self.smoothing_label)
        top.addWidget(self.smoothing_slider)
        top.addWidget(self.export_png_button)
        top.addWidget(self.export_csv_button)
        self.canvas = QWidget(objectName="curvesCanvas")  # what Export PNG renders: plots and legend
        canvas_layout = QVBoxLayout(self.canvas)
        canvas_layout.setContentsMargins(0, 0, 0, 0)
        canvas_layout.setSpacing(2)
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.accuracy_plot)
        canvas_layout.addLayout(plots, 1)
        canvas_layout.addWidget(self.legend)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.canvas, 1)
        self._fit_x()
        self._update_legend()

    # --- the live run ------------------------------------------------------------------------------
    def start_run(self, event: RunStarted, label: str = "current run") -> None:
        """Clear the live curves (past-run overlays stay) and size the x axis to the whole run."""
        self.clear_live()
        self._label = self._live.label = label
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
        """Draw past runs beside the live one, each in its own colour; replaces earlier overlays."""
        for _curves, drawn in self._overlays:
            for key, item in drawn.items.items():
                (self.loss_plot if key == "loss" else self.accuracy_plot).removeItem(item)
        self._overlays = []
        for i, run in enumerate(runs, 1):
            drawn = self._draw_run(run.label, QColor(RUN_COLORS[i % len(RUN_COLORS)]), z=1)
            self._overlays.append((run, drawn))
        self._fit_x()
        self._redraw()

    def drawn_curves(self) -> list[str]:
        """'label: curve' for every curve with points on the plots, in legend order (what the legend lists)."""
        return [f"{drawn.label}: {CURVE_NAMES[key]}" for drawn, key in self._visible()]

    # --- export ------------------------------------------------------------------------------------
    def export_png(self, path: str | os.PathLike[str], width: int = 1600) -> None:
        """Both plots and the legend as one image `width` pixels wide, rendered at that scale; raises OSError."""
        render_png(self.canvas, Path(path), width)

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
    def _draw_run(self, label: str, color: QColor, z: int) -> _Drawn:
        items = {
            "loss": pg.PlotDataItem(pen=_pen(color, TRAIN_STYLE)),
            "train_acc": pg.PlotDataItem(pen=_pen(color, TRAIN_STYLE)),
            "test_acc": pg.PlotDataItem(pen=_pen(color, TEST_STYLE), symbol="o", symbolSize=6,
                                        symbolBrush=color, symbolPen=None),
        }
        for key, item in items.items():
            item.setZValue(z)
            (self.loss_plot if key == "loss" else self.accuracy_plot).addItem(item)
        return _Drawn(label, color, items)

    def _schedule(self) -> None:
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def _set_smoothing(self, value: int) -> None:
        self._smoothing = value / 100
        self.smoothing_label.setText(f"Smoothing {self._smoothing:.2f}")
        self._redraw()

    def _runs(self) -> list[tuple[_Drawn, dict[str, tuple[np.ndarray, np.ndarray]]]]:
        """Every run with its data as drawn: (drawn, {curve: (x, y)}), the live run first."""
        live = {"loss": (self._loss.x, self._loss.y), "train_acc": (self._train_acc.x, self._train_acc.y),
                "test_acc": (self._test_acc.x, self._test_acc.y)}
        runs = [(self._live, live)]
        for curves, drawn in self._overlays:
            runs.append((drawn, {"loss": (curves.step_x, curves.train_loss),
                                 "train_acc": (curves.step_x, curves.train_acc),
                                 "test_acc": (curves.epoch_x, curves.test_acc)}))
        return runs

    def _visible(self) -> list[tuple[_Drawn, str]]:
        return [(drawn, key) for drawn, data in self._runs() for key, (x, _y) in data.items() if len(x)]

    def _redraw(self) -> None:
        for drawn, data in self._runs():
            for key, (x, y) in data.items():
                shown = smooth_ema(y, self._smoothing) if key != "test_acc" else y
                drawn.items[key].setData(x, shown)
        if self._loss.n and self._loss.x[-1] > self._x_extent:  # a run longer than announced
            self._fit_x()
        self._update_legend()

    def _update_legend(self) -> None:
        visible = self._visible()
        values = self._values_at(self._hover_x) if self._hover_x is not None else {}
        texts = []
        for drawn, key in visible:
            text = f"{drawn.label}: {CURVE_NAMES[key]}"
            if (drawn.label, key) in values:
                text += f" {values[drawn.label, key]:.3f}"
            texts.append((drawn, key, text))
        if [self.legend.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.legend.count())] != \
                [(d.label, k) for d, k, _ in texts]:
            self.legend.clear()
            for drawn, key, text in texts:
                item = QListWidgetItem(_line_icon(drawn.color, TEST_STYLE if key == "test_acc" else TRAIN_STYLE,
                                                  key == "test_acc"), text)
                item.setData(Qt.ItemDataRole.UserRole, (drawn.label, key))
                self.legend.addItem(item)
        else:
            for i, (_drawn, _key, text) in enumerate(texts):
                self.legend.item(i).setText(text)
        # As many lines as the entries need at this width (one to three), never more: the plots keep the room.
        row = self.legend.sizeHintForRow(0) if self.legend.count() else self.fontMetrics().height()
        widths = sum(self.legend.sizeHintForIndex(self.legend.model().index(i, 0)).width() + 2
                     for i in range(self.legend.count()))
        lines = max(1, min(3, -(-widths // max(self.legend.viewport().width(), 200))))
        self.legend.setFixedHeight(lines * (row + 2) + 2 * self.legend.frameWidth() + 2)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_legend()  # the entries may wrap onto more or fewer lines

    def _values_at(self, x: float) -> dict[tuple[str, str], float]:
        """Each visible curve's value at the point nearest epoch `x` (as drawn, smoothing included)."""
        values = {}
        for drawn, data in self._runs():
            for key, (xs, _y) in data.items():
                if len(xs):
                    shown = drawn.items[key].getData()[1]
                    i = int(np.argmin(np.abs(xs - x)))
                    # A run that ended before the cursor (or starts after it) has no value there.
                    if shown is not None and i < len(shown) and abs(xs[i] - x) <= 0.5:
                        values[drawn.label, key] = float(shown[i])
        return values

    def _fit_x(self) -> None:
        """Like d2l's animator: the x axis spans the whole run from the start, so curves grow into it; a tick
        at every epoch (when there are at most 20), the last one included, and room for its marker."""
        ends = [self._epochs, *(float(c.step_x.max()) for c, _ in self._overlays if len(c.step_x)),
                *(float(c.epoch_x.max()) for c, _ in self._overlays if len(c.epoch_x))]
        if self._loss.n:
            ends.append(float(np.ceil(self._loss.x[-1])))
        extent = max(ends)
        if extent == self._x_extent:
            return
        self._x_extent = extent
        item = self.loss_plot.getPlotItem()
        item.setLimits(xMin=-0.05 * extent, xMax=1.05 * extent)
        item.setXRange(0, extent, padding=0.03)
        item.enableAutoRange(x=False)
        ticks = [[(float(e), str(e)) for e in range(int(extent) + 1)]] if extent <= 20 else None
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.getPlotItem().getAxis("bottom").setTicks(ticks)

    def _hover(self, plot: pg.PlotWidget, pos: QPointF) -> None:
        vb = plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(pos):
            for line in self._cursors:
                line.hide()
            self._hover_x = None
            self.hover_label.clear()
            self._update_legend()
            return
        x = vb.mapSceneToView(pos).x()
        points = [xs[int(np.argmin(np.abs(xs - x)))] for _drawn, data in self._runs()
                  for xs, _y in data.values() if len(xs)]
        if not points:
            self.hover_label.setText(f"epoch {x:.2f}")
            return
        snap = float(min(points, key=lambda p: abs(p - x)))
        for line in self._cursors:
            line.setPos(snap)
            line.show()
        self._hover_x = snap
        self.hover_label.setText(f"epoch {snap:.2f}")
        self._update_legend()

    def hover_text(self) -> str:
        """The read-out as words: the epoch, then each curve's value there (for tests and accessibility)."""
        return " · ".join([self.hover_label.text()] + [self.legend.item(i).text() for i in range(self.legend.count())])


