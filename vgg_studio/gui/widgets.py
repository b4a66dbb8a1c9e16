"""Small layout helpers shared by the panels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QPoint, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QFileDialog, QFrame, QMessageBox, QScrollArea, QVBoxLayout, QWidget

MIN_PANEL_HEIGHT = 120  # a scrolling panel's minimum height: a few rows of it stay visible


class VerticalScrollArea(QScrollArea):
    """Scrolls its content up and down, never sideways: as wide as the content needs, as short as allowed."""

    def __init__(self, content: QWidget, parent: QWidget | None = None, **kwargs) -> None:
        super().__init__(parent, **kwargs)
        self.setWidget(content)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Never take the focus: a click on a button inside must leave it where it was (e.g. in the block
        # table, whose Del and Ins shortcuts act only while it has the focus).
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def _extra_width(self) -> int:
        return self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()

    def minimumSizeHint(self) -> QSize:
        content = self.widget().minimumSizeHint()
        return QSize(content.width() + self._extra_width(), min(content.height(), MIN_PANEL_HEIGHT))

    def sizeHint(self) -> QSize:
        content = self.widget().sizeHint()
        return QSize(content.width() + self._extra_width(), content.height())


def scrolling_layout(panel: QWidget) -> QVBoxLayout:
    """Give `panel` a vertical scroll area and return the layout inside it.

    A dock's minimum height is its content's; with the content scrolling, a panel asks for little height,
    so the window fits a laptop screen (1024×640) and the panel grows into whatever room it gets.
    """
    name = panel.objectName() or "panel"
    content = QWidget(objectName=f"{name}Content")
    outer = QVBoxLayout(panel)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(VerticalScrollArea(content, objectName=f"{name}Scroll"))
    return QVBoxLayout(content)


def render_png(widget: QWidget, path: Path, width: int = 1600) -> None:
    """Render `widget` (not a screen grab: it works hidden and offscreen) into a PNG `width` pixels wide.

    Plots are drawn at that scale, so lines and text stay sharp. Raises OSError when the file cannot be written.
    """
    size = widget.size()
    if size.width() < 50 or size.height() < 50:  # never laid out (a tab not yet shown): a sensible size
        widget.resize(900, 360)
        size = widget.size()
    scale = width / size.width()
    image = QImage(width, max(1, round(size.height() * scale)), QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    painter.scale(scale, scale)
    try:
        widget.render(painter, QPoint())
    finally:
        painter.end()
    if not image.save(str(path), "PNG"):
        raise OSError(f"Could not write the image {path}.")


def export_png_dialog(parent: QWidget, default_name: str, export: Callable[[str], None]) -> str | None:
    """Ask where to save a PNG, then `export(path)`; a write failure is a message box. Returns the path written."""
    path, _ = QFileDialog.getSaveFileName(parent, "Export PNG", default_name, "PNG image (*.png)")
    if not path:
        return None
    if not path.lower().endswith(".png"):
        path += ".png"
    try:
        export(path)
    except OSError as exc:
        QMessageBox.warning(parent, "Export failed", f"Could not write {path}: {exc.strerror or exc}")
        return None
    return path
