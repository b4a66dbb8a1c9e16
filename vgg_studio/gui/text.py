"""Text that must fit: names and messages of any length shown in labels of a fixed size.

A name in a file can be a megabyte long; laid out whole (word wrap, rich text) it freezes the window.
Everything the window shows of a user-supplied name goes through `elide`; one-line messages whose
length varies use `ElidedLabel`, which keeps the whole text in its tooltip.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

NAME_CHARS = 60  # a name longer than this is shown with its middle cut out


def elide(text: str, limit: int = NAME_CHARS) -> str:
    """`text` with its middle replaced by '…' so it is at most `limit` characters; one line."""
    text = " ".join(text[: 4 * limit].split()) if len(text) > limit else text.replace("\n", " ")
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head):]


def elide_html(text: str, limit: int = NAME_CHARS) -> str:
    """`elide`, escaped for a rich-text label."""
    return html.escape(elide(text, limit))


class ElidedLabel(QLabel):
    """A one-line label that cuts its text to its width (the full text in the tooltip) instead of growing."""

    def __init__(self, text: str = "", parent: QWidget | None = None, **kwargs) -> None:
        super().__init__(parent, **kwargs)
        self._full = ""
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def full_text(self) -> str:
        return self._full

    def setText(self, text: str) -> None:
        self._full = text
        self.setToolTip(text if len(text) < 10_000 else elide(text, 2000))
        self._elide()

    def sizeHint(self) -> QSize:
        width = self.fontMetrics().horizontalAdvance(elide(self._full, 300)) + 2 * self.margin() + 4
        return QSize(width, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        line = elide(self._full, 2000)
        shown = self.fontMetrics().elidedText(line, Qt.TextElideMode.ElideRight, max(self.width(), 40))
        super().setText(shown)


def count(n: int, noun: str) -> str:
    """'1 epoch', '2 epochs' (nouns that take an s)."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


class OptionalLabel(QLabel):
    """A word-wrapped label that takes no room while it has nothing to say."""

    def __init__(self, parent: QWidget | None = None, **kwargs) -> None:
        super().__init__(parent, **kwargs)
        self.setWordWrap(True)
        self.setVisible(bool(self.text()))

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setVisible(bool(text))

    def clear(self) -> None:
        super().clear()
        self.hide()
