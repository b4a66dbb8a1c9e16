"""Bar charts of where the parameters and the compute go, one bar per weight layer in forward order.

Made to show the chapter's point at a glance: the first fully connected layer holds most parameters, the
early convolutions do most of the FLOPs. Bars are coloured by block; selecting blocks in the table
fades the other bars.
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QHBoxLayout, QToolTip, QWidget

from ...summary import LayerRow, Summary
from ...units import si, thousands

Quantity = Literal["params", "flops"]
CONV_COLORS = (QColor("#3a6ea5"), QColor("#76a5d8"))  # alternate per block so blocks read as groups
LINEAR_COLOR = QColor("#d9822b")
TITLES = {"params": "Parameters per layer", "flops": "FLOPs per layer"}
WEIGHT_LAYERS = ("Conv2d", "Linear")


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
        self.layers: list[LayerRow] = []
        self._highlight: set[int] = set()

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
        item.getAxis("bottom").setLabel("layer  (block.conv, fc)", color=text.name())
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.72, brushes=[], pen=pg.mkPen(None))
        item.addItem(self.bars)
        self.peak_label = pg.TextItem(color=text, anchor=(0.5, 1.0))
        self.peak_label.setFont(font)
        item.addItem(self.peak_label)
        self.scene().sigMouseMoved.connect(self._hover)

    def _value(self, layer: LayerRow) -> int:
        return layer.params if self.quantity == "params" else layer.flops

    def _share(self, layer: LayerRow) -> float:
        return layer.param_share if self.quantity == "params" else layer.flop_share

    def show_summary(self, summary: Summary | None) -> None:
        # Weight layers only: BatchNorm's few parameters would add a near-empty bar per conv.
        self.layers = ([r for r in summary.layers if r.type in WEIGHT_LAYERS and self._value(r) > 0]
                       if summary is not None else [])
        shares = np.array([self._share(r) * 100 for r in self.layers], dtype=float)
        xs = np.arange(len(self.layers), dtype=float)
        self.bars.setOpts(x=xs, height=shares, brushes=self._brushes())
        axis = self.getPlotItem().getAxis("bottom")
        axis.setTicks([[(float(i), short_label(r)) for i, r in enumerate(self.layers)]])
        item = self.getPlotItem()
        top = float(shares.max()) if len(shares) else 1.0
        item.setXRange(-0.6, max(len(self.layers) - 0.4, 0.6), padding=0)
        item.setYRange(0, top * 1.18 or 1.0, padding=0)
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

    def _set_title(self, summary: Summary | None) -> None:
        """Title doubles as legend: blue bars are convolutions, orange ones fully connected layers."""
        html = f"<span style='font-weight:bold'>{TITLES[self.quantity]}</span>"
        if summary is not None and self.layers:
            conv = sum(self._share(r) for r in self.layers if r.block is not None) * 100
            fc = sum(self._share(r) for r in self.layers if r.block is None) * 100
            html += (f" &nbsp;<span style='color:{CONV_COLORS[0].name()}'>■</span> convs {conv:.1f}%"
                     f" &nbsp;<span style='color:{LINEAR_COLOR.name()}'>■</span> fully connected {fc:.1f}%")
        self.getPlotItem().setTitle(html, color=self._text_color.name(), size="9pt")
        self.title_text = re.sub(r"<[^>]+>|&nbsp;", "", html).replace("■", "").strip()

    def highlight_blocks(self, blocks) -> None:
        """Fade the bars of every other block (no selection: all bars at full colour)."""
        self._highlight = set(blocks)
        if self.layers:
            self.bars.setOpts(brushes=self._brushes())

    def bar_heights(self) -> list[float]:
        """Plotted heights in percent, in bar order (for tests and accessibility)."""
        heights = self.bars.opts.get("height")
        return [] if heights is None else [float(h) for h in heights]

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
            value = self._value(r)
            QToolTip.showText(self.mapToGlobal(self.mapFromScene(pos)),
                              f"{r.name} ({r.type})\n{thousands(value)} {unit} ({si(value)}), "
                              f"{self._share(r) * 100:.2f}% of the network", self)
        else:
            QToolTip.hideText()


class ChartsPanel(QWidget):
    """The two charts side by side, following the document's last valid summary."""

    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="chartsPanel")
        self.param_chart = ShareChart("params")
        self.flop_chart = ShareChart("flops")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.param_chart)
        layout.addWidget(self.flop_chart)
        document.summaryChanged.connect(self.show_summary)
        self.show_summary(document.summary)

    def show_summary(self, summary: Summary | None) -> None:
        self.param_chart.show_summary(summary)
        self.flop_chart.show_summary(summary)

    def highlight_blocks(self, blocks) -> None:
        self.param_chart.highlight_blocks(blocks)
        self.flop_chart.highlight_blocks(blocks)


__all__ = ["ChartsPanel", "ShareChart", "short_label"]
