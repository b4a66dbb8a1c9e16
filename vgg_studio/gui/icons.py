"""Icons that say what an action does: the desktop theme's own where it has one, else a vector drawing.

Qt's built-in fallbacks (`QStyle.standardIcon`) have no undo, redo or "insert a row": they gave the toolbar
navigation arrows and the block buttons a folder and a chain link. Each icon here is a few QPainter strokes
on a 16×16 grid, painted at whatever pixel size and device pixel ratio is asked (sharp on HiDPI screens) in
the palette's text and highlight colours at paint time (right in light and dark palettes, greyed when the
action is disabled). On a desktop whose icon theme has the freedesktop name, the theme's icon wins, so the
toolbar matches the rest of the desktop.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QIconEngine, QPainter, QPainterPath, QPalette, QPen, \
    QPixmap, QPolygonF

GRID = 16.0  # the drawings' coordinate system: a 16×16 square
STROKE = 1.6  # line width on that grid


def _pens(painter: QPainter, color: QColor, width: float = STROKE) -> None:
    pen = QPen(color, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)


def _arrow_head(painter: QPainter, color: QColor, tip: tuple[float, float], back: tuple[float, float],
                half_width: float) -> None:
    """A filled triangle pointing at `tip` from `back` (its base's centre)."""
    tx, ty = tip
    bx, by = back
    dx, dy = tx - bx, ty - by
    length = (dx * dx + dy * dy) ** 0.5
    nx, ny = -dy / length * half_width, dx / length * half_width
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawPolygon(QPolygonF([QPointF(tx, ty), QPointF(bx + nx, by + ny), QPointF(bx - nx, by - ny)]))


def _undo(painter: QPainter, text: QColor, _accent: QColor) -> None:
    """A hook-shaped arrow turning back to the left (↶)."""
    _pens(painter, text)
    path = QPainterPath(QPointF(5.5, 5.5))
    path.lineTo(9.5, 5.5)
    path.arcTo(QRectF(6.0, 5.5, 7.5, 7.5), 90, -180)  # round the right-hand side, down to the bottom
    path.lineTo(5.0, 13.0)
    painter.drawPath(path)
    _arrow_head(painter, text, (1.0, 5.5), (6.2, 5.5), 3.4)


def _mirrored(draw: Callable[[QPainter, QColor, QColor], None]) -> Callable[[QPainter, QColor, QColor], None]:
    def mirrored(painter: QPainter, text: QColor, accent: QColor) -> None:
        painter.translate(GRID, 0)
        painter.scale(-1, 1)
        draw(painter, text, accent)
    return mirrored


def _rows(painter: QPainter, color: QColor, tops: tuple[float, ...], left: float = 1.5,
          width: float = 13.0) -> None:
    """Table rows (blocks) as outlined bars, 3.6 units tall."""
    _pens(painter, color, 1.3)
    for top in tops:
        painter.drawRoundedRect(QRectF(left, top, width, 3.6), 1.0, 1.0)


def _plus(painter: QPainter, color: QColor, cx: float, cy: float, r: float = 2.9) -> None:
    _pens(painter, color, 2.0)
    painter.drawLine(QPointF(cx - r, cy), QPointF(cx + r, cy))
    painter.drawLine(QPointF(cx, cy - r), QPointF(cx, cy + r))


def _add_row(painter: QPainter, text: QColor, accent: QColor) -> None:
    """Rows with a plus under them: a block appended after the last."""
    _rows(painter, text, (1.2, 5.8))
    _plus(painter, accent, 8.0, 12.6)


def _insert_row(painter: QPainter, text: QColor, accent: QColor) -> None:
    """A plus above the rows: a block inserted above the current one."""
    _plus(painter, accent, 8.0, 3.4)
    _rows(painter, text, (7.6, 12.0))


def _duplicate_row(painter: QPainter, text: QColor, accent: QColor) -> None:
    """A row and its copy laid over it, offset like a second sheet (the copy goes below the original)."""
    original, copy = QRectF(1.2, 2.6, 10.0, 5.6), QRectF(4.8, 7.4, 10.0, 5.6)
    outside = QPainterPath()
    outside.addRect(QRectF(0, 0, GRID, GRID))
    hole = QPainterPath()
    hole.addRoundedRect(copy.adjusted(-1.2, -1.2, 1.2, 1.2), 1.5, 1.5)
    painter.save()
    painter.setClipPath(outside.subtracted(hole))  # the copy hides what it covers of the original
    _pens(painter, text, 1.3)
    painter.drawRoundedRect(original, 1.0, 1.0)
    painter.restore()
    _pens(painter, accent, 1.5)
    painter.drawRoundedRect(copy, 1.0, 1.0)


def _remove_row(painter: QPainter, text: QColor, accent: QColor) -> None:
    """Rows with a minus under them: the selected block taken out."""
    _rows(painter, text, (1.2, 5.8))
    _pens(painter, accent, 2.0)
    painter.drawLine(QPointF(5.1, 12.6), QPointF(10.9, 12.6))


def _up(painter: QPainter, text: QColor, _accent: QColor) -> None:
    """An arrow up: the block moves one place up."""
    _pens(painter, text, 1.8)
    painter.drawLine(QPointF(8.0, 14.5), QPointF(8.0, 6.0))
    _arrow_head(painter, text, (8.0, 1.2), (8.0, 7.2), 4.6)


def _down(painter: QPainter, text: QColor, accent: QColor) -> None:
    painter.translate(0, GRID)
    painter.scale(1, -1)
    _up(painter, text, accent)


# name: (freedesktop theme name or "" for none, drawing)
_ICONS: dict[str, tuple[str, Callable[[QPainter, QColor, QColor], None]]] = {
    "undo": ("edit-undo", _undo),
    "redo": ("edit-redo", _mirrored(_undo)),
    "add-row": ("", _add_row),  # the freedesktop names have no "append a row" or "insert a row above"
    "insert-row": ("", _insert_row),
    "duplicate-row": ("", _duplicate_row),
    "remove-row": ("", _remove_row),
    "up": ("go-up", _up),
    "down": ("go-down", _down),
}
NAMES = tuple(_ICONS)


class PaintedIconEngine(QIconEngine):
    """Paints one drawing at any size, in the application palette's colours for the icon's mode."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, _state: QIcon.State) -> None:
        palette = QGuiApplication.palette()
        if mode == QIcon.Mode.Disabled:
            text = accent = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
        elif mode == QIcon.Mode.Selected:
            text = accent = palette.color(QPalette.ColorRole.HighlightedText)
        else:
            text = palette.color(QPalette.ColorRole.WindowText)
            accent = palette.color(QPalette.ColorRole.Highlight)
        side = min(rect.width(), rect.height())
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.translate(rect.x() + (rect.width() - side) / 2, rect.y() + (rect.height() - side) / 2)
        painter.scale(side / GRID, side / GRID)
        _ICONS[self._name][1](painter, text, accent)
        painter.restore()

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def scaledPixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float) -> QPixmap:
        """Drawn at size × scale device pixels (not a scaled-up small one), tagged with that ratio."""
        pixels = QSize(max(1, round(size.width() * scale)), max(1, round(size.height() * scale)))
        pixmap = QPixmap(pixels)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        self.paint(painter, QRect(0, 0, pixels.width(), pixels.height()), mode, state)
        painter.end()
        pixmap.setDevicePixelRatio(scale)
        return pixmap

    def actualSize(self, size: QSize, _mode: QIcon.Mode, _state: QIcon.State) -> QSize:
        return size

    def clone(self) -> QIconEngine:
        return PaintedIconEngine(self._name)

    def key(self) -> str:
        return "vgg-studio-painted"

    def iconName(self) -> str:
        return self._name


def icon(name: str) -> QIcon:
    """The icon for `name` (one of NAMES): the theme's if it has one, else the drawing."""
    theme, _draw = _ICONS[name]
    if theme and QIcon.hasThemeIcon(theme):
        return QIcon.fromTheme(theme)
    return QIcon(PaintedIconEngine(name))
