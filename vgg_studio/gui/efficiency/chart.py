"""The chapter's closing chart for the user's own runs: test accuracy against speed, bubble area for size.

One bubble per run of one dataset (all runs, the runs selected in the Runs list, or one sweep), coloured by
sweep, with the Pareto front (runs no other run beats on both axes) as a step line and listed beside the
plot. Hover reads a run out; a click selects it in the Runs list. The numbers come from the Qt-free
`efficiency` module, which `vgg-studio runs` uses too; `render_png` draws the same chart without a window
(for `vgg-studio runs --chart`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QPushButton, QSplitter, QVBoxLayout, QWidget)

from ...efficiency import SIZES, X_AXES, Point, pareto_front, plottable, to_csv
from ...units import nbytes, si

# Okabe-Ito: tells sweeps apart without red/green discrimination; runs outside a sweep are grey.
SWEEP_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
LONE_COLOR = "#7f7f7f"
MAX_DIAMETER, MIN_DIAMETER = 56.0, 7.0  # pixels; bubble area is proportional to the size value
LABEL_LIMIT = 24  # bubbles get a text label when at most this many are drawn


def _fmt_size(by: str, value: float) -> str:
    return nbytes(value) if by == "memory" else _plain_number(value)


def _nice_values(vmax: float) -> list[float]:
    """Three round reference sizes for the legend: the largest 1-2-5 value not above vmax, /10, /100."""
    if vmax <= 0:
        return []
    exp = math.floor(math.log10(vmax))
    top = max(m * 10**exp for m in (1, 2, 5) if m * 10**exp <= vmax)
    return [top, top / 10, top / 100]


class _SizeSample(pg.graphicsItems.LegendItem.ItemSample):
    """A legend entry drawing one reference bubble at its real size."""

    def __init__(self, diameter: float, color: QColor) -> None:
        super().__init__(pg.ScatterPlotItem())
        self.diameter, self.color = diameter, color
        side = max(20.0, diameter + 2)
        self.setFixedWidth(side)
        self.setFixedHeight(side)

    def boundingRect(self) -> QRectF:
        side = max(20.0, self.diameter + 2)
        return QRectF(0, 0, side, side)

    def paint(self, p, *args) -> None:
        side = max(20.0, self.diameter + 2)
        p.setRenderHint(p.RenderHint.Antialiasing)
        p.setPen(pg.mkPen(self.color))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawEllipse(QRectF((side - self.diameter) / 2, (side - self.diameter) / 2, self.diameter, self.diameter))


def _plain_number(v: float) -> str:
    """Tick text on the log axis: 20, 300, 5 k, 1.50 M rather than pyqtgraph's 2·10¹."""
    if v >= 1e3:
        return si(v).replace(".00 ", " ")
    return f"{v:.3g}" if v < 1 else f"{v:,.0f}"


class _LogAxis(pg.AxisItem):
    def logTickStrings(self, values, scale, spacing):
        return [_plain_number(10 ** float(v)) for v in values]


class EfficiencyChart(QWidget):
    """The chart, its choices (x axis, bubble size, which runs, dataset) and the Pareto list; data in, clicks out."""

    runClicked = Signal(str)  # the clicked run's folder

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("efficiencyChart")
        self.points: list[Point] = []  # everything known; the filters pick what is drawn
        self.selected_paths: set[str] = set()
        self.drawn: list[Point] = []  # bubbles, in the scatter's spot order
        self.hollow: list[Point] = []  # measured-only markers on the x axis
        self.front: list[Point] = []
        self.hovered: Point | None = None

        self.x_axis = self._combo("efficiencyX", [(a.title.capitalize(), k) for k, a in X_AXES.items()])
        self.size_by = self._combo("efficiencySize", [(f"Area: {v}", k) for k, v in SIZES.items()])
        self.scope = self._combo("efficiencyScope", [("All runs", "all"), ("Selected runs", "selected")])
        self.dataset = self._combo("efficiencyDataset", [])
        self.show_measured = QCheckBox("Measured, untrained")
        self.show_measured.setObjectName("efficiencyMeasured")
        self.show_measured.setToolTip("Also show measured but untrained variants (Measure) as hollow markers on "
                                      "the x axis: they have a speed but no accuracy yet.")
        self.show_measured.toggled.connect(self.redraw)
        export_png = QPushButton("PNG…")
        export_png.setObjectName("exportEfficiencyPng")
        export_png.setToolTip("Save the chart as a PNG image")
        export_png.clicked.connect(self._ask_png)
        export_csv = QPushButton("CSV…")
        export_csv.setObjectName("exportEfficiencyCsv")
        export_csv.setToolTip("Save the drawn runs' numbers as CSV (Pareto front marked)")
        export_csv.clicked.connect(self._ask_csv)

        # Two short rows rather than one long one: the chart's controls must not set the window's minimum width.
        choices = QHBoxLayout()
        for w in (self.x_axis, self.size_by, self.scope, self.dataset):
            choices.addWidget(w)
        choices.addStretch(1)
        actions = QHBoxLayout()
        actions.addWidget(self.show_measured)
        actions.addStretch(1)
        actions.addWidget(export_png)
        actions.addWidget(export_csv)
        controls = QVBoxLayout()
        controls.setSpacing(2)
        controls.addLayout(choices)
        controls.addLayout(actions)

        palette = QApplication.palette()
        self.text_color = palette.color(QPalette.ColorRole.Text)
        self.plot = pg.PlotWidget(background=palette.color(QPalette.ColorRole.Base),
                                  axisItems={"bottom": _LogAxis("bottom")})
        self.plot.setObjectName("efficiencyPlot")
        self.plot.setMinimumHeight(150)
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.showGrid(x=True, y=True, alpha=0.2)
        item.getViewBox().setDefaultPadding(0.08)  # room for the bubbles' labels
        for name in ("bottom", "left"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(self.text_color))
            axis.setTextPen(pg.mkPen(self.text_color))
            axis.enableAutoSIPrefix(False)
        item.setLabel("left", "best test accuracy", color=self.text_color.name())
        self.scatter = pg.ScatterPlotItem(hoverable=True, tip=self._tip, pxMode=True)
        self.scatter.sigClicked.connect(self._clicked)
        self.scatter.sigHovered.connect(self._hover)
        self.hollow_item = pg.ScatterPlotItem(pxMode=True, symbol="o", size=11, brush=pg.mkBrush(None))
        self.front_line = pg.PlotDataItem(pen=pg.mkPen(self.text_color, width=2, style=Qt.PenStyle.DashLine))
        item.addItem(self.front_line)
        item.addItem(self.scatter)
        item.addItem(self.hollow_item)
        self.labels: list[pg.TextItem] = []
        # One legend (colours, the front, then the size key) in a column right of the plot, never over data.
        self.legend = pg.LegendItem(labelTextColor=self.text_color)
        item.layout.addItem(self.legend, 2, 3)
        item.layout.setColumnAlignment(3, Qt.AlignmentFlag.AlignTop)

        self.front_list = QListWidget()
        self.front_list.setObjectName("paretoList")
        self.front_list.setWordWrap(True)
        self.front_list.setToolTip("The Pareto front: no other run is better on both axes. Click to select.")
        self.front_list.itemClicked.connect(lambda it: self.runClicked.emit(it.data(Qt.ItemDataRole.UserRole)))
        self.readout = QLabel("Hover a bubble for its numbers; click it to select the run.")
        self.readout.setObjectName("efficiencyReadout")
        self.readout.setWordWrap(True)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        side = QWidget()
        side.setMinimumWidth(220)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        self.front_title = QLabel("Pareto front")
        side_layout.addWidget(self.front_title)
        side_layout.addWidget(self.front_list, 1)
        side_layout.addWidget(self.readout)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.plot)
        split.addWidget(side)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(split, 1)

    def _combo(self, name: str, entries: list[tuple[str, str]]) -> QComboBox:
        box = QComboBox()
        box.setObjectName(name)
        # Narrow enough that the chart's row of controls never sets the window's minimum width (a laptop's
        # 1024 px); the open list still shows whole entries.
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(7)
        for text, key in entries:
            box.addItem(text, key)
        box.currentIndexChanged.connect(self.redraw)
        return box

    # ---- data in -----------------------------------------------------------------------------------

    def set_points(self, points: Iterable[Point]) -> None:
        """Everything the chart may show (runs of every dataset, sweeps, measured-only variants)."""
        self.points = list(points)
        self._refill(self.dataset, [(d, d) for d in dict.fromkeys(p.dataset for p in self.points if p.dataset)])
        sweeps = dict.fromkeys(p.sweep for p in self.points if p.sweep)
        self._refill(self.scope, [("All runs", "all"), ("Selected runs", "selected"),
                                  *((f"Sweep {s}", f"sweep:{s}") for s in sweeps)])
        self.redraw()

    def set_selected(self, paths: Iterable[str]) -> None:
        self.selected_paths = {str(p) for p in paths}
        if self.scope.currentData() == "selected":
            self.redraw()

    def show_sweep(self, sweep_id: str) -> bool:
        """Show one sweep (e.g. the one that just ran); False while its runs are not among the points."""
        index = self.scope.findData(f"sweep:{sweep_id}")
        if index >= 0:
            self.scope.setCurrentIndex(index)
        return index >= 0

    def _refill(self, box: QComboBox, entries: list[tuple[str, str]]) -> None:
        keep = box.currentData()
        box.blockSignals(True)
        box.clear()
        for text, key in entries:
            box.addItem(text, key)
        index = box.findData(keep)
        box.setCurrentIndex(index if index >= 0 else 0)
        box.blockSignals(False)

    def visible_points(self) -> list[Point]:
        """The runs the current choices select (of one dataset), measured-only variants if asked."""
        scope, dataset = self.scope.currentData(), self.dataset.currentData()
        out = []
        for p in self.points:
            if p.measured_only:
                if self.show_measured.isChecked() and scope == "all":
                    out.append(p)
                continue
            if dataset and p.dataset != dataset:
                continue
            if scope == "selected" and p.path not in self.selected_paths:
                continue
            if scope and scope.startswith("sweep:") and p.sweep != scope[6:]:
                continue
            out.append(p)
        return out

    # ---- drawing -----------------------------------------------------------------------------------

    def redraw(self) -> None:
        x, by = self.x_axis.currentData() or "train", self.size_by.currentData() or "params"
        points = self.visible_points()
        self.drawn = plottable(points, x)
        self.hollow = [p for p in points if p.test_acc is None and (p.x(x) or 0) > 0]
        self.front = pareto_front(self.drawn, x)
        item = self.plot.getPlotItem()
        item.setLogMode(x=True, y=False)
        item.setLabel("bottom", X_AXES[x].title, color=self.text_color.name())
        for label in self.labels:
            item.removeItem(label)
        self.labels = []
        self.legend.clear()

        sweeps = list(dict.fromkeys(p.sweep for p in self.drawn))
        colors = {s: QColor(SWEEP_COLORS[i % len(SWEEP_COLORS)] if s else LONE_COLOR) for i, s in enumerate(
            [s for s in sweeps if s] + [""])}
        sizes = [p.size(by) or 0.0 for p in self.drawn]
        vmax = max(sizes, default=0.0) or 1.0

        def diameter(v: float) -> float:
            return max(MIN_DIAMETER, MAX_DIAMETER * math.sqrt(max(v, 0.0) / vmax))

        spots = []
        for i, (p, v) in enumerate(zip(self.drawn, sizes)):
            c = colors[p.sweep]
            fill = QColor(c)
            fill.setAlpha(110)
            spots.append({"pos": (math.log10(p.x(x)), p.test_acc), "size": diameter(v), "data": i,
                          "brush": pg.mkBrush(fill), "pen": pg.mkPen(c, width=1.5), "symbol": "o"})
        self.scatter.setData(spots)
        if len(self.drawn) <= LABEL_LIMIT:
            for p in self.drawn:
                text = pg.TextItem(p.label or p.arch_name, color=self.text_color, anchor=(0, 1))
                text.setPos(math.log10(p.x(x)), p.test_acc)
                item.addItem(text)
                self.labels.append(text)

        accs = [p.test_acc for p in self.drawn]
        floor = (min(accs) - 0.05 * max(0.05, max(accs) - min(accs))) if accs else 0.0
        self.hollow_item.setData([{"pos": (math.log10(p.x(x)), floor), "pen": pg.mkPen(self.text_color, width=1.5)}
                                  for p in self.hollow])
        for p in self.hollow if len(self.hollow) <= LABEL_LIMIT else ():
            text = pg.TextItem(p.arch_name, color=self.text_color, anchor=(0, 1))
            text.setPos(math.log10(p.x(x)), floor)
            item.addItem(text)
            self.labels.append(text)
        fx, fy = self._steps(x)
        self.front_line.setData(fx, fy)

        for s in sweeps:
            sample = pg.ScatterPlotItem(symbol="o", size=11, pen=pg.mkPen(colors[s]),
                                        brush=pg.mkBrush(colors[s]))
            self._legend_entry(sample, f"sweep {s}" if s else "other runs")
        if len(self.front) > 0:
            self._legend_entry(self.front_line, "Pareto front")
        if self.hollow:
            self._legend_entry(self.hollow_item, "measured, not trained")
        for v in _nice_values(vmax if self.drawn else 0):
            self._legend_entry(_SizeSample(diameter(v), self.text_color), f"{_fmt_size(by, v)} {SIZES[by]}")
        self.legend.updateSize()
        item.layout.setColumnFixedWidth(3, self.legend.layout.preferredWidth() if self.legend.items else 0)
        item.setTitle(self.title(), color=self.text_color.name(), size="11pt")
        item.enableAutoRange()

        self.front_list.clear()
        for p in self.front:
            entry = QListWidgetItem(f"{p.title}\n  acc {p.test_acc:.3f} · {self._x_text(p, x)}")
            entry.setData(Qt.ItemDataRole.UserRole, p.path)
            entry.setToolTip(p.path)
            self.front_list.addItem(entry)
        self.front_title.setText(f"Pareto front ({len(self.front)} of {len(self.drawn)} runs)")

    def _legend_entry(self, item, name: str) -> None:
        self.legend.addItem(item, name)
        label = self.legend.items[-1][1]
        label.setMaximumHeight(label.item.boundingRect().height())  # else it fills the row and sits at its top
        self.legend.layout.setAlignment(label, Qt.AlignmentFlag.AlignVCenter)

    def title(self) -> str:
        """Short, so the chart fits a small dock; the bubble size is in the legend."""
        x, dataset = self.x_axis.currentData() or "train", self.dataset.currentData()
        return f"{dataset + ': ' if dataset else ''}test accuracy vs {X_AXES[x].title}"

    def _steps(self, x: str) -> tuple[np.ndarray, np.ndarray]:
        """The front as a staircase bounding the region its runs dominate (linear x: the line takes the log)."""
        pts = [(p.x(x), p.test_acc) for p in self.front]
        xs, ys = [], []
        for i, (px, py) in enumerate(pts):
            xs.append(px)
            ys.append(py)
            if i + 1 < len(pts):
                nx, ny = pts[i + 1]
                if X_AXES[x].higher_is_better:  # accuracy falls as speed rises: drop, then go right
                    xs.append(px)
                    ys.append(ny)
                else:  # accuracy rises with size: go right, then up
                    xs.append(nx)
                    ys.append(py)
        return np.array(xs, dtype=float), np.array(ys, dtype=float)

    @staticmethod
    def _x_text(p: Point, x: str) -> str:
        value = p.x(x) or 0
        if x in ("train", "inference"):
            return f"{value:,.1f} ex/s"
        return si(value, "FLOP") if x == "flops" else f"{si(value)} params"

    def describe(self, p: Point) -> str:
        """The read-out of one run: its name, what it changed, and its numbers."""
        mem = "-" if p.memory_bytes is None else f"{nbytes(p.memory_bytes)} ({p.memory_source})"
        acc = "not trained" if p.test_acc is None else f"{p.test_acc:.3f}"
        speed = " · ".join(f"{label} {v:,.1f} ex/s" for label, v in (
            ("train", p.train_examples_per_sec), ("inference", p.inference_examples_per_sec)) if v)
        change = f" · {p.label}" if p.label else ""
        return (f"{p.name}{change}\n{p.arch_name} on {p.dataset or p.device}: test acc {acc} · {speed}\n"
                f"{p.params:,} parameters · {si(p.flops, 'FLOP')} per example · memory {mem}")

    def _tip(self, x: float, y: float, data: int) -> str:
        return self.describe(self.drawn[data]) if 0 <= data < len(self.drawn) else ""

    # ---- interaction -------------------------------------------------------------------------------

    def _hover(self, _item, points, _event) -> None:
        if len(points):
            self.hovered = self.drawn[points[0].data()]
            self.readout.setText(self.describe(self.hovered))

    def _clicked(self, _item, points, _event) -> None:
        if len(points):
            self.select_point(self.drawn[points[0].data()])

    def select_point(self, p: Point) -> None:
        self.readout.setText(self.describe(p))
        self.runClicked.emit(p.path)

    def export_png(self, path: str | os.PathLike, width: int = 1400) -> None:
        from pyqtgraph.exporters import ImageExporter

        exporter = ImageExporter(self.plot.getPlotItem())
        exporter.parameters()["width"] = width
        exporter.export(str(path))
        if not Path(path).is_file():
            raise OSError(f"the image could not be written to {path}")

    def export_csv(self, path: str | os.PathLike) -> None:
        from ...atomic import atomic_write

        text = to_csv(self.visible_points(), self.front)
        atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))

    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the chart", "efficiency.png", "PNG image (*.png)")
        if path:
            self._export(self.export_png, path)

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the runs' numbers", "efficiency.csv", "CSV (*.csv)")
        if path:
            self._export(self.export_csv, path)

    def _export(self, write, path: str) -> None:
        try:
            write(path)
            self.readout.setText(f"Saved {path}")
        except OSError as exc:
            self.readout.setText(f"Could not save {path}: {exc.strerror or exc}")


def render_png(points: Iterable[Point], path: str | os.PathLike, *, x: str = "train", size: str = "params",
               dataset: str | None = None, width: int = 1200, height: int = 720) -> int:
    """Draw the chart of `points` into a `width` x `height` PNG without a window (offscreen Qt when there is
    no display). Shows `dataset`, else the newest run's dataset. Returns how many runs were drawn as bubbles.
    """
    if QApplication.instance() is None and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication([])
    chart = EfficiencyChart()
    chart.set_points(points)
    chart.x_axis.setCurrentIndex(chart.x_axis.findData(x))
    chart.size_by.setCurrentIndex(chart.size_by.findData(size))
    if dataset is not None:
        chart.dataset.setCurrentIndex(max(0, chart.dataset.findData(dataset)))
    chart.show_measured.setChecked(any(p.measured_only for p in chart.points))
    plot = chart.plot
    plot.setParent(None)  # the plot alone, at the image's size, so the export is 1:1 (no scaled fonts)
    plot.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)  # laid out as if shown, never on a screen
    plot.resize(width, height)
    plot.show()
    app.processEvents()
    chart.redraw()
    app.processEvents()
    chart.export_png(path, width=width)
    drawn = len(chart.drawn)
    plot.close()
    plot.deleteLater()
    chart.deleteLater()
    app.processEvents()
    return drawn
