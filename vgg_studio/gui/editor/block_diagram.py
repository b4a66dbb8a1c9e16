"""The network as the classic VGG picture: one box per convolution, its height proportional to the spatial size
and its thickness to the channels; each max-pool a narrowing step; the fully connected layers as bars.

It follows the document's last valid summary like the charts do (dimmed and labelled while the architecture is
invalid), fades the blocks not selected in the table, and a click on a block selects it in the table
(`blockClicked`). The geometry is computed once per summary and size (`shapes`), so painting, tooltips and
clicks all use the same rectangles.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QToolTip, QVBoxLayout,
                               QWidget)

from ...explain import flops_formula, params_formula, shape_reason
from ...summary import LayerRow, Summary
from ...units import si, thousands
from .. import style
from ..text import elide
from ..widgets import export_png_dialog, render_png
from .charts import CONV_COLORS, LINEAR_COLOR

POOL_COLOR = QColor("#b8b8b8")
INPUT_COLOR = QColor("#e0e0e0")
FADED_ALPHA = 60  # blocks not selected in the table, as the charts fade them
DEPTH = 0.3  # the boxes' oblique side as a share of their height (the classic picture's perspective)
MAX_THICKNESS = 34.0  # px for the widest layer
MIN_THICKNESS = 2.0
MIN_HEIGHT = 4.0
GAP = 3.0  # between the boxes of one block
POOL_WIDTH = 12.0  # the narrowing step between blocks
BAR_WIDTH = 8.0
MARGIN = 8.0

Kind = Literal["input", "conv", "pool", "fc"]


@dataclass(frozen=True)
class Shape:
    """One drawn element: its kind, the layer it shows (None for the input) and where it is on the widget."""

    kind: Kind
    layer: LayerRow | None
    block: int | None  # 0-based block, None for the input and the classifier
    front: QRectF  # the box's front face (a pool: the step's bounding box)
    polygon: QPolygonF  # everything it covers, for clicks and tooltips
    size: int  # spatial height (fc: features)
    channels: int  # channels (fc: features)


def _box(front: QRectF, depth: float) -> QPolygonF:
    """A box's outline: the front face plus its top and right faces going up and to the right by `depth`."""
    return QPolygonF([front.bottomLeft(), front.topLeft(), front.topLeft() + QPointF(depth, -depth),
                      front.topRight() + QPointF(depth, -depth), front.bottomRight() + QPointF(depth, -depth),
                      front.bottomRight()])


def layout(summary: Summary, width: float, height: float, label_height: float) -> list[Shape]:
    """Every shape for `summary` fitted into `width` × `height` pixels, with `label_height` left at the bottom."""
    spec = summary.spec
    items: list[tuple[Kind, LayerRow | None, int, int]] = [("input", None, spec.input_size, spec.in_channels)]
    for layer in summary.layers:
        if layer.type == "Conv2d" and len(layer.output_shape) == 4:
            items.append(("conv", layer, layer.output_shape[2], layer.output_shape[1]))
        elif layer.type in ("MaxPool2d", "AvgPool2d") and len(layer.output_shape) == 4:
            items.append(("pool", layer, layer.output_shape[2], layer.output_shape[1]))
        elif layer.type == "Linear":
            items.append(("fc", layer, layer.output_shape[-1], layer.output_shape[-1]))
    boxes = [i for i in items if i[0] in ("input", "conv")]
    bars = [i for i in items if i[0] == "fc"]
    pools = [i for i in items if i[0] == "pool"]

    drawable = max(height - label_height - 2 * MARGIN, 10.0)
    biggest = max(size for _k, _l, size, _c in boxes)
    scale_h = drawable / (1 + DEPTH) / max(biggest, 1)  # the tallest box and its top face fill the height
    widest = max(c for _k, _l, _s, c in boxes)

    def box_height(size: int) -> float:
        return max(MIN_HEIGHT, size * scale_h)

    # Horizontal room: fixed parts (sides, gaps, pools, bars) first, the rest shared by the channels.
    fixed = 2 * MARGIN + len(pools) * (POOL_WIDTH + 2 * GAP) + len(bars) * (BAR_WIDTH + 3 * GAP)
    fixed += sum(box_height(size) * DEPTH + GAP for kind, _l, size, _c in boxes)
    room = max(width - fixed - len(boxes) * MIN_THICKNESS, 0.0)
    per_channel = min((MAX_THICKNESS - MIN_THICKNESS) / max(widest, 1),
                      room / max(sum(c for _k, _l, _s, c in boxes), 1))
    squeeze = min(1.0, max(width - 2 * MARGIN, 1.0) / max(fixed - 2 * MARGIN + len(boxes) * MIN_THICKNESS, 1.0))

    centre = MARGIN + drawable - box_height(biggest) / 2  # front faces centred here, their tops above
    max_fc = max((size for _k, _l, size, _c in bars), default=1)
    x = MARGIN
    shapes: list[Shape] = []
    previous_height = box_height(spec.input_size)
    previous_depth = 0.0
    for kind, layer, size, channels in items:
        block = layer.block if layer is not None else None
        if kind in ("input", "conv"):
            h = box_height(size)
            t = (MIN_THICKNESS + channels * per_channel) * squeeze
            front = QRectF(x, centre - h / 2, t, h)
            shapes.append(Shape(kind, layer, block, front, _box(front, h * DEPTH), size, channels))
            x += t + GAP * squeeze
            previous_height, previous_depth = h, h * DEPTH
        elif kind == "pool":
            x += previous_depth * squeeze  # past the last box's side face
            h = box_height(size)
            w = POOL_WIDTH * squeeze
            poly = QPolygonF([QPointF(x, centre - previous_height / 2), QPointF(x + w, centre - h / 2),
                              QPointF(x + w, centre + h / 2), QPointF(x, centre + previous_height / 2)])
            shapes.append(Shape(kind, layer, block, poly.boundingRect(), poly, size, channels))
            x += w + 2 * GAP * squeeze
            previous_height, previous_depth = h, 0.0
        else:
            x += previous_depth * squeeze + 2 * GAP * squeeze
            h = max(MIN_HEIGHT, size / max_fc * drawable * 0.8)
            front = QRectF(x, centre - h / 2, BAR_WIDTH * squeeze, h)
            shapes.append(Shape(kind, layer, None, front, QPolygonF(front), size, channels))
            x += BAR_WIDTH * squeeze + GAP * squeeze
            previous_depth = 0.0
    shift = max(0.0, (width - MARGIN - x) / 2)  # centred in spare room
    return [replace(s, front=s.front.translated(shift, 0), polygon=s.polygon.translated(shift, 0)) for s in shapes]


def describe(summary: Summary, shape: Shape) -> str:
    """A shape's tooltip: what it is, its output and the arithmetic behind its numbers."""
    if shape.layer is None:
        spec = summary.spec
        return f"Input: {spec.in_channels} × {spec.input_size} × {spec.input_size} (channels × height × width)"
    layer = shape.layer
    lines = [f"{layer.name} ({layer.type}): output " + " × ".join(str(d) for d in layer.output_shape[1:])]
    for why in (shape_reason, params_formula, flops_formula):
        text = why(summary, layer)
        if text:
            lines.append(text)
    if layer.params and not params_formula(summary, layer):
        lines.append(f"{thousands(layer.params)} parameters")
    if layer.params:
        lines.append(f"{layer.param_share:.1%} of the parameters, {layer.flop_share:.1%} of the FLOPs "
                     f"({si(layer.flops, 'FLOP')})")
    return "\n".join(lines)


class BlockDiagram(QWidget):
    """The drawing itself; `BlockDiagramPanel` adds the caption and Export PNG."""

    blockClicked = Signal(int)  # 0-based block whose box, pool or label was clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="blockDiagram")
        self.setMouseTracking(True)
        self.setMinimumSize(240, 150)
        self.setAccessibleName("Block diagram of the network")
        self.summary: Summary | None = None
        self.stale_name: str | None = None  # set while the document is invalid: the name of what is shown
        self._highlight: set[int] = set()
        self._shapes: list[Shape] = []
        self._laid_out_for: tuple[int, int, int] | None = None

    def sizeHint(self) -> QSize:
        return QSize(640, 240)

    def show_summary(self, summary: Summary | None) -> None:
        self.summary = summary
        self._laid_out_for = None
        self.update()

    def set_stale(self, name: str | None) -> None:
        """Dim the drawing and say it shows the last valid architecture `name` (None: it is current)."""
        self.stale_name = name
        self.update()

    def highlight_blocks(self, blocks) -> None:
        self._highlight = set(blocks)
        self.update()

    def shapes(self) -> list[Shape]:
        """The shapes as drawn at the current size (for tests and accessibility)."""
        if self.summary is None:
            return []
        key = (id(self.summary), self.width(), self.height())
        if key != self._laid_out_for:
            self._shapes = layout(self.summary, self.width(), self.height(), self._label_height())
            self._laid_out_for = key
        return self._shapes

    def shape_at(self, pos: QPointF) -> Shape | None:
        for shape in reversed(self.shapes()):  # the last drawn is on top
            if shape.polygon.containsPoint(pos, Qt.FillRule.OddEvenFill) or shape.front.contains(pos):
                return shape
        return None

    # --- Qt ----------------------------------------------------------------------------------------
    def _label_height(self) -> float:
        return 2 * self.fontMetrics().height() + 6

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        text = palette.color(QPalette.ColorRole.Text)
        if self.summary is None:
            painter.setPen(text)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No valid architecture yet.")
            return
        if self.stale_name is not None:
            painter.setOpacity(0.35)
        outline = QPen(QColor(0, 0, 0, 110), 1)
        for shape in self.shapes():
            color = self._color(shape)
            if self._highlight and shape.block not in self._highlight:
                color.setAlpha(FADED_ALPHA)
            painter.setPen(outline)
            if shape.kind in ("input", "conv"):
                depth = shape.front.height() * DEPTH
                top = QPolygonF([shape.front.topLeft(), shape.front.topLeft() + QPointF(depth, -depth),
                                 shape.front.topRight() + QPointF(depth, -depth), shape.front.topRight()])
                side = QPolygonF([shape.front.topRight(), shape.front.topRight() + QPointF(depth, -depth),
                                  shape.front.bottomRight() + QPointF(depth, -depth), shape.front.bottomRight()])
                painter.setBrush(color.lighter(125))
                painter.drawPolygon(top)
                painter.setBrush(color.darker(120))
                painter.drawPolygon(side)
                painter.setBrush(color)
                painter.drawRect(shape.front)
            else:
                painter.setBrush(color)
                painter.drawPolygon(shape.polygon)
        self._draw_labels(painter, text)
        if self.stale_name is not None:
            painter.setOpacity(1.0)
            painter.setPen(QColor(style.ERROR_BANNER_TEXT))
            painter.drawText(self.rect().adjusted(8, 4, -8, -4),
                             Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight,
                             f"Stale: the last valid architecture ({elide(self.stale_name, 40)})")
        painter.end()

    def _color(self, shape: Shape) -> QColor:
        if shape.kind == "input":
            return QColor(INPUT_COLOR)
        if shape.kind == "pool":
            return QColor(POOL_COLOR)
        if shape.kind == "fc":
            return QColor(LINEAR_COLOR)
        return QColor(CONV_COLORS[(shape.block or 0) % 2])

    def _draw_labels(self, painter: QPainter, color: QColor) -> None:
        """Under each block its output size and channels, under the input and each bar theirs; a label that
        would run into the previous one is left out (the tooltip has it)."""
        metrics = self.fontMetrics()
        y = self.height() - self._label_height() + 2
        groups: list[tuple[float, float, str, str]] = []
        for shape in self.shapes():
            left = shape.front.left()
            right = shape.front.right() + (shape.front.height() * DEPTH if shape.kind == "conv" else 0.0)
            if shape.kind == "input":
                groups.append((left, right, "input", f"{shape.channels}×{shape.size}²"))
            elif shape.kind == "conv":
                if groups and groups[-1][2] == f"block {shape.block + 1}":
                    groups[-1] = (groups[-1][0], right, *groups[-1][2:])
                else:
                    groups.append((left, right, f"block {shape.block + 1}", f"{shape.channels}×{shape.size}²"))
            elif shape.kind == "fc" and shape.layer is not None:
                groups.append((left, right, shape.layer.name, f"{shape.channels:,}"))
        painter.setPen(color)
        end = 0.0
        for left, right, line1, line2 in groups:
            w = max(metrics.horizontalAdvance(line1), metrics.horizontalAdvance(line2))
            x = max((left + right) / 2 - w / 2, end + 6)  # centred under its shapes, or pushed right a little
            if x > right + 6:
                continue
            painter.drawText(QPointF(x, y + metrics.ascent()), line1)
            painter.drawText(QPointF(x, y + metrics.height() + metrics.ascent()), line2)
            end = x + w

    def mousePressEvent(self, event: QMouseEvent) -> None:
        shape = self.shape_at(event.position())
        if shape is not None and shape.block is not None and event.button() == Qt.MouseButton.LeftButton:
            self.blockClicked.emit(shape.block)
            event.accept()
            return
        super().mousePressEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and self.summary is not None:
            shape = self.shape_at(QPointF(event.pos()))
            if shape is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), describe(self.summary, shape), self)
            return True
        return super().event(event)


class BlockDiagramPanel(QWidget):
    """The diagram following the document, with a one-line key and Export PNG."""

    exported = Signal(str)

    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="blockDiagramPanel")
        self._document = document
        self.diagram = BlockDiagram()
        self.key = QLabel("Height ∝ spatial size · thickness ∝ channels · grey steps: 2×2 max-pools · "
                          "orange bars: fully connected layers (height ∝ width). Click a block to select it.",
                          objectName="blockDiagramKey", wordWrap=True)
        self.key.setStyleSheet(style.MUTED_STYLE)
        self.export_button = QPushButton("Export PNG…", objectName="exportDiagramButton")
        self.export_button.clicked.connect(self._ask_and_export)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.key, 1)
        top.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.diagram, 1)
        document.summaryChanged.connect(self.diagram.show_summary)
        document.problemsChanged.connect(lambda _problems: self._show_validity())
        self.diagram.show_summary(document.summary)
        self._show_validity()

    def _show_validity(self) -> None:
        summary = self._document.summary
        stale = not self._document.is_valid() and summary is not None
        self.diagram.set_stale(summary.spec.name if stale else None)

    def export_png(self, path: str | os.PathLike[str], width: int = 1600) -> None:
        """The diagram as an image `width` pixels wide; raises OSError."""
        render_png(self.diagram, Path(path), width)

    def _ask_and_export(self) -> None:
        path = export_png_dialog(self, "network.png", self.export_png)
        if path is not None:
            self.exported.emit(path)


__all__ = ["BlockDiagram", "BlockDiagramPanel", "Shape", "describe", "layout"]
