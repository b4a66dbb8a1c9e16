"""Bar charts of where the parameters and the compute go, one bar per weight layer in forward order.

Made to show the chapter's point at a glance: the first fully connected layer holds most parameters, the
early convolutions do most of the FLOPs. Bars are coloured by block; selecting blocks in the table
fades the other bars. With a baseline pinned (`set_comparison`), every place either network has gets a
slot, the baseline is drawn as outlined ghost bars a little wider than the bars in front of them, and
both are scaled to the baseline's total, so an unchanged layer's bar fills its ghost exactly.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import (QApplication, QCheckBox, QHBoxLayout, QLabel, QPushButton, QToolTip, QVBoxLayout,
                               QWidget)

from ...compare import Comparison
from ...summary import LayerRow, Summary
from ...units import si, signed, thousands
from .. import style
from ..widgets import export_png_dialog, render_png

Quantity = Literal["params", "flops"]
CONV_COLORS = (QColor("#3a6ea5"), QColor("#76a5d8"))  # alternate per block so blocks read as groups
LINEAR_COLOR = QColor("#d9822b")
TITLES = {"params": "Parameters per layer", "flops": "FLOPs per layer"}
WEIGHT_LAYERS = ("Conv2d", "Linear")
SHORT_TITLES = {"params": "Parameters", "flops": "FLOPs"}  # the chart's title, which also holds its legend


def _percent_label(value: float) -> str:
    return f"{value:g}%" if value >= 0.01 else f"{value:.0e}%"


def short_label(layer: LayerRow) -> str:
    """'block2.conv1' -> '2.1', 'fc1' -> 'fc1': short enough for 20 bars side by side."""
    if layer.block is not None:
        return f"{layer.block + 1}.{layer.name.rsplit('conv', 1)[-1]}"
    return layer.name


class ShareChart(pg.PlotWidget):
    """One quantity's share per layer (only layers that have some), from the last valid summary."""

    def __init__(self, quantity: Quantity, parent: QWidget | None = None) -> None:
        palette = QApplication.palette()
        super().__init__(parent=parent, background=palette.color(QPalette.ColorRole.Base))
        # Not `self.metric`: that name would shadow QWidget.metric(), the virtual Qt calls for the pixel
        # ratio, and PySide6 then crashes (segfault) in grab() and exporters while reporting the bad override.
        self.quantity = quantity
        self.setObjectName("paramChart" if quantity == "params" else "flopChart")
        self.setAccessibleName(TITLES[quantity])
        text = palette.color(QPalette.ColorRole.Text)
        self._text_color = text
        self.title_text = ""
        self.layers: list[LayerRow] = []  # one per bar: this network's layer, or the baseline's if removed
        self.baseline_layers: list[LayerRow | None] = []  # the baseline's layer at each bar's place
        self.comparison: Comparison | None = None
        self.baseline_label = ""
        self._summary: Summary | None = None
        self._highlight: set[int] = set()
        self._shares = np.zeros(0)
        self.log_scale = False
        self.stale = False

        item = self.getPlotItem()
        self._set_title(None)
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=False, y=False)
        item.showGrid(y=True, alpha=0.25)
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1.5))
        for name in ("bottom", "left"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
            axis.setStyle(tickFont=font, tickTextOffset=3)
        item.getAxis("left").setLabel("%", color=text.name())
        item.getAxis("left").setWidth(34)
        # The grid is the left axis's ticks drawn across the plot. Its third level is some 40 lines at alpha
        # 4/255 (invisible) that cost more to paint than the bars: two levels draw the same picture.
        item.getAxis("left").setStyle(maxTickLevel=1)
        item.getAxis("bottom").setLabel("layer  (block.conv, fc)", color=text.name())
        self.ghosts = pg.BarGraphItem(x=[], height=[], width=0.9, brush=pg.mkBrush(style.GHOST_FILL),
                                      pen=pg.mkPen(style.GHOST, width=1.5, style=Qt.PenStyle.DashLine))
        self.ghosts.setZValue(-1)  # behind the bars
        item.addItem(self.ghosts)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.72, brushes=[], pen=pg.mkPen(None))
        item.addItem(self.bars)
        self.peak_label = pg.TextItem(color=text, anchor=(0.5, 1.0))
        self.peak_label.setFont(font)
        item.addItem(self.peak_label)
        self.scene().sigMouseMoved.connect(self._hover)

    def _value(self, layer: LayerRow | None) -> int:
        if layer is None:
            return 0
        return layer.params if self.quantity == "params" else layer.flops

    def _share(self, layer: LayerRow) -> float:
        return layer.param_share if self.quantity == "params" else layer.flop_share

    def _bar(self, layer: LayerRow | None) -> bool:
        """Whether `layer` gets a bar: a conv or linear layer with some of this quantity."""
        return layer is not None and layer.type in WEIGHT_LAYERS and self._value(layer) > 0

    def set_comparison(self, comparison: Comparison | None, label: str = "") -> None:
        """Draw `comparison.a` (the pinned baseline, called `label`) as ghost bars; None removes them.

        While a comparison is set, its owner must call this again after every new summary (the baseline
        does, on `changed`): a summary that arrives first is only remembered, not drawn twice.
        """
        self.comparison, self.baseline_label = comparison, label
        self.show_summary(self._summary)

    def show_summary(self, summary: Summary | None) -> None:
        self._summary = summary
        if self.comparison is not None and self.comparison.b is not summary:
            return  # the comparison with this summary follows at once (see set_comparison)
        comparison = self.comparison if self.comparison is not None and self.comparison.b is summary else None
        # Weight layers only: BatchNorm's few parameters would add a near-empty bar per conv.
        if comparison is None:
            self.layers = ([r for r in summary.layers if self._bar(r)] if summary is not None else [])
            self.baseline_layers = [None] * len(self.layers)
            shares = np.array([self._share(r) * 100 for r in self.layers], dtype=float)
            ghosts = np.zeros(0)
        else:
            slots = [d for d in comparison.layers if self._bar(d.b) or self._bar(d.a)]
            base_total = sum(self._value(r) for r in comparison.a.layers) or 1
            self.layers = [d.b or d.a for d in slots]
            self.baseline_layers = [d.a for d in slots]
            shares = np.array([self._value(d.b) / base_total * 100 for d in slots], dtype=float)
            ghosts = np.array([self._value(d.a) / base_total * 100 for d in slots], dtype=float)
        self._shares = shares
        xs = np.arange(len(self.layers), dtype=float)
        has_ghost = ghosts > 0
        axis = self.getPlotItem().getAxis("bottom")
        axis.setTicks([[(float(i), short_label(r)) for i, r in enumerate(self.layers)]])
        item = self.getPlotItem()
        left = item.getAxis("left")
        positive = np.concatenate([shares[shares > 0], ghosts[has_ghost]])
        if self.log_scale and len(positive):
            # Bars from the lowest decade up to log10(share): the small convolutions of d2l-small stay visible.
            floor = float(np.floor(np.log10(positive.min())))

            def above_floor(values: np.ndarray) -> np.ndarray:
                return np.where(values > 0, np.log10(np.maximum(values, 1e-300)) - floor, 0.0)

            self.bars.setOpts(x=xs, y0=floor, height=above_floor(shares), brushes=self._brushes())
            self.ghosts.setOpts(x=xs[has_ghost], y0=floor, height=above_floor(ghosts[has_ghost]))
            top_log = float(np.ceil(np.log10(positive.max()) + 0.05))
            left.setTicks([[(float(d), _percent_label(10.0**d)) for d in range(int(floor), int(top_log) + 1)]])
            item.setYRange(floor, top_log + 0.25, padding=0)
            top = float(np.log10(positive.max()))
        else:
            self.bars.setOpts(x=xs, y0=0, height=shares, brushes=self._brushes())
            self.ghosts.setOpts(x=xs[has_ghost] if len(ghosts) else [], y0=0,
                                height=ghosts[has_ghost] if len(ghosts) else [])
            left.setTicks(None)
            top = float(positive.max()) if len(positive) else 1.0
            item.setYRange(0, top * 1.18 or 1.0, padding=0)
        label = f"% of {self.baseline_label}" if comparison else "%"
        left.setLabel(label + (" (log scale)" if self.log_scale else ""), color=self._text_color.name())
        item.setXRange(-0.6, max(len(self.layers) - 0.4, 0.6), padding=0)
        self._set_title(summary)
        ordered = np.sort(shares)[::-1]
        # Name the peak only when one bar clearly stands out (VGG's middle convs often tie).
        if len(shares) and (len(shares) == 1 or ordered[0] - ordered[1] > 0.5):
            peak = int(shares.argmax())
            layer = self.layers[peak]
            self.peak_label.setText(f"{layer.name}: {shares[peak]:.1f}%")
            # Keep the label inside the plot when the peak bar sits at either end.
            fraction = peak / max(len(self.layers) - 1, 1)
            self.peak_label.setAnchor((0.0 if fraction < 0.2 else 1.0 if fraction > 0.8 else 0.5, 1.0))
            self.peak_label.setPos(peak - 0.36 if fraction < 0.2 else peak + 0.36 if fraction > 0.8 else peak, top)
            self.peak_label.show()
        else:
            self.peak_label.hide()
        # pyqtgraph applies new ranges and label positions when it is about to paint, and changing them
        # there schedules a second paint of the whole chart: settle them now, so one edit paints once.
        self.scene().prepareForPaint()

    def _set_title(self, summary: Summary | None) -> None:
        """Title doubles as legend: blue bars are convolutions, orange ones fully connected layers."""
        html = f"<span style='font-weight:bold'>{SHORT_TITLES[self.quantity]}</span>"
        if summary is not None and self.layers:
            conv = sum(self._share(r) for r in summary.layers if r.block is not None) * 100
            fc = sum(self._share(r) for r in summary.layers if r.block is None) * 100
            html += (f" &nbsp;<span style='color:{CONV_COLORS[0].name()}'>■</span> convs {conv:.1f}%"
                     f" &nbsp;<span style='color:{LINEAR_COLOR.name()}'>■</span> FC {fc:.1f}%")
        self.getPlotItem().setTitle(html, color=self._text_color.name(), size="9pt")
        self.title_text = re.sub(r"<[^>]+>|&nbsp;", "", html).replace("■", "").strip()

    def highlight_blocks(self, blocks) -> None:
        """Fade the bars of every other block (no selection: all bars at full colour)."""
        self._highlight = set(blocks)
        if self.layers:
            self.bars.setOpts(brushes=self._brushes())

    def bar_heights(self) -> list[float]:
        """The bars' shares in percent, in bar order, on either scale (for tests and accessibility)."""
        return [float(h) for h in self._shares]

    def set_log_scale(self, on: bool) -> None:
        self.log_scale = on
        self.show_summary(self._summary)

    def set_stale(self, stale: bool) -> None:
        """Dim the bars: they are the last valid architecture's while the current one is invalid."""
        self.stale = stale
        for item in (self.bars, self.ghosts, self.peak_label):
            item.setOpacity(0.3 if stale else 1.0)

    def ghost_bars(self) -> list[tuple[float, float]]:
        """(x, height) of every ghost bar drawn for the baseline (for tests and accessibility)."""
        xs, heights = self.ghosts.opts.get("x"), self.ghosts.opts.get("height")
        return [] if xs is None or heights is None else [(float(x), float(h)) for x, h in zip(xs, heights)]

    def _brushes(self) -> list:
        brushes = []
        for r in self.layers:
            color = QColor(LINEAR_COLOR if r.block is None else CONV_COLORS[r.block % 2])
            if self._highlight and r.block not in self._highlight:
                color.setAlpha(70)
            brushes.append(pg.mkBrush(color))
        return brushes

    def _hover(self, pos: QPointF) -> None:
        if not self.layers or not self.sceneBoundingRect().contains(pos):
            return
        point = self.getPlotItem().vb.mapSceneToView(pos)
        i = int(round(point.x()))
        if 0 <= i < len(self.layers) and abs(point.x() - i) <= 0.4:
            r = self.layers[i]
            unit = "parameters" if self.quantity == "params" else "FLOPs"
            base = self.baseline_layers[i]
            removed = base is r
            value = 0 if removed else self._value(r)
            text = f"{r.name} ({r.type})\n{thousands(value)} {unit} ({si(value)})"
            if not removed:
                text += f", {self._share(r) * 100:.2f}% of the network"
            if self.comparison is not None and self.comparison.b is self._summary:
                text += (f"\n{self.baseline_label}: {thousands(self._value(base))} {unit} "
                         f"({signed(value - self._value(base))})" if base is not None
                         else f"\nnot in {self.baseline_label} (added)")
            QToolTip.showText(self.mapToGlobal(self.mapFromScene(pos)), text, self)
        else:
            QToolTip.hideText()


class ChartsPanel(QWidget):
    """The two charts side by side, following the document's last valid summary; log scale and export."""

    exported = Signal(str)  # the path written, for the status bar

    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="chartsPanel")
        self.param_chart = ShareChart("params")
        self.flop_chart = ShareChart("flops")
        self.log_check = QCheckBox("Log scale", objectName="logScaleCheck")
        self.log_check.setToolTip("Shares on a logarithmic axis: small layers (the convolutions' parameters, "
                                  "the classifier's FLOPs) stay visible next to the big ones.")
        self.log_check.toggled.connect(self.set_log_scale)
        self.export_button = QPushButton("Export PNG…", objectName="exportChartsButton")
        self.export_button.clicked.connect(self._ask_and_export)
        self.stale_label = QLabel("Stale: the shares of the last valid architecture", objectName="chartsStale")
        self.stale_label.setStyleSheet(f"color: {style.ERROR_BANNER_TEXT};")
        self.stale_label.hide()
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.log_check)
        top.addWidget(self.stale_label)
        top.addStretch(1)
        top.addWidget(self.export_button)
        self.canvas = QWidget(objectName="chartsCanvas")  # what Export PNG renders
        charts = QHBoxLayout(self.canvas)
        charts.setContentsMargins(0, 0, 0, 0)
        for chart in (self.param_chart, self.flop_chart):
            chart.setMinimumHeight(150)
            chart.setMinimumWidth(160)
            charts.addWidget(chart)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.canvas, 1)
        document.summaryChanged.connect(self.show_summary)
        document.problemsChanged.connect(lambda _problems: self._show_validity(document))
        self.show_summary(document.summary)
        self._show_validity(document)

    def _show_validity(self, document) -> None:
        stale = not document.is_valid() and document.summary is not None
        self.stale_label.setVisible(stale)
        self.param_chart.set_stale(stale)
        self.flop_chart.set_stale(stale)

    def set_log_scale(self, on: bool) -> None:
        self.param_chart.set_log_scale(on)
        self.flop_chart.set_log_scale(on)

    def export_png(self, path: str | os.PathLike[str], width: int = 1600) -> None:
        """Both charts as one image `width` pixels wide, rendered at that scale; raises OSError."""
        render_png(self.canvas, Path(path), width)

    def _ask_and_export(self) -> None:
        path = export_png_dialog(self, "charts.png", self.export_png)
        if path is not None:
            self.exported.emit(path)

    def show_summary(self, summary: Summary | None) -> None:
        self.param_chart.show_summary(summary)
        self.flop_chart.show_summary(summary)

    def set_comparison(self, comparison: Comparison | None, label: str = "") -> None:
        self.param_chart.set_comparison(comparison, label)
        self.flop_chart.set_comparison(comparison, label)

    def highlight_blocks(self, blocks) -> None:
        self.param_chart.highlight_blocks(blocks)
        self.flop_chart.highlight_blocks(blocks)


__all__ = ["ChartsPanel", "ShareChart", "short_label"]
